"""Print where a recipe run's wall time went, stage by stage, from its log.

    ./run.sh 2>&1 | tee run.log
    python -m espnet_ext.bin.stage_times run.log
"""

import argparse
import sys
from pathlib import Path

from espnet_ext.bin import run_main
from espnet_ext.errors import XlingError


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("log", type=Path, help="the output of one ./run.sh run")
    args = parser.parse_args()

    from espnet_ext.recipe.timing import format_stage_times, stage_times

    try:
        text = args.log.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise XlingError(f"{args.log}: cannot read the recipe log ({e.strerror})") from e
    sys.stdout.write(format_stage_times(stage_times(text.splitlines(), str(args.log))))


if __name__ == "__main__":
    run_main(main)
