"""Export a finished pre-training run as an s3prl upstream checkpoint and a conf/upstream YAML.

    python -m espnet_ext.bin.export_upstream --exp_dir exp/pretrain_apc_tiny_1h \\
        --out_ckpt exp/upstreams/xling_apc_tiny_1h.pt --out_yaml exp/upstreams/xling_apc_tiny_1h.yaml \\
        --info pretrain_hours=1 --info data=data/pretrain_nl_1h

The random-init control (the config's model before its first update, with the run's seed):

    python -m espnet_ext.bin.export_upstream --random_init conf/pretrain/mpc_tiny.yaml --seed 1 \
        --exp_dir exp/pretrain_mpc_tiny_0h --out_ckpt exp/upstreams/xling_mpc_tiny_0h.pt ...
"""

import argparse
from pathlib import Path

from espnet_ext.bin import run_main
from espnet_ext.errors import ConfigError


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--exp_dir", type=Path, required=True, help="pre-training output dir")
    parser.add_argument("--out_ckpt", type=Path, required=True, help="checkpoint to write")
    parser.add_argument("--out_yaml", type=Path, required=True, help="upstream config to write")
    parser.add_argument("--model_file", type=Path, default=None,
                        help="weights to export (default: valid.loss.ave.pth, else best)")
    parser.add_argument("--random_init", type=Path, default=None, metavar="CONFIG",
                        help="export this pre-training config's model untrained (built with "
                             "--seed as training would build it) instead of a trained run")
    parser.add_argument("--seed", type=int, default=1, help="seed of --random_init")
    parser.add_argument("--info", action="append", default=[], metavar="KEY=VALUE",
                        help="provenance stored in the checkpoint (repeatable)")
    return parser


def main() -> None:
    args = get_parser().parse_args()
    from espnet_ext.pretrain.export import export_upstream, write_random_init

    info = {}
    for item in args.info:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--info expects KEY=VALUE, got {item!r}")
        info[key] = value
    model_file = args.model_file
    if args.random_init is not None:
        model_file = write_random_init(args.random_init, args.seed, args.exp_dir)
        info.setdefault("variant", "random_init")
    export_upstream(args.exp_dir, args.out_ckpt, args.out_yaml, model_file, info)


if __name__ == "__main__":
    run_main(main)
