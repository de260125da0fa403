"""Export a pre-training run (ESPnet exp dir) as an s3prl upstream checkpoint + upstream config.

The checkpoint is in the format of s3prl's own checkpoints of the family (so ``apc_local`` /
``wav2vec2_local`` load it too) plus an ``xling`` block read by our ``xling_*`` hub entries
(:mod:`espnet_ext.upstream.hub`). The YAML is an ordinary ``conf/upstream`` config: the upstream
sweep uses it by path, and its stem names the results row.
"""

import argparse
import json
import logging
from pathlib import Path
from typing import Dict, Mapping, Optional

import yaml

from espnet_ext.errors import ConfigError
from espnet_ext.faults import fail_point
from espnet_ext.fileio import PathLike, atomic_open, atomic_write_text
from espnet_ext.safe_load import load_checkpoint

logger = logging.getLogger(__name__)


def _load_trained_model(exp_dir: Path, model_file: Optional[Path]):
    """Rebuild the model from ``exp_dir/config.yaml`` and load its weights (weights-only)."""
    config = exp_dir / "config.yaml"
    if not config.is_file():
        raise ConfigError(f"{exp_dir}: no config.yaml; is this a finished pre-training run?")
    if model_file is None:
        candidates = [exp_dir / "valid.loss.ave.pth", exp_dir / "valid.loss.best.pth"]
        model_file = next((c for c in candidates if c.exists()), None)
        if model_file is None:
            raise ConfigError(f"{exp_dir}: no valid.loss.ave.pth or valid.loss.best.pth; "
                              "training has not finished (rerun the pre-training stage)")
    # Refuses (ConfigError naming the file) a corrupt or truncated file and one that pickles code.
    state = load_checkpoint(model_file)
    try:
        raw = yaml.safe_load(config.read_text(encoding="utf-8"))
        args = argparse.Namespace(**raw)
    except (yaml.YAMLError, UnicodeDecodeError, TypeError) as e:
        raise ConfigError(f"{config}: not a pre-training config written by ESPnet (a mapping of "
                          f"option names): {e}; rerun the pre-training stage") from None
    from espnet_ext.pretrain.task import PretrainTask  # imports espnet2: only once inputs are checked

    model = PretrainTask.build_model(args)
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise ConfigError(
            f"{model_file}: its weights do not fit the model that {config} describes (another "
            f"run's weights, or a config edited after training?): "
            f"{' '.join(str(e).split())[:300]}; export the run with the config it trained "
            "with") from None
    except AttributeError:  # a checkpoint that is not a state dict (e.g. a list)
        raise ConfigError(f"{model_file}: not a model state dict (name -> tensor); export a "
                          "model file written by the pre-training stage") from None
    return args, model, model_file


def write_random_init(config: PathLike, seed: int, exp_dir: PathLike) -> Path:
    """The random-init control: ``config``'s model, untrained, as a pre-training exp dir.

    The model is built exactly as the pre-training stage builds it before its first update
    (ESPnet's ``set_all_random_seed(seed)``, then ``build_model``; audio only: a text config's
    text modules come after every speech module and do not change them), so its weights are
    those every run of ``config`` with ``seed`` starts from. Writes ``exp_dir/config.yaml``
    and ``exp_dir/init.pth``; returns the latter (export it with ``model_file``).
    """
    import torch
    from espnet2.torch_utils.set_all_random_seed import set_all_random_seed

    from espnet_ext.pretrain.task import PretrainTask

    config, exp_dir = Path(config), Path(exp_dir)
    try:
        raw = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
        model_conf = {k: v for k, v in (raw.get("model_conf") or {}).items()
                      if k not in ("phone_list", "phone_durations", "text_weight",
                                   "paired_weight")}
        args = argparse.Namespace(model=raw["model"], model_conf=model_conf, seed=seed)
    except (OSError, yaml.YAMLError, KeyError, AttributeError) as e:
        raise ConfigError(f"{config}: not a pre-training config with 'model' and "
                          f"'model_conf': {e}") from None
    if args.model == "joint":  # the wav2vec 2.0 speech branch alone
        args.model, args.model_conf = "wav2vec2", model_conf.get("speech") or {}
    set_all_random_seed(seed)
    model = PretrainTask.build_model(args)
    exp_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(exp_dir / "config.yaml", yaml.safe_dump(
        {"model": args.model, "model_conf": args.model_conf, "seed": seed,
         "random_init_of": str(config)}, sort_keys=False))
    with atomic_open(exp_dir / "init.pth", "wb") as f:
        torch.save(model.state_dict(), f)
    return exp_dir / "init.pth"


def arm_of(info: Mapping) -> str:
    """The arm of an exported upstream from its ``xling`` block (``variant`` as set by the
    recipe: main, twin, paired or random_init; the model's text loss weights)."""
    variant = str(info.get("variant", "main"))
    if variant == "random_init" or pretrain_hours_of(info) == 0:
        return "random_init"
    if variant in ("twin", "paired"):
        return variant
    if info.get("audio_only_twin"):  # a text model trained with every text weight 0
        return "twin"
    text, paired = (float(info.get(k) or 0) for k in ("text_weight", "paired_weight"))
    if text and paired:
        return "joint"
    if paired or text:
        return "paired" if paired else "unpaired"
    return str(info.get("method", "pretrained"))


def pretrain_hours_of(info: Mapping) -> Optional[float]:
    """Hours of pre-training audio recorded in an export's metadata (None: unknown or "all")."""
    h = info.get("pretrain_hours")
    try:
        return None if h in (None, "", "all") else float(h)
    except (TypeError, ValueError):
        return None


def export_upstream(exp_dir: PathLike, out_ckpt: PathLike, out_yaml: PathLike,
                    model_file: Optional[PathLike] = None, info: Optional[Dict] = None,
                    layers="all") -> Dict:
    """Write ``out_ckpt`` (s3prl-loadable), ``out_yaml`` (upstream config) and the run's metadata
    (``out_yaml`` with suffix ``.json``: the returned block plus its ``arm``) for a trained run.

    Args:
        exp_dir: ESPnet output dir of ``espnet_ext.bin.pretrain_train``.
        out_ckpt: checkpoint to write (atomically).
        out_yaml: upstream config to write; its stem is the upstream's name in results.
        model_file: weights to export; default the averaged (else best) by validation loss.
        info: extra provenance (e.g. ``{"pretrain_hours": 1.0, "data": ...}``).
        layers: ``layers`` of the written config (``"all"``: learned weighted sum).

    Returns:
        The ``xling`` block written into the checkpoint.
    """
    import torch

    from espnet_ext.pretrain.families import family
    from espnet_ext.versioning import EXPORTED_UPSTREAM, stamp

    exp_dir, out_ckpt, out_yaml = Path(exp_dir), Path(out_ckpt), Path(out_yaml)
    args, model, model_file = _load_trained_model(
        exp_dir, Path(model_file) if model_file else None)
    entry = family(args.model).hub_entry
    block = {**stamp(EXPORTED_UPSTREAM),  # format_version and the writing espnet_ext version
             "method": args.model, "hub_entry": entry, "exp_dir": str(exp_dir.resolve()),
             "model_file": model_file.name, "seed": args.seed,
             # no timestamp: the same weights must give the same bytes (the feature cache is
             # keyed by the checkpoint's sha256)
             **model.export_info(), **(info or {})}
    state = {**model.export_state(), "xling": block}
    out_ckpt.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(out_ckpt, "wb") as f:
        torch.save(state, f)
    fail_point("export")
    config = {"upstream": entry, "path": str(out_ckpt.resolve()), "layers": layers,
              "frozen": True,
              "published": f"pre-trained by this recipe ({args.model}, {exp_dir})"}
    header = (f"# {args.model} pre-trained by espnet_ext on {info or {}}\n"
              f"# written by espnet_ext.pretrain.export from {exp_dir}/{model_file.name}\n")
    atomic_write_text(out_yaml, header + yaml.safe_dump(config, sort_keys=False))
    # The run's metadata beside it, for the report (it groups and pairs runs by these fields)
    # and for people; the checkpoint keeps the same block, so its bytes (the feature cache key)
    # do not depend on how the report names arms.
    atomic_write_text(out_yaml.with_suffix(".json"),
                      json.dumps({**block, "arm": arm_of(block)}, indent=2) + "\n")
    logger.info("exported %s -> %s (%s) and %s", exp_dir, out_ckpt, entry, out_yaml)
    return block
