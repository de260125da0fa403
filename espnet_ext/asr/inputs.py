"""The ESPnet ``asr_train``/``asr_inference`` arguments that feed one upstream into the downstream.

The downstream ASR config (``conf/asr/*.yaml``) never names a frontend: only the input changes
between upstreams (SUPERB/ML-SUPERB protocol), and it changes here, from ``conf/upstream/*.yaml``:

- ``fbank``: ESPnet's default frontend (80 log-mel, 25 ms / 10 ms) on the waveform.
- frozen s3prl upstream: the feature cache of stage 5 (``feats.scp``, ``kaldi_ark``) and our
  ``cached_layers`` frontend, which learns the softmax-weighted layer sum.
- fine-tuned s3prl upstream (``frozen: false``): ESPnet's ``frontend: s3prl`` on the waveform.

Every s3prl upstream also gets ESPnet's ``preencoder: linear`` down to the fbank width (80), as
ESPnet's SSL recipes do: the encoder then sees inputs of one size whatever the upstream, and its
conv2d subsampling does not grow with the upstream's width (768-1024). A width that keeps fbank's
values per second (320 at 40 ms) was checked and not kept: it closed under a quarter of a 40 ms
random-init control's gap to fbank (docs/results.md, "Equal bandwidth into the downstream").

And every upstream reaches the encoder at one frame rate (``encoder_frame_ms``, 40 ms by
default): the encoder's input subsampling is chosen from the upstream's frame shift (4x for 10
ms fbank/APC, 2x for 20 ms wav2vec 2.0-family features, none for 40 ms mpc), as ML-SUPERB feeds
every SSL upstream to its encoder. With one ``input_layer`` for all, a 20 ms upstream ran at 80
ms, where many utterances have more characters than frames and CTC cannot emit them. How it is
subsampled (``encoder_input``): ``"conv"``, ESPnet's input layer of that factor (conv2d,
conv2d2); or one of two pre-encoders (``espnet_ext.asr.preencoder``) before a ``linear`` input
layer, ``"conv1d"`` (the recipe's default: frames stacked to half the rate, then 1-D
convolutions, 5-7 times cheaper per update than conv2d for fbank and no less accurate on the
offline sets) or ``"stack"`` (frames stacked, no convolution).
"""

import dataclasses
import json
from pathlib import Path
from typing import List, Optional

from espnet_ext.errors import ConfigError
from espnet_ext.features.extract import (
    cache_dir_for,
    is_complete,
    make_cache_key,
    parse_layers,
    read_cache_info,
)
from espnet_ext.upstream.config import FBANK, UpstreamConfig, config_hash
from espnet_ext.fileio import PathLike

# ESPnet's default frontend settings for the fbank baseline (16 kHz: 512-point FFT, 25 ms
# window, 10 ms hop, 80 mel bins), the front end of most ESPnet ASR recipes.
FBANK_FRONTEND_CONF = {"n_fft": 512, "win_length": 400, "hop_length": 160, "n_mels": 80}
# ESPnet's Conformer/Transformer input layers by subsampling factor. Factor 1 is ``linear``,
# not ``conv2d1``: conv2d1 runs two 256-channel convolutions at the full input resolution, and a
# CTC head on 40 ms features took 3.1 s per update through it against 0.7 s for 10 ms features
# through conv2d (measured side by side on 2 cores).
INPUT_LAYERS = {1: "linear", 2: "conv2d2", 4: "conv2d", 6: "conv2d6", 8: "conv2d8"}
DEFAULT_ENCODER_FRAME_MS = 40.0
# How a faster input reaches the encoder's frame rate: ESPnet's convolutional input layers,
# frames stacked by the pre-encoder into a linear input layer, or stacked to half the rate and
# then 1-D convolutions over time in the pre-encoder.
ENCODER_INPUTS = ("conv", "stack", "conv1d")
# ESPnet folds batches by these lengths: samples for waveforms, frames for cached features.
WAVE_FOLD_LENGTH = 80000
FEATS_FOLD_LENGTH = 800


def uses_cache(cfg: UpstreamConfig) -> bool:
    """True if the downstream trains from the stage-5 feature cache of this upstream."""
    return cfg.upstream != FBANK and cfg.frozen


def cache_key(cfg: UpstreamConfig, data_dir: PathLike, dtype: str) -> str:
    """The key of ``data_dir``'s cache for ``cfg``: config + checkpoint hash + data + dtype."""
    return make_cache_key(config_hash(cfg), data_dir, parse_layers(cfg.layers), dtype)


def find_cache(cfg: UpstreamConfig, data_dir: PathLike, cache_root: PathLike, dtype: str) -> Path:
    """The complete cache of ``data_dir`` for ``cfg`` under ``cache_root``.

    Raises:
        ConfigError: no complete cache with the current key (stage 5 has not run for this
            config/checkpoint/data, or was interrupted).
    """
    key = cache_key(cfg, data_dir, dtype)
    cache = cache_dir_for(cache_root, data_dir, key)
    if not is_complete(cache, key):
        raise ConfigError(
            f"no complete feature cache of {data_dir} for upstream '{cfg.name}' under "
            f"{cache_root} (expected {cache}); run stage 5 (feature extraction) first"
        )
    return cache


def speech_input(cfg: UpstreamConfig, data_dir: PathLike, cache_root: PathLike,
                 dtype: str) -> str:
    """The ``path,speech,type`` triple of ``data_dir`` for this upstream."""
    if uses_cache(cfg):
        return f"{find_cache(cfg, data_dir, cache_root, dtype)}/feats.scp,speech,kaldi_ark"
    return f"{Path(data_dir)}/wav.scp,speech,sound"


def frontend_args(cfg: UpstreamConfig, cache: Optional[Path] = None) -> List[str]:
    """``--frontend``/``--frontend_conf`` arguments of this upstream.

    Args:
        cfg: the upstream config.
        cache: one of its caches (gives layer count and dim) when it is frozen.
    """
    if cfg.upstream == FBANK:
        args = ["--frontend", "default", "--frontend_conf", "fs=16k"]
        for k, v in FBANK_FRONTEND_CONF.items():
            args += ["--frontend_conf", f"{k}={v}"]
        return args
    if cfg.frozen:
        info = read_cache_info(cache)
        return ["--frontend", "cached_layers",
                "--frontend_conf", f"num_layers={info['num_layers']}",
                "--frontend_conf", f"layer_dim={info['dim']}",
                *_preencoder_args(info["dim"])]
    if cfg.freeze_steps:
        raise ConfigError(
            f"upstream '{cfg.name}': freeze_steps={cfg.freeze_steps} is not supported by "
            "ESPnet's s3prl frontend yet; use 0 (fine-tune from the first step)"
        )
    layers = parse_layers(cfg.layers)
    if layers is not None and len(layers) > 1:
        raise ConfigError(
            f"upstream '{cfg.name}': fine-tuning through ESPnet's s3prl frontend takes all "
            f"layers or one layer, not {layers}"
        )
    from espnet_ext.upstream.download import entry_for

    conf = {"upstream": entry_for(cfg.upstream, cfg.path), "path_or_url": cfg.path}
    if cfg.options:
        conf["extra_conf"] = dict(cfg.options)
    args = ["--frontend", "s3prl", "--frontend_conf", f"frontend_conf={conf}",
            "--frontend_conf", "fs=16k"]
    if layers is None:
        args += ["--frontend_conf", "multilayer_feature=true"]
    else:
        args += ["--frontend_conf", f"layer={layers[0]}"]
    return args + _preencoder_args(_upstream_dim(cfg))


def _preencoder_args(dim: int) -> List[str]:
    return ["--preencoder", "linear", "--preencoder_conf", f"input_size={dim}",
            "--preencoder_conf", f"output_size={FBANK_FRONTEND_CONF['n_mels']}"]


# (fine-tuned) upstreams built in this process, by config: its width and frame shift need one build
_BUILT: dict = {}


def _built(cfg: UpstreamConfig):
    from espnet_ext.upstream import load_upstream

    key = json.dumps(dataclasses.asdict(cfg), sort_keys=True, default=str)
    if key not in _BUILT:
        _BUILT[key] = load_upstream(cfg)
    return _BUILT[key]


def _upstream_dim(cfg: UpstreamConfig) -> int:
    """Hidden size of a (fine-tuned) upstream, probed by building it once."""
    return _built(cfg)[1].output_size


def frame_shift_ms(cfg: UpstreamConfig, cache: Optional[Path] = None) -> float:
    """The upstream's frame shift: fbank's hop, a cache's recorded rate, or (fine-tuned) the
    downsample rate s3prl reports for the loaded upstream."""
    if cfg.upstream == FBANK:
        return 1000.0 * FBANK_FRONTEND_CONF["hop_length"] / 16000
    if cache is not None:
        return float(read_cache_info(cache)["frame_shift_ms"])
    return 1000.0 * _built(cfg)[0].downsample_rates[0] / 16000


def encoder_input_args(cfg: UpstreamConfig, shift_ms: float,
                       encoder_frame_ms: float = DEFAULT_ENCODER_FRAME_MS,
                       encoder_input: str = "conv") -> List[str]:
    """The arguments that bring ``shift_ms`` frames to ``encoder_frame_ms``: ``conv``, the
    encoder's ``input_layer`` of that subsampling; ``stack``, a ``linear`` input layer after
    the ``stack`` pre-encoder (which keeps the ``linear`` pre-encoder's ``input_size`` and
    ``output_size`` that :func:`frontend_args` gives an s3prl upstream, and takes fbank's 80
    bins as they are); ``conv1d``, the same after the ``conv1d`` pre-encoder, which stacks
    to half the encoder's rate and subsamples the rest by 2 with 1-D convolutions.

    Raises:
        ConfigError: no ESPnet input layer subsamples by that factor (names the upstream), or
            an unknown ``encoder_input``.
    """
    check_encoder_input(encoder_input)
    factor = encoder_frame_ms / shift_ms
    layer = INPUT_LAYERS.get(int(round(factor))) if abs(factor - round(factor)) < 1e-6 else None
    if layer is None:
        reachable = ", ".join(f"{shift_ms * k:g}" for k in sorted(INPUT_LAYERS))
        raise ConfigError(
            f"upstream '{cfg.name}': its {shift_ms:g} ms frames cannot reach an encoder frame "
            f"rate of {encoder_frame_ms:g} ms (ESPnet's input layers subsample by "
            f"{', '.join(map(str, sorted(INPUT_LAYERS)))}); use --encoder_frame_ms with one of "
            f"{reachable}, or \"\" to keep the ASR config's input_layer for every upstream")
    k = int(round(factor))
    if encoder_input == "conv" or k == 1:
        return ["--encoder_conf", f"input_layer={layer}"]
    stack = k // 2 if encoder_input == "conv1d" else k  # every factor > 1 here is even
    args = ["--encoder_conf", "input_layer=linear", "--preencoder", encoder_input,
            "--preencoder_conf", f"stack={stack}"]
    if cfg.upstream == FBANK:
        args += ["--preencoder_conf", f"input_size={FBANK_FRONTEND_CONF['n_mels']}"]
    return args


def check_encoder_input(value: str) -> None:
    """Raises ConfigError unless ``value`` is one of :data:`ENCODER_INPUTS`."""
    if value not in ENCODER_INPUTS:
        raise ConfigError(f"--encoder_input {value!r}: one of {', '.join(ENCODER_INPUTS)}")


def parse_encoder_frame_ms(value: str) -> Optional[float]:
    """``--encoder_frame_ms`` as given: a positive number of ms, or None for "" (keep the ASR
    config's input_layer).

    Raises:
        ConfigError: anything else.
    """
    if not value:
        return None
    try:
        frame_ms = float(value)
    except ValueError:
        frame_ms = -1.0
    if frame_ms <= 0:
        raise ConfigError(f"--encoder_frame_ms {value!r}: a positive number of ms, or \"\"")
    return frame_ms


def train_args(cfg: UpstreamConfig, train_dir: PathLike, valid_dir: PathLike,
               cache_root: PathLike, dtype: str = "float32",
               encoder_frame_ms: Optional[float] = DEFAULT_ENCODER_FRAME_MS,
               encoder_input: str = "conv") -> List[str]:
    """Everything ``asr_train`` needs about the input: frontend, speech data, speech fold length,
    and (unless ``encoder_frame_ms`` is None) the way to that encoder frame rate
    (``encoder_input``: :func:`encoder_input_args`)."""
    train = speech_input(cfg, train_dir, cache_root, dtype)
    valid = speech_input(cfg, valid_dir, cache_root, dtype)
    cache = find_cache(cfg, train_dir, cache_root, dtype) if uses_cache(cfg) else None
    encoder = ([] if encoder_frame_ms is None else
               encoder_input_args(cfg, frame_shift_ms(cfg, cache), encoder_frame_ms,
                                  encoder_input))
    return frontend_args(cfg, cache) + encoder + [
        "--train_data_path_and_name_and_type", train,
        "--valid_data_path_and_name_and_type", valid,
        "--fold_length", str(FEATS_FOLD_LENGTH if uses_cache(cfg) else WAVE_FOLD_LENGTH),
    ]


def decode_args(cfg: UpstreamConfig, test_dir: PathLike, cache_root: PathLike,
                dtype: str = "float32") -> List[str]:
    """The speech input of ``asr_inference`` for ``test_dir``."""
    return ["--data_path_and_name_and_type", speech_input(cfg, test_dir, cache_root, dtype)]
