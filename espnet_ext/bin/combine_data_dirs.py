"""Pool data dirs (e.g. real + synthetic Dutch) so that every prefix mixes them in proportion.

    python -m espnet_ext.bin.combine_data_dirs data/train_nl data/pretrain_synth_nl data/pretrain_nl
"""

import argparse

from espnet_ext.bin import run_main
from espnet_ext.data.subset import combine_data_dirs


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dirs", nargs="+", help="source data dirs, then the data dir to write")
    parser.add_argument("--force", action="store_true")
    return parser


def main() -> None:
    args = get_parser().parse_args()
    if len(args.dirs) < 2:
        get_parser().error("give at least one source and the output dir")
    combine_data_dirs(args.dirs[:-1], args.dirs[-1], force=args.force)


if __name__ == "__main__":
    run_main(main)
