"""Check upstream configs before any stage runs: a bad ``--upstreams`` entry fails in a second,
not after pre-training.

    python -m espnet_ext.bin.check_upstreams fbank wav2vec2_base conf/upstream/my.yaml

Each name must be a config under ``conf/upstream`` (or a YAML path) that reads and checks (known
keys, types, a local checkpoint that exists). Every bad entry is reported, then exit 2.
"""

import argparse
import logging

from espnet_ext.bin import run_main
from espnet_ext.errors import ConfigError, XlingError
from espnet_ext.upstream.config import load_upstream_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("upstreams", nargs="*", help="conf/upstream names or YAML paths")
    args = parser.parse_args()
    bad = []
    for name in args.upstreams:
        try:
            load_upstream_config(name)
        except XlingError as e:
            logging.getLogger("espnet_ext").error("--upstreams '%s': %s", name, e)
            bad.append(name)
    if bad:
        raise ConfigError(f"{len(bad)} of the --upstreams cannot be used ({' '.join(bad)}); "
                          "fix or drop them (errors above)")


if __name__ == "__main__":
    run_main(main)
