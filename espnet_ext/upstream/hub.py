"""Our pre-trained upstreams as s3prl hub entries: ``xling_apc``, ``xling_wav2vec2``, ``xling_joint``,
``xling_mpc``.

An exported checkpoint (:mod:`espnet_ext.pretrain.export`) is in the format of s3prl's own
``apc_local`` / ``wav2vec2_local`` / ``tera_local`` checkpoints plus an ``xling`` block (project version, method,
pre-training data and run). The ``xling_*`` entries check that block, so a checkpoint of the
wrong family or from an unknown writer is refused with a message instead of failing inside
s3prl, and then build s3prl's own expert: inference code is s3prl's, not a copy.

``register()`` adds the entries to ``s3prl.hub`` (idempotent), after which
``s3prl.nn.S3PRLUpstream("xling_wav2vec2", path_or_url=ckpt)`` and ESPnet's
``frontend: s3prl`` with ``frontend_conf: {frontend_conf: {upstream: xling_wav2vec2,
path_or_url: ckpt}}`` work as for built-in names. ESPnet's trainer does not know our entries:
run it through ``python -m espnet_ext.bin.asr_train`` (which registers them) instead of
``espnet2.bin.asr_train``.
"""

from pathlib import Path
from typing import Callable, Dict, Union

from espnet_ext.errors import ConfigError
from espnet_ext.versioning import EXPORTED_UPSTREAM, check

# Written into every exported checkpoint; bump it in espnet_ext.versioning when the format changes.
EXPORT_FORMAT_VERSION = EXPORTED_UPSTREAM.current
# hub name -> (pre-training method recorded in the checkpoint, s3prl expert module)
ENTRIES: Dict[str, tuple] = {
    "xling_apc": ("apc", "s3prl.upstream.apc.expert"),
    "xling_wav2vec2": ("wav2vec2", "s3prl.upstream.wav2vec2.expert"),
    # joint text-audio model and its audio-only twin: their speech branch is a wav2vec 2.0
    "xling_joint": ("joint", "s3prl.upstream.wav2vec2.expert"),
    # masked prediction on log-mel (all its arms): s3prl's Mockingjay/TERA Transformer
    "xling_mpc": ("mpc", "s3prl.upstream.mockingjay.expert"),
}


def read_export_info(ckpt: Union[str, Path], method: str, entry: str) -> Dict:
    """The ``xling`` block of an exported checkpoint, after weights-only verification.

    Raises:
        ConfigError: the file is missing, not plain data, not written by our exporter, written
            in an export format this version does not read (names the writing version), or
            holds another method than ``entry`` serves.
    """
    import torch

    from espnet_ext.upstream import _weights_only_loading, verify_checkpoint

    if not Path(ckpt).is_file():
        raise ConfigError(f"{entry}: checkpoint {str(ckpt)!r} does not exist; pre-train and "
                          "export it with the recipe's stages 3-4 (./run.sh --stage 3 "
                          "--stop_stage 4)")
    verify_checkpoint(ckpt)
    with _weights_only_loading():
        state = torch.load(str(ckpt), map_location="cpu", weights_only=True)
    info = state.get("xling") if isinstance(state, dict) else None
    if not isinstance(info, dict):
        raise ConfigError(f"{entry}: {str(ckpt)!r} was not exported by espnet_ext (no 'xling' "
                          "block); for s3prl's own checkpoints use the *_local upstream names")
    check(info, EXPORTED_UPSTREAM, f"{entry}: {str(ckpt)!r}", error=ConfigError)
    if info.get("method") != method:
        raise ConfigError(f"{entry}: {str(ckpt)!r} holds a {info.get('method')!r} model, not "
                          f"{method!r}; use the entry "
                          f"{next((n for n, (m, _) in ENTRIES.items() if m == info.get('method')), '?')!r}")
    return info


def _make_entry(name: str, method: str, expert_module: str) -> Callable:
    def entry(ckpt: str, *args, **kwargs):
        import importlib

        read_export_info(ckpt, method, name)
        expert = importlib.import_module(expert_module).UpstreamExpert
        return expert(str(ckpt), *args, **kwargs)

    entry.__name__ = name
    entry.__doc__ = f"espnet_ext's pre-trained {method} upstream from a local exported checkpoint."
    return entry


def register() -> None:
    """Add the ``xling_*`` entries to ``s3prl.hub`` (listed by ``S3PRLUpstream.available_names``)
    and make s3prl's downloads offline-first (:mod:`espnet_ext.upstream.download`)."""
    from s3prl import hub

    from espnet_ext.upstream.download import install

    install()

    for name, (method, module) in ENTRIES.items():
        if not callable(getattr(hub, name, None)):
            setattr(hub, name, _make_entry(name, method, module))
