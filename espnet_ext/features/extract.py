"""Run a frozen s3prl upstream once over a data dir and cache its hidden states (kaldiio ark/scp).

Layout of one cache (``<out_dir>/<data name>.<key[:16]>/``)::

    feats.ark    one matrix per utterance, (T, L*D): layer l is columns [l*D, (l+1)*D)
    feats.scp    utt -> feats.ark:offset        (ESPnet: ``feats.scp,speech,kaldi_ark``)
    feats_shape  utt T,L*D                      (ESPnet shape file)
    cache.json   key, layers, num_layers L, dim D, dtype, downsample rate, upstream name, ...
    .done        written last; a directory without it is incomplete and is rebuilt

Why batch 1, eval mode: wav2vec2 BASE's first conv layer normalises over time (GroupNorm), so
padding in a batch changes shorter utterances' features (~2.6% measured), and on CPU batch 1 was
also faster; eval mode turns dropout off, so the cache is deterministic (see ``frontend.py`` for
how this relates to ESPnet's on-the-fly ``frontend: s3prl``).

float16 caches use kaldiio's NPY-in-ark records (Kaldi's binary matrix format has no half type);
ESPnet's ``kaldi_ark`` loader (kaldiio) reads them and casts to float32.
"""

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

from espnet_ext.data.audio import read_audio
from espnet_ext.data.kaldi import read_kaldi_map
from espnet_ext.errors import ConfigError, DataDirError
from espnet_ext.faults import fail_point
from espnet_ext.fileio import PathLike, atomic_write_text
from espnet_ext.versioning import FEATURE_CACHE, check, stamp

logger = logging.getLogger(__name__)

# Bump (in espnet_ext.versioning.FEATURE_CACHE) when the stored layout or the extraction math
# changes: old caches then miss, as the format is part of the key.
CACHE_FORMAT_VERSION = FEATURE_CACHE.current
SAMPLE_RATE = 16000
DTYPES = ("float32", "float16")


def data_hash(data_dir: PathLike) -> str:
    """Fingerprint of the audio of a data dir: ``wav.scp`` (+ ``segments``) and each file's stat.

    Every audio path in ``wav.scp`` contributes its size and mtime (nanoseconds), so replacing
    or re-generating a file changes the hash without reading the audio. Pipe entries
    (``cmd |``) contribute their command text only.

    Args:
        data_dir: a Kaldi data dir with ``wav.scp``.

    Returns:
        hex SHA-256.

    Raises:
        DataDirError: ``wav.scp`` is missing/malformed or names a file that does not exist.
    """
    data_dir = Path(data_dir)
    wav_scp = data_dir / "wav.scp"
    wavs = read_kaldi_map(wav_scp)
    h = hashlib.sha256()
    h.update(wav_scp.read_bytes())
    if (data_dir / "segments").exists():
        h.update(b"segments\0" + (data_dir / "segments").read_bytes())
    for utt, entry in wavs.items():
        if entry.rstrip().endswith("|"):
            continue
        try:
            st = os.stat(entry)
        except FileNotFoundError:
            raise DataDirError(
                f"{wav_scp}: utterance '{utt}': audio file {entry} does not exist; "
                "fix the path or re-run data preparation"
            ) from None
        h.update(f"{utt}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def make_cache_key(upstream_key: str, data_dir: PathLike, layers: Optional[Sequence[int]],
                   dtype: str) -> str:
    """The cache key: upstream (config + checkpoint) fingerprint, data fingerprint, selection.

    Args:
        upstream_key: fingerprint of the upstream config and its checkpoint, e.g.
            ``espnet_ext.upstream.config_hash(cfg)`` (must change when either changes).
        data_dir: the data dir to be extracted (see :func:`data_hash`).
        layers: selected layer indices, or None for all.
        dtype: "float32" or "float16".

    Returns:
        hex SHA-256 (64 characters).
    """
    payload = {
        "format": CACHE_FORMAT_VERSION,
        "upstream": upstream_key,
        "data": data_hash(data_dir),
        "layers": None if layers is None else sorted(int(i) for i in layers),
        "dtype": dtype,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def cache_dir_for(out_dir: PathLike, data_dir: PathLike, cache_key: str) -> Path:
    """Where :func:`extract_features` puts the cache of ``data_dir`` under ``out_dir``."""
    return Path(out_dir) / f"{Path(data_dir).resolve().name}.{cache_key[:16]}"


def _load_cache_json(cache_dir: Path) -> Dict:
    """``cache.json`` of ``cache_dir``, checked to be of a format this version reads.

    Raises:
        DataDirError: unreadable, or written in another format (names the writing version).
    """
    f = cache_dir / "cache.json"
    try:
        info = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise DataDirError(f"{f}: unreadable feature cache info ({e}); "
                           f"{FEATURE_CACHE.rerun}") from None
    check(info, FEATURE_CACHE, f, error=DataDirError)
    return info


def is_complete(cache_dir: PathLike, cache_key: Optional[str] = None) -> bool:
    """True if ``cache_dir`` has its ``.done`` marker (and was built for ``cache_key``, if given).

    A cache whose ``cache.json`` is unreadable or of a format this version does not read is
    not complete: it is logged and then rebuilt, never reused (a cache is derived data, so
    rebuilding is always safe, while misreading one would silently change the features).
    """
    cache_dir = Path(cache_dir)
    if not (cache_dir / ".done").is_file() or not (cache_dir / "cache.json").is_file():
        return False
    if cache_key is None:
        return True
    try:
        info = _load_cache_json(cache_dir)
    except DataDirError as e:
        logger.warning("Stale feature cache, not reused: %s", e)
        return False
    return info.get("cache_key") == cache_key


def read_cache_info(cache_dir: PathLike) -> Dict:
    """The ``cache.json`` of a complete cache.

    Raises:
        DataDirError: the cache is incomplete (no ``.done``), or its ``cache.json`` is
            unreadable or of a format this version does not read (names the writing version).
    """
    cache_dir = Path(cache_dir)
    if not is_complete(cache_dir):
        raise DataDirError(
            f"{cache_dir}: not a complete feature cache (no .done marker); "
            "re-run feature extraction"
        )
    return _load_cache_json(cache_dir)


def load_wave(utt: str, entry: str, wav_scp: Path):
    """One utterance as a float32 tensor (1, samples), checked to be 16 kHz mono.

    Args:
        utt: utterance id (for messages).
        entry: its ``wav.scp`` value (a path or a ``cmd |`` pipe).
        wav_scp: the ``wav.scp`` it comes from (for messages).

    Raises:
        DataDirError: unreadable audio, or not 16 kHz mono (names the utterance).
    """
    import torch

    try:
        samples, sr = read_audio(entry)
    except Exception as e:  # soundfile raises its own types; name the utterance
        raise DataDirError(f"{wav_scp}: utterance '{utt}': cannot read {entry}: {e}") from None
    if sr != SAMPLE_RATE or samples.ndim != 1:
        raise DataDirError(
            f"{wav_scp}: utterance '{utt}': expected 16000 Hz mono audio, got {sr} Hz with "
            f"shape {samples.shape}; convert the data dir with espnet_ext.bin.format_data_dir"
        )
    return torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32)).unsqueeze(0)


def forward_layers(upstream, wav) -> List:
    """Every hidden state of one utterance, cut to its length (batch 1; call under no_grad).

    Args:
        upstream: see :func:`extract_features`.
        wav: (1, samples) float32 tensor at 16 kHz.

    Returns:
        One ``(T_l, D_l)`` tensor per hidden state of the upstream.
    """
    import torch

    all_hs, all_lens = upstream(wav, torch.LongTensor([wav.size(1)]))
    return [hs[0, :int(lens[0])] for hs, lens in zip(all_hs, all_lens)]


def extract_features(
    upstream,
    data_dir: PathLike,
    out_dir: PathLike,
    cache_key: str,
    layers: Optional[Sequence[int]] = None,
    dtype: str = "float32",
    upstream_name: str = "",
    force: bool = False,
    progress: bool = True,
    device: str = "cpu",
) -> Path:
    """Run ``upstream`` (eval mode, no grad, batch 1) over ``data_dir`` and cache its layers.

    An existing complete cache for the same key is reused (logged); an incomplete one (no
    ``.done``) is rebuilt. The cache is written in a temporary sibling directory and renamed
    into place, so a killed run never leaves a directory that looks complete.

    Args:
        upstream: an ``s3prl.nn.S3PRLUpstream`` (or anything with its call signature
            ``(wavs (B, S), wavs_len (B,)) -> (List[(B, T, D)], List[(B,)])`` and the
            ``num_layers``, ``hidden_sizes``, ``downsample_rates`` properties).
        data_dir: Kaldi data dir; its ``wav.scp`` must give 16 kHz mono audio.
        out_dir: root of caches; the cache goes to :func:`cache_dir_for`.
        cache_key: from :func:`make_cache_key`; must cover upstream config, checkpoint, data,
            layers and dtype, so a stale cache is never reused.
        layers: layer indices to keep (0 = the upstream's first hidden state), or None for all.
            Stored in ascending order, as s3prl's Featurizer orders ``layer_selections``.
        dtype: "float32" (Kaldi FM matrices) or "float16" (NPY records; half the size).
        upstream_name: recorded in ``cache.json`` for humans.
        force: rebuild even if a complete cache exists.
        progress: show a tqdm progress bar.
        device: torch device the upstream runs on (``cuda`` where the recipe has ``--ngpu``);
            the cache holds the same features either way, up to float rounding.

    Returns:
        The cache directory (holds ``feats.scp``, ``feats_shape``, ``cache.json``, ``.done``).

    Raises:
        ConfigError: bad ``dtype`` or ``layers`` for this upstream.
        DataDirError: missing/unreadable/non-16 kHz audio (names the utterance); segments.
    """
    import kaldiio
    import torch
    from tqdm import tqdm

    data_dir = Path(data_dir)
    if dtype not in DTYPES:
        raise ConfigError(f"feature cache dtype must be one of {DTYPES}, got '{dtype}'")
    num_all = upstream.num_layers
    sel: List[int] = list(range(num_all)) if layers is None else sorted(int(i) for i in layers)
    if not sel or len(set(sel)) != len(sel) or sel[0] < 0 or sel[-1] >= num_all:
        raise ConfigError(
            f"layers {list(layers or [])} invalid for upstream '{upstream_name}' with {num_all} "
            f"hidden states: give distinct indices in 0..{num_all - 1} (or 'all')"
        )
    dims = {upstream.hidden_sizes[i] for i in sel}
    rates = {upstream.downsample_rates[i] for i in sel}
    if len(dims) != 1 or len(rates) != 1:
        raise ConfigError(
            f"upstream '{upstream_name}': selected layers {sel} differ in size {sorted(dims)} "
            f"or downsample rate {sorted(rates)}; select layers of one size and rate"
        )
    dim, rate = dims.pop(), rates.pop()
    if (data_dir / "segments").exists():
        raise DataDirError(
            f"{data_dir}/segments: segmented data dirs are not supported by the feature cache; "
            "cut the segments into files first (espnet_ext.bin.format_data_dir)"
        )

    cache_dir = cache_dir_for(out_dir, data_dir, cache_key)
    if not force and is_complete(cache_dir, cache_key):
        logger.info("Reusing complete feature cache %s (key %s)", cache_dir, cache_key[:16])
        return cache_dir
    if cache_dir.exists():
        logger.info("Rebuilding %s: incomplete or forced", cache_dir)

    wav_scp = data_dir / "wav.scp"
    wavs = read_kaldi_map(wav_scp)
    cache_dir.parent.mkdir(parents=True, exist_ok=True)
    for stale in cache_dir.parent.glob(f".{cache_dir.name}.*.tmp"):  # a killed run's, never read
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{cache_dir.name}.", suffix=".tmp", dir=cache_dir.parent))
    try:
        was_training = upstream.training
        upstream.to(device).eval()
        start, audio_s = time.time(), 0.0
        shapes = {}
        writer = kaldiio.WriteHelper(
            f"ark,scp:{tmp / 'feats.ark'},{tmp / 'feats.scp.tmp'}",
            write_function="numpy" if dtype == "float16" else None,
        )
        try:
            with writer, torch.no_grad():
                for utt in tqdm(sorted(wavs), desc=f"extract {data_dir.name}",
                                disable=not progress, unit="utt", mininterval=5.0):
                    wav = load_wave(utt, wavs[utt], wav_scp)
                    audio_s += wav.size(1) / SAMPLE_RATE
                    hs = forward_layers(upstream, wav.to(device))
                    n = hs[sel[0]].size(0)
                    mat = torch.cat([hs[i][:n] for i in sel], dim=-1)  # (T, L*D)
                    writer[utt] = mat.float().cpu().numpy().astype(dtype)
                    shapes[utt] = mat.shape
        finally:
            upstream.train(was_training)
        elapsed = time.time() - start

        # kaldiio wrote offsets into the temp ark; point the scp at the final location.
        final_ark = str((cache_dir / "feats.ark").resolve())
        tmp_ark = str(tmp / "feats.ark")
        lines = []
        for line in (tmp / "feats.scp.tmp").read_text().splitlines():
            utt, loc = line.split(maxsplit=1)
            assert loc.startswith(tmp_ark + ":"), loc
            lines.append(f"{utt} {final_ark}{loc[len(tmp_ark):]}\n")
        atomic_write_text(tmp / "feats.scp", "".join(lines))
        (tmp / "feats.scp.tmp").unlink()
        atomic_write_text(
            tmp / "feats_shape",
            "".join(f"{u} {t},{d}\n" for u, (t, d) in sorted(shapes.items())),
        )
        info = {
            "cache_key": cache_key,
            **stamp(FEATURE_CACHE),  # "format" and the writing espnet_ext version
            "upstream": upstream_name,
            "data_dir": str(data_dir.resolve()),
            "num_utts": len(shapes),
            "layers": sel,
            "num_layers": len(sel),
            "dim": dim,
            "dtype": dtype,
            "downsample_rate": rate,
            "frame_shift_ms": 1000.0 * rate / SAMPLE_RATE,
            "audio_seconds": round(audio_s, 3),
            "extract_seconds": round(elapsed, 3),
        }
        atomic_write_text(tmp / "cache.json", json.dumps(info, indent=2) + "\n")
        atomic_write_text(tmp / ".done", "")
        fail_point("feature_cache")
        if cache_dir.exists():
            shutil.rmtree(cache_dir)
        os.replace(tmp, cache_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logger.info(
        "Extracted %d utts (%.1f s audio) in %.1f s -> %s (%d layers x %d, %s)",
        len(shapes), audio_s, elapsed, cache_dir, len(sel), dim, dtype,
    )
    return cache_dir


def parse_layers(spec: Union[str, Sequence[int], None]) -> Optional[List[int]]:
    """``"all"``/None -> None; ``"1,3,5"`` or ``[1, 3, 5]`` -> ``[1, 3, 5]``.

    Raises:
        ConfigError: not "all" and not a list of integers.
    """
    if spec is None or (isinstance(spec, str) and spec.strip().lower() == "all"):
        return None
    try:
        if isinstance(spec, str):
            return [int(s) for s in spec.replace(" ", "").split(",") if s]
        return [int(s) for s in spec]
    except (TypeError, ValueError):
        raise ConfigError(
            f"layers must be 'all' or a list of layer indices like '1,3,5', got {spec!r}"
        ) from None
