"""Cache a frozen upstream's hidden states for data dirs (kaldiio ark/scp); reuses a valid cache.

Prints, per data dir, the cache directory on stdout (``<data_dir> <cache_dir>``) so that the
recipe can pass ``<cache_dir>/feats.scp,speech,kaldi_ark`` to ``espnet_ext.bin.asr_train``.
The upstream comes from ``--upstream_config`` (a ``conf/upstream`` name or YAML, through
``espnet_ext.upstream.load_upstream``) or directly from ``--s3prl_name``/``--ckpt``.
"""

import argparse
import json
import logging
from pathlib import Path

from espnet_ext.bin import run_main
from espnet_ext.errors import ConfigError
from espnet_ext.features.extract import (
    extract_features,
    file_hash,
    make_cache_key,
    parse_layers,
)


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--upstream_config", help="upstream config name or YAML path")
    parser.add_argument("--s3prl_name", help="s3prl upstream name, e.g. apc_local "
                        "(instead of --upstream_config)")
    parser.add_argument("--ckpt", help="checkpoint for --s3prl_name")
    parser.add_argument("--data_dir", required=True, action="append",
                        help="Kaldi data dir (repeatable)")
    parser.add_argument("--out_root", required=True, help="root directory of caches")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16"])
    parser.add_argument("--layers", default=None,
                        help="'all' or comma-separated layer indices (default: the config's)")
    parser.add_argument("--force", action="store_true", help="rebuild even a complete cache")
    parser.add_argument("--out_list", help="also write '<data_dir> <cache_dir>' lines here")
    return parser


def _load(args):
    """(upstream, upstream_key, layers, name) from either way of naming the upstream."""
    if args.upstream_config:
        try:
            from espnet_ext.upstream import config_hash, load_upstream
        except ImportError as e:
            raise ConfigError(
                f"--upstream_config needs espnet_ext.upstream ({e}); "
                "use --s3prl_name/--ckpt instead"
            ) from None
        upstream, _featurizer = load_upstream(args.upstream_config)
        cfg = _config_of(args.upstream_config)
        layers = args.layers if args.layers is not None else getattr(cfg, "layers", "all")
        name = getattr(cfg, "name", str(args.upstream_config))
        return upstream, config_hash(cfg), parse_layers(layers), name
    if not args.s3prl_name:
        raise ConfigError("give --upstream_config or --s3prl_name (with --ckpt for *_local)")
    from s3prl.nn import S3PRLUpstream

    if args.ckpt and not Path(args.ckpt).is_file():
        raise ConfigError(f"--ckpt {args.ckpt}: checkpoint file not found")
    upstream = S3PRLUpstream(args.s3prl_name, path_or_url=args.ckpt)
    key = json.dumps({"name": args.s3prl_name,
                      "ckpt_sha256": file_hash(args.ckpt) if args.ckpt else None})
    return upstream, key, parse_layers(args.layers), args.s3prl_name


def _config_of(name_or_path):
    """The UpstreamConfig for ``name_or_path`` (espnet_ext.upstream's loader)."""
    import espnet_ext.upstream as up

    for fn in ("load_upstream_config", "read_upstream_config", "load_config"):
        if hasattr(up, fn):
            return getattr(up, fn)(name_or_path)
    if isinstance(name_or_path, up.UpstreamConfig):
        return name_or_path
    raise ConfigError("espnet_ext.upstream has no config loader (load_upstream_config)")


def main() -> None:
    args = get_parser().parse_args()
    upstream, upstream_key, layers, name = _load(args)
    lines = []
    for d in args.data_dir:
        key = make_cache_key(upstream_key, d, layers, args.dtype)
        cache = extract_features(
            upstream, d, Path(args.out_root), cache_key=key, layers=layers, dtype=args.dtype,
            upstream_name=name, force=args.force,
        )
        lines.append(f"{d} {cache}\n")
        print(f"{d} {cache}", flush=True)
        logging.info("%s -> %s", d, cache)
    if args.out_list:
        from espnet_ext.fileio import atomic_write_text

        atomic_write_text(args.out_list, "".join(lines))


if __name__ == "__main__":
    run_main(main)
