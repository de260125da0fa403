"""Stage 5: cache a frozen upstream's hidden states for data dirs (kaldiio ark/scp).

The upstream is a ``conf/upstream`` name or YAML (``espnet_ext.upstream.load_upstream``); the
cache of each data dir is keyed by config + checkpoint hash + data + dtype, so a complete cache
with the same key is reused and a changed config or checkpoint never is. Prints
``<data_dir> <cache_dir>`` per data dir.
"""

import argparse
import logging

from espnet_ext.bin import run_main
from espnet_ext.features.extract import (
    DTYPES, cache_dir_for, extract_features, is_complete, parse_layers,
)
from espnet_ext.upstream import load_upstream, load_upstream_config
from espnet_ext.asr.inputs import cache_key, uses_cache


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--upstream", required=True, help="conf/upstream name or YAML path")
    parser.add_argument("--data_dir", required=True, action="append",
                        help="Kaldi data dir (repeatable)")
    parser.add_argument("--out_root", required=True, help="root directory of this upstream's caches")
    parser.add_argument("--dtype", default="float32", choices=DTYPES)
    parser.add_argument("--force", action="store_true", help="rebuild even a complete cache")
    parser.add_argument("--device", default="cpu", help="torch device of the upstream (cpu, cuda)")
    return parser


def main() -> None:
    args = get_parser().parse_args()
    cfg = load_upstream_config(args.upstream)
    if not uses_cache(cfg):
        logging.info("upstream '%s' needs no feature cache (fbank or fine-tuned): nothing to do",
                     cfg.name)
        return
    keys = {d: cache_key(cfg, d, args.dtype) for d in args.data_dir}
    caches = {d: cache_dir_for(args.out_root, d, keys[d]) for d in args.data_dir}
    todo = [d for d in args.data_dir if args.force or not is_complete(caches[d], keys[d])]
    for d in args.data_dir:  # complete caches with the same key: reused, in the order given
        if d not in todo:
            print(f"{d} {caches[d]}", flush=True)
            logging.info("Reusing complete feature cache %s (key %s)", caches[d], keys[d][:16])
    if not todo:
        return  # not even loaded: the upstream's imports cost more than checking the keys
    upstream, _featurizer = load_upstream(cfg)
    for d in todo:
        cache = extract_features(
            upstream, d, args.out_root, cache_key=keys[d],
            layers=parse_layers(cfg.layers), dtype=args.dtype, upstream_name=cfg.name,
            force=args.force, device=args.device,
        )
        print(f"{d} {cache}", flush=True)
        logging.info("%s -> %s", d, cache)


if __name__ == "__main__":
    run_main(main)
