"""Check upstream configs before any stage runs: a bad ``--upstreams`` entry fails in a second,
not after pre-training.

    python -m espnet_ext.bin.check_upstreams fbank wav2vec2_base conf/upstream/my.yaml

Each name must be a config under ``conf/upstream``, a YAML path or an s3prl hub name, that reads
and checks (known keys, types, a local checkpoint that exists; for a hub name offline, its
checkpoint in s3prl's download cache). Every bad entry is reported, then exit 2.
"""

import argparse
import logging
from typing import List

from espnet_ext.bin import run_main
from espnet_ext.errors import ConfigError, XlingError
from espnet_ext.upstream.config import FBANK, UpstreamConfig, load_upstream_config


def check_hub_checkpoint(cfg: UpstreamConfig) -> None:
    """Offline, a hub name's checkpoint must already be in s3prl's download cache."""
    if cfg.path is not None or cfg.upstream == FBANK:
        return
    from espnet_ext.upstream.download import (
        OFFLINE_ENVS,
        checkpoint_source,
        is_offline,
        missing_message,
    )

    source = checkpoint_source(cfg.upstream)
    if source is not None and is_offline() and not source[0].is_file():
        raise ConfigError(missing_message(cfg.upstream, source[0],
                                          f"downloads are off ({'/'.join(OFFLINE_ENVS)} set)"))


def check_upstreams(names: List[str]) -> None:
    """Load and check every upstream of ``names``, logging each bad one.

    Raises:
        ConfigError: some could not be used (they are named).
    """
    bad = []
    for name in names:
        try:
            check_hub_checkpoint(load_upstream_config(name))
        except XlingError as e:
            logging.getLogger("espnet_ext").error("--upstreams '%s': %s", name, e)
            bad.append(name)
    if bad:
        raise ConfigError(f"{len(bad)} of the --upstreams cannot be used ({' '.join(bad)}); "
                          "fix or drop them (errors above)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("upstreams", nargs="*", help="conf/upstream names or YAML paths")
    check_upstreams(parser.parse_args().upstreams)


if __name__ == "__main__":
    run_main(main)
