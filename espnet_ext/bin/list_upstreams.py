"""List the upstreams this machine can use now: configs, our exported upstreams, s3prl hub names.

    python -m espnet_ext.bin.list_upstreams                   # configs, exp/upstreams, hub names
    python -m espnet_ext.bin.list_upstreams --exp_dir egs2/offline_mini/xling1/exp --no_hub

Configs (``conf/upstream/*.yaml``): the entry and whether its checkpoint is here. Exported
upstreams (``<exp_dir>/upstreams/*.yaml``, stage 4): usable by their YAML path. Hub names (any of
them works as ``--upstreams NAME`` or ``upstream: NAME``): whether its checkpoint is in s3prl's
download cache (usable offline now) and the entry that reads a local copy (``path:``).
"""

import argparse
import sys
from pathlib import Path

from espnet_ext.bin import run_main
from espnet_ext.errors import XlingError


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conf_dir", type=Path, default=None,
                        help="upstream configs (default: the repository's conf/upstream)")
    parser.add_argument("--exp_dir", type=Path, default=Path("exp"),
                        help="a recipe's exp dir: its exported upstreams are listed")
    parser.add_argument("--no_hub", action="store_true", help="skip the s3prl hub names")
    args = parser.parse_args()

    from espnet_ext.upstream.config import DEFAULT_CONF_DIR, FBANK, load_upstream_config

    conf_dir = args.conf_dir or DEFAULT_CONF_DIR
    out = sys.stdout
    out.write(f"# configs ({conf_dir})\n")
    for f in sorted(conf_dir.glob("*.yaml")):
        try:
            cfg = load_upstream_config(f, require_checkpoint=False)
        except XlingError as e:  # its first clause says what is missing
            out.write(f"{f.stem:24s} unusable: {str(e).split('; ')[0]}\n")
            continue
        if cfg.upstream == FBANK:
            where = "no checkpoint"
        elif cfg.path is None:
            where = "s3prl download cache"
        else:
            where = f"{cfg.path} ({'present' if Path(cfg.path).is_file() else 'missing'})"
        out.write(f"{f.stem:24s} {cfg.upstream:20s} {where}\n")

    exported = sorted((args.exp_dir / "upstreams").glob("*.yaml"))
    out.write(f"\n# exported by this recipe ({args.exp_dir / 'upstreams'}): --upstreams <path>\n")
    for f in exported:
        try:
            cfg = load_upstream_config(f, require_checkpoint=False)
            state = "present" if cfg.path and Path(cfg.path).is_file() else "checkpoint missing"
            out.write(f"{str(f):60s} {cfg.upstream:16s} {state}\n")
        except XlingError as e:
            out.write(f"{str(f):60s} unusable: {e}\n")
    if not exported:
        out.write("(none)\n")

    if args.no_hub:
        return
    from espnet_ext.upstream.download import (
        cache_dir,
        checkpoint_source,
        hub_names,
        is_offline,
        local_counterpart,
    )

    mode = "offline: cached only" if is_offline() else "online: downloaded on first use"
    out.write(f"\n# s3prl hub names (cache {cache_dir()}; {mode})\n")
    for name in hub_names():
        try:
            source = checkpoint_source(name)
            state = ("no checkpoint" if source is None else
                     "cached" if source[0].is_file() else "not cached")
        except XlingError:
            state = "needs a local checkpoint"
        out.write(f"{name:48s} {state:12s} local: {local_counterpart(name) or '-'}\n")


if __name__ == "__main__":
    run_main(main)
