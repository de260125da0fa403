"""Check xling.sh's config files and upstreams before any stage runs, in one Python start: a
typo in a config fails in a second, not after data preparation or pre-training.

    python -m espnet_ext.bin.check_options --asr_config conf/asr/train_asr_fast.yaml \\
        --inference_config conf/decode/decode_ctc_greedy.yaml --upstream fbank

Every config file must exist and hold a YAML mapping; each upstream is checked as by
``espnet_ext.bin.check_upstreams``. Every bad entry is reported (one line each), then exit 2.
Imports stay light (yaml; s3prl only for an upstream that needs it).
"""

import argparse
import logging
from pathlib import Path
from typing import Dict, Sequence

from espnet_ext.bin import run_main
from espnet_ext.errors import ConfigError, XlingError
from espnet_ext.fileio import read_yaml

logger = logging.getLogger("espnet_ext")

# option of xling.sh -> what its file is, for messages
KINDS = {
    "asr_config": "ASR config",
    "inference_config": "inference config",
    "pretrain_config": "pre-training config",
    "degrade_config": "degradation config",
}


def check_yaml_mapping(path: str, kind: str, option: str) -> dict:
    """The mapping in YAML file ``path``.

    Raises:
        ConfigError: one line naming ``--option``, the file and what is wrong with it.
    """
    where = f"--{option} {path}"
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{where}: {kind} not found" + (" (a directory)" if p.is_dir() else "")
                          + "; give the path of a YAML file (see conf/)")
    raw = read_yaml(p, where)
    if not isinstance(raw, dict):
        got = "an empty file" if raw is None else f"a {type(raw).__name__}"
        raise ConfigError(f"{where}: expected a YAML mapping of option names ({kind}), got {got}")
    return raw


def check_options(configs: Dict[str, Sequence[str]], upstreams: Sequence[str] = ()) -> None:
    """Check config files (``{option: paths}``, options of :data:`KINDS`) and upstreams.

    Raises:
        ConfigError: after every bad entry is logged (one line each).
    """
    bad = 0
    for option, kind in KINDS.items():
        for path in configs.get(option, ()):
            try:
                check_yaml_mapping(path, kind, option)
            except ConfigError as e:
                logger.error("%s", e)
                bad += 1
    if upstreams:
        from espnet_ext.bin.check_upstreams import check_upstreams

        try:
            check_upstreams(list(upstreams))
        except XlingError as e:  # each bad upstream is logged already; this counts them
            logger.error("%s", e)
            bad += 1
    if bad:
        raise ConfigError("bad options (above): fix them; no stage has run")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    for option, kind in KINDS.items():
        parser.add_argument(f"--{option}", action="append", default=[], help=f"a {kind} (repeat)")
    parser.add_argument("--upstream", action="append", default=[],
                        help="a conf/upstream name, YAML path or s3prl hub name (repeat)")
    args = parser.parse_args()
    check_options({option: getattr(args, option) for option in KINDS}, args.upstream)


if __name__ == "__main__":
    run_main(main)
