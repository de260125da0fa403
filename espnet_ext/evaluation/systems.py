"""What each upstream of a report is, read from metadata rather than from its name.

Stage 4 writes, next to every exported upstream ``exp/upstreams/<name>.{pt,yaml}``, the run's
metadata as ``<name>.json`` (:func:`espnet_ext.pretrain.export.export_upstream`): pre-training
config, amount, arm, seed, method. The report groups and pairs systems by these fields, so a new
axis is a new field, not a new naming rule.

Arms (:func:`espnet_ext.pretrain.export.arm_of`): ``fbank``; ``random_init`` (the untrained
control of a config); a text model's ``joint`` model (paired and unpaired text), ``paired`` arm
(transcripts only), ``unpaired`` (text corpus only) and ``twin`` (every text weight 0, audio
only); a model without text (APC, wav2vec 2.0) is its method (``apc``, ``wav2vec2``); anything
not exported by the recipe (hub names, own configs) is ``external``.
"""

import json
import logging
from pathlib import Path
from typing import Dict, Iterable, Mapping

from espnet_ext.errors import XlingError
from espnet_ext.pretrain.export import arm_of, pretrain_hours_of
from espnet_ext.safe_load import load_checkpoint

logger = logging.getLogger(__name__)

FBANK = "fbank"
TEXT_ARMS = ("joint", "paired", "unpaired")  # compared with their audio-only twin


def describe(info: Mapping) -> Dict:
    """The fields the report uses, from an export's metadata."""
    return {"arm": str(info.get("arm") or arm_of(info)),
            "pretrain_config": str(info.get("pretrain_config", "")),
            "pretrain_hours": pretrain_hours_of(info)}


def _metadata(upstreams_dir: Path, name: str) -> Dict:
    """The export metadata of upstream ``name``: its JSON sidecar, else (exports from before
    sidecars) the checkpoint's ``xling`` block; the first seed's when only seeds ran."""
    for stem in (name, *sorted(p.stem for p in upstreams_dir.glob(f"{name}_seed*.json"))):
        sidecar = upstreams_dir / f"{stem}.json"
        if sidecar.is_file():
            try:
                return json.loads(sidecar.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
                raise XlingError(f"{sidecar}: unreadable upstream metadata ({e}); rerun stage 4 "
                                 "(--stage 4 --force true)") from None
    ckpt = upstreams_dir / f"{name}.pt"
    if ckpt.is_file():
        block = load_checkpoint(ckpt).get("xling")
        if isinstance(block, dict):
            return block
    return {}


def describe_upstreams(exp_dir: Path, names: Iterable[str]) -> Dict[str, Dict]:
    """``{name: {"arm", "pretrain_config", "pretrain_hours"}}`` for the upstreams of a report."""
    out = {}
    for name in sorted(set(names)):
        if name == FBANK:
            out[name] = {"arm": FBANK, "pretrain_config": "", "pretrain_hours": None}
            continue
        info = _metadata(Path(exp_dir) / "upstreams", name)
        out[name] = describe(info) if info else {"arm": "external", "pretrain_config": "",
                                                 "pretrain_hours": None}
        logger.debug("%s: %s", name, out[name])
    return out
