"""Audio I/O: everything the project writes is 16 kHz, mono, 16-bit PCM WAV."""

import io
import subprocess
from math import gcd
from pathlib import Path
from typing import Tuple

import numpy as np
import soundfile as sf

from espnet_ext.fileio import PathLike, atomic_open

TARGET_SR = 16000


def read_audio(path_or_cmd: str) -> Tuple[np.ndarray, int]:
    """Read audio from a file path or a Kaldi pipe entry (``cmd |``).

    Returns:
        (samples, sample_rate); samples are float32 of shape (T,) or (T, C).

    Raises:
        RuntimeError / soundfile.LibsndfileError: unreadable audio (callers add the utterance id).
    """
    if path_or_cmd.rstrip().endswith("|"):
        proc = subprocess.run(
            path_or_cmd.rstrip()[:-1], shell=True, capture_output=True, check=False
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"command exited {proc.returncode}: {proc.stderr.decode(errors='replace')[-300:]}"
            )
        data, sr = sf.read(io.BytesIO(proc.stdout), dtype="float32", always_2d=False)
    else:
        data, sr = sf.read(path_or_cmd, dtype="float32", always_2d=False)
    return data, sr


def to_mono_16k(samples: np.ndarray, sr: int) -> np.ndarray:
    """Down-mix to mono (channel mean) and resample to 16 kHz (polyphase, deterministic).

    Args:
        samples: (T,) or (T, C) float array.
        sr: its sample rate in Hz.

    Returns:
        float32 array of shape (T',) at 16 kHz.
    """
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    if sr != TARGET_SR:
        g = gcd(sr, TARGET_SR)
        # Imported here: ~1 s of import that validation (every stage) never needs.
        from scipy.signal import resample_poly

        samples = resample_poly(samples, TARGET_SR // g, sr // g)
    return np.clip(samples, -1.0, 1.0).astype(np.float32)


def write_wav_16k(path: PathLike, samples: np.ndarray) -> None:
    """Write 16 kHz mono samples as 16-bit PCM WAV, atomically."""
    with atomic_open(Path(path), "wb") as f:
        sf.write(f, samples, TARGET_SR, subtype="PCM_16", format="WAV")


def convert_to_16k_wav(src: str, dst: PathLike) -> float:
    """Convert any readable audio file to a 16 kHz mono WAV at ``dst``.

    Returns:
        duration of the result in seconds.
    """
    data, sr = read_audio(src)
    mono = to_mono_16k(data, sr)
    write_wav_16k(dst, mono)
    return len(mono) / TARGET_SR
