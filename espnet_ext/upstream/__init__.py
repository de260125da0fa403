"""Upstreams: configs (``conf/upstream/*.yaml``) and loading them as s3prl modules.

Notebook use::

    from espnet_ext.upstream import load_upstream
    up, feat = load_upstream("wav2vec2_base")      # conf/upstream/wav2vec2_base.yaml
    hs, hs_len = feat(*up(wavs, wavs_len))        # (B, T, D), (B,)

Checkpoints are read from local files or, for s3prl hub names, from s3prl's download cache
(offline-first, :mod:`.download`), and never unpickled with arbitrary code: s3prl
0.4.18's loaders call ``torch.load`` without ``weights_only`` (mockingjay/TERA even pass
``weights_only=False``), so every checkpoint is first opened with ``weights_only=True`` and the
s3prl build then runs with ``TORCH_FORCE_WEIGHTS_ONLY_LOAD=1``.
"""

import difflib
import pickle
from pathlib import Path
from typing import List, Optional, Union

from espnet_ext.errors import ConfigError
from espnet_ext.safe_load import UPSTREAM_GLOBALS, load_checkpoint, weights_only_loads
from espnet_ext.upstream.config import (
    UpstreamConfig,
    config_hash,
    file_sha256,
    is_url,
    load_upstream_config,
    resolve_checkpoint,
)

__all__ = [
    "UpstreamConfig", "load_upstream_config", "config_hash", "file_sha256", "is_url",
    "load_upstream", "verify_checkpoint", "SAFE_GLOBALS",
]

# Non-tensor classes that published checkpoints legitimately pickle: fairseq-/s3prl-style
# ``args`` / ``Args`` (argparse.Namespace). Everything else needs code execution and is refused.
SAFE_GLOBALS: List[type] = UPSTREAM_GLOBALS


def _weights_only_loading():
    """Within the block every ``torch.load`` is weights-only, even one passing ``weights_only=False``."""
    return weights_only_loads(SAFE_GLOBALS)


def verify_checkpoint(path: Union[str, Path]) -> None:
    """Check that ``path`` loads as plain data (tensors, containers, allowed classes).

    Args:
        path: a local checkpoint file.

    Raises:
        ConfigError: the file pickles other objects (whose loading could run arbitrary code),
            naming them, or is not a torch checkpoint at all (missing, corrupt, truncated); the
            message names the file. Nothing in the file is executed either way.
    """
    load_checkpoint(path, SAFE_GLOBALS)


def _hub_entry(cfg: UpstreamConfig, where: str) -> None:
    from s3prl import hub

    from espnet_ext.upstream.hub import register

    register()

    if not callable(getattr(hub, cfg.upstream, None)):
        names = [n for n in dir(hub) if not n.startswith("_") and callable(getattr(hub, n))]
        close = difflib.get_close_matches(cfg.upstream, names, n=5)
        raise ConfigError(f"{where}: s3prl has no upstream {cfg.upstream!r}"
                          + (f"; did you mean: {', '.join(close)}" if close else ""))


def _featurizer_class():
    from s3prl.nn import Featurizer

    class LayerFeaturizer(Featurizer):
        """s3prl's Featurizer that also accepts a single selected layer of a multi-layer upstream.

        s3prl 0.4.18 asserts >1 layer in its weighted sum when ``layer_selections`` has one
        entry; a one-layer selection means "that layer", so it is returned as is.
        """

        def forward(self, all_hs, all_lens):
            if len(all_hs) > 1 and len(getattr(self, "layer_selections", [])) == 1:
                i = self.layer_selections[0]
                return all_hs[i], all_lens[i]
            return super().forward(all_hs, all_lens)

    return LayerFeaturizer


def load_upstream(name_or_config: Union[str, Path, UpstreamConfig],
                  conf_dir: Optional[Union[str, Path]] = None):
    """Build the s3prl upstream and its layer featurizer described by an upstream config.

    Args:
        name_or_config: a config stem under ``conf_dir`` (e.g. ``"wav2vec2_base"``), a YAML
            path, or an :class:`UpstreamConfig`.
        conf_dir: where stems are looked up; default ``<repo>/conf/upstream``.

    Returns:
        ``(upstream, featurizer)``: an ``s3prl.nn.S3PRLUpstream`` (``upstream(wavs (B, L) float
        16 kHz, wavs_len (B,))`` -> per-layer ``(B, T, D)`` hidden states and ``(B,)`` lengths)
        in eval mode with gradients off when ``frozen``, and an ``s3prl.nn.Featurizer`` whose
        ``layer_selections`` follow ``layers`` (its softmax layer weights stay trainable).

    Raises:
        ConfigError: bad config, URL path, missing checkpoint, unknown s3prl entry, layer index
            out of range, or a checkpoint that is not plain data.
    """
    cfg = (name_or_config if isinstance(name_or_config, UpstreamConfig)
           else load_upstream_config(name_or_config, conf_dir))
    where = f"upstream config {cfg.name!r}"
    ckpt = resolve_checkpoint(cfg, where)  # re-checked: a dataclass may be built by hand
    if ckpt is not None:
        verify_checkpoint(ckpt)

    _hub_entry(cfg, where)
    from s3prl.nn import S3PRLUpstream

    from espnet_ext.upstream.download import building, ensure_checkpoint, entry_for

    entry = entry_for(cfg.upstream, cfg.path)  # a path always means that file
    if ckpt is None:  # a hub name: s3prl's download cache, offline-first (one-line error)
        ensure_checkpoint(entry)
    try:
        with _weights_only_loading(), building(entry):
            upstream = S3PRLUpstream(entry, path_or_url=None if ckpt is None else str(ckpt),
                                     extra_conf=dict(cfg.options))
    except pickle.UnpicklingError as e:
        raise ConfigError(f"{where}: checkpoint {str(ckpt)!r} needs arbitrary unpickling; "
                          f"refused: {str(e).splitlines()[0]}") from None
    except (KeyError, TypeError, ValueError, AssertionError, RuntimeError) as e:
        raise ConfigError(f"{where}: s3prl's {cfg.upstream!r} could not be built from "
                          f"{str(ckpt)!r} with options {cfg.options!r}: "
                          f"{type(e).__name__}: {e}") from e

    layers = None
    if cfg.layers != "all":
        n = upstream.num_layers
        bad = [i for i in cfg.layers if not 0 <= i < n]
        if bad or len(set(cfg.layers)) != len(cfg.layers):
            raise ConfigError(f"{where}: layers {cfg.layers} must be distinct indices in "
                              f"[0, {n - 1}] ({cfg.upstream} has {n} hidden states)")
        layers = list(cfg.layers)
    if len(set(upstream.hidden_sizes)) != 1:
        raise ConfigError(f"{where}: layers have different sizes {upstream.hidden_sizes}; "
                          f"a weighted sum needs equal sizes")
    featurizer = _featurizer_class()(upstream, layer_selections=layers)

    if cfg.frozen:
        upstream.eval()
        upstream.requires_grad_(False)
    else:
        upstream.train()
    return upstream, featurizer
