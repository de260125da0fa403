"""Degraded test conditions: noisy, speed-perturbed and telephone copies of a test set.

Each named condition of a YAML config (``conf/degrade/*.yaml``) turns a clean test data dir into
``<out_prefix>_<condition>/`` with the same utterance ids and transcripts, so every result on a
degraded set is paired with the clean one. Everything is made offline and deterministically:

* **Signal functions** (pure numpy/scipy, 16 kHz float arrays): :func:`mix_at_snr`,
  :func:`coloured_noise`, :func:`make_babble`, :func:`speed_perturb`, :func:`apply_codec`,
  :func:`guard_clipping`.
* **Config**: :class:`Condition` (defaults in code) and :func:`load_degrade_config` (unknown keys
  or values are an error listing the valid ones).
* **Data dirs**: :func:`make_degraded_sets`, called by ``python -m
  espnet_ext.bin.make_degraded_sets``.

A condition applies, in this order: speed perturbation (the talker), additive noise at an SNR
(the room), then a codec (the channel); the clipping guard runs after the noise and at the end.

Randomness (noise samples, babble talkers and offsets) comes from a generator seeded by
``(seed, noise kind, utterance id)`` through sha256, never by position: results do not depend on
``--nj`` or on the order of the utterances, and two runs write byte-identical WAVs. The condition
*name* is deliberately not part of the seed: ``snr20_babble`` ... ``snr0_babble`` add the very
same babble to an utterance, only at a different level, so the SNR sweep is paired too.

Real noise recordings: none of the Debian packages on the build machine ships usable ambient
noise. The only candidates are LibreOffice's gallery sounds (1-8 s sound effects at 11/22 kHz,
e.g. ``nature1.wav``, ``train.wav``), alsa-utils' 1.4 s ``Noise.wav`` test signal and the
fillets-ng game music (music, not ambient noise, and from the same package family as our Czech
and Dutch speech). So the noises are synthetic coloured noise and babble of other-language speech.
"""

import dataclasses
import hashlib
import json
import logging
import os
import re
import shutil
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from multiprocessing import Pool
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import yaml
from scipy.signal import butter, resample_poly, sosfiltfilt
from tqdm import tqdm

from espnet_ext.data.audio import TARGET_SR, read_audio, to_mono_16k, write_wav_16k
from espnet_ext.data.kaldi import language_of, read_kaldi_map, write_kaldi_map
from espnet_ext.data.validate import validate_data_dir
from espnet_ext.errors import ConfigError, DataDirError
from espnet_ext.faults import fail_point
from espnet_ext.fileio import PathLike, atomic_open, atomic_write_text
from espnet_ext.steps import DONE_FILE, check_owned, claim_dir, is_done, mark_done
from espnet_ext.versioning import DEGRADED_SET

logger = logging.getLogger(__name__)

NOISE_TYPES = ("white", "pink", "brown", "babble")
CODECS = ("tel8k", "nb8k", "mulaw")
# Spectral exponent alpha of each coloured noise: power spectral density ~ 1 / f**alpha.
_NOISE_ALPHA = {"white": 0.0, "pink": 1.0, "brown": 2.0}
# Below this frequency the pink/brown shaping stays flat (else brown noise is mostly DC drift).
_SHAPING_MIN_HZ = 20.0
# Mean square below this (-100 dBFS) counts as silence: no SNR can be defined against it.
_SILENCE_POWER = 1e-10
# The clipping guard scales an utterance whose peak exceeds 1.0 down to this peak.
_GUARD_PEAK = 0.99
TEL_BAND_HZ = (300.0, 3400.0)
MU = 255  # G.711 mu-law

_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
# Files copied unchanged from the clean dir (same ids, so results are paired).
COPIED_FILES = ("text", "utt2spk", "spk2utt", "utt2lang")
OWNER = "make_degraded_sets"
PROVENANCE_FILE = "PROVENANCE.md"


class SilentAudioError(DataDirError):
    """Audio with (almost) no energy where a level is needed (e.g. speech for an SNR)."""


# --- signal functions -------------------------------------------------------------------------

def _power(x: np.ndarray) -> float:
    return float(np.mean(np.square(x, dtype=np.float64))) if len(x) else 0.0


def fit_length(x: np.ndarray, num_samples: int, offset: int = 0) -> np.ndarray:
    """``x`` looped (tiled) or cropped to ``num_samples``, starting at sample ``offset``.

    Args:
        x: (T,) signal, T >= 1.
        num_samples: output length.
        offset: start position in ``x`` (taken modulo T).

    Returns:
        (num_samples,) array with the dtype of ``x``.
    """
    if len(x) == 0:
        raise ValueError("cannot loop an empty signal")
    return x[(offset + np.arange(num_samples)) % len(x)]


def mix_at_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float,
               name: str = "speech") -> np.ndarray:
    """Add ``noise`` to ``speech`` at a signal-to-noise ratio of ``snr_db``.

    Powers are mean squares over the whole utterance (pauses included); ``noise`` is looped or
    cropped to the length of ``speech`` first, and the SNR holds for the noise actually added:
    ``10*log10(P(speech) / P(result - speech)) == snr_db`` (to float32 rounding).

    Args:
        speech: (T,) float samples.
        noise: (N,) float samples, N >= 1 (any level).
        snr_db: requested SNR in dB.
        name: what ``speech`` is, for messages (e.g. ``utterance 'spk1_a' (/x/a.wav)``).

    Returns:
        (T,) float32 mixture. It may peak above 1.0: run :func:`guard_clipping` before writing.

    Raises:
        SilentAudioError: ``speech`` or ``noise`` is silent (mean square < 1e-10), so no SNR can
            be set; the message names ``name``.
    """
    speech = np.asarray(speech, dtype=np.float64)
    noise = fit_length(np.asarray(noise, dtype=np.float64), len(speech))
    p_speech, p_noise = _power(speech), _power(noise)
    if p_speech < _SILENCE_POWER:
        raise SilentAudioError(
            f"{name}: is silent (mean square {p_speech:.3g} < {_SILENCE_POWER:g}), so noise "
            f"cannot be added at {snr_db} dB SNR; remove the utterance from the test set (and "
            "re-make every condition, so that all sets keep the same utterances)"
        )
    if p_noise < _SILENCE_POWER:
        raise SilentAudioError(f"{name}: the noise to add is silent (mean square {p_noise:.3g}); "
                               "check the noise/babble sources")
    gain = np.sqrt(p_speech / (p_noise * 10.0 ** (snr_db / 10.0)))
    return (speech + gain * noise).astype(np.float32)


def guard_clipping(x: np.ndarray, name: str = "audio") -> Tuple[np.ndarray, float]:
    """Scale ``x`` down as a whole if it peaks above 1.0, so writing it never clips.

    Scaling the whole utterance keeps its SNR; the gain is logged and returned so callers can
    report it (nothing is clipped silently).

    Args:
        x: (T,) float samples.
        name: names ``x`` in the log.

    Returns:
        (float32 samples, gain applied: 1.0 if none, else 0.99 / peak).
    """
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    if peak <= 1.0:
        return np.asarray(x, dtype=np.float32), 1.0
    gain = _GUARD_PEAK / peak
    logger.debug("%s: peak %.3f > 1.0; scaled down by %.2f dB", name, peak, 20 * np.log10(gain))
    return (np.asarray(x, dtype=np.float64) * gain).astype(np.float32), gain


def coloured_noise(kind: str, num_samples: int, rng: np.random.Generator,
                   sample_rate: int = TARGET_SR) -> np.ndarray:
    """White, pink or brown Gaussian noise of unit RMS, shaped in the frequency domain.

    White Gaussian noise is shaped by ``f**(-alpha/2)`` in amplitude: power spectral density
    ~ ``1/f**alpha`` with alpha 0 (white, flat), 1 (pink, -3 dB/octave) or 2 (brown,
    -6 dB/octave). The shaping is flat below 20 Hz and the DC bin is zeroed.

    Args:
        kind: ``white``, ``pink`` or ``brown``.
        num_samples: length T.
        rng: the generator (seeded by the caller).
        sample_rate: in Hz.

    Returns:
        (T,) float64 noise with mean square 1.

    Raises:
        ConfigError: unknown ``kind`` (lists the valid ones).
    """
    if kind not in _NOISE_ALPHA:
        raise ConfigError(f"noise kind '{kind}' is not coloured noise; valid: "
                          f"{', '.join(_NOISE_ALPHA)}")
    white = rng.standard_normal(num_samples)
    alpha = _NOISE_ALPHA[kind]
    if alpha == 0.0 or num_samples < 2:
        shaped = white
    else:
        spec = np.fft.rfft(white)
        freqs = np.fft.rfftfreq(num_samples, d=1.0 / sample_rate)
        spec *= np.maximum(freqs, _SHAPING_MIN_HZ) ** (-alpha / 2.0)
        spec[0] = 0.0
        shaped = np.fft.irfft(spec, n=num_samples)
    rms = np.sqrt(_power(shaped))
    return shaped / rms if rms > 0 else shaped


def load_16k(entry: str) -> np.ndarray:
    """Read a wav.scp entry (path or ``cmd |``) as 16 kHz mono float32 samples."""
    data, sr = read_audio(entry)
    return to_mono_16k(data, sr)


@lru_cache(maxsize=32)
def _load_normalised(entry: str) -> np.ndarray:
    x = load_16k(entry).astype(np.float64)
    p = _power(x)
    if p < _SILENCE_POWER:
        raise SilentAudioError(
            f"babble source audio '{entry}' is silent (mean square {p:.3g}); remove it from its "
            "data dir or choose another babble source"
        )
    return x / np.sqrt(p)


def make_babble(entries: Sequence[str], num_samples: int, rng: np.random.Generator,
                num_talkers: int = 5) -> np.ndarray:
    """Babble: the sum of ``num_talkers`` utterances picked from ``entries``.

    Each talker is normalised to unit RMS and looped from a random offset to ``num_samples``, so
    talkers overlap everywhere and no single voice dominates. Talkers are drawn without
    replacement when there are enough entries (else with replacement, at other offsets).

    Args:
        entries: wav.scp values (paths or ``cmd |``) of other-language speech.
        num_samples: length T at 16 kHz.
        rng: the generator (seeded by the caller).
        num_talkers: N voices summed.

    Returns:
        (T,) float64 babble with mean square 1.

    Raises:
        ConfigError: ``entries`` is empty or ``num_talkers`` < 1.
        SilentAudioError: a picked source is silent (names the file).
    """
    if not entries:
        raise ConfigError("babble needs speech to mix: no babble source utterances given")
    if num_talkers < 1:
        raise ConfigError(f"babble_talkers={num_talkers}: need at least 1")
    picks = rng.choice(len(entries), size=num_talkers, replace=len(entries) < num_talkers)
    babble = np.zeros(num_samples, dtype=np.float64)
    for i in picks:
        talker = _load_normalised(entries[int(i)])
        babble += fit_length(talker, num_samples, int(rng.integers(len(talker))))
    rms = np.sqrt(_power(babble))
    return babble / rms if rms > 0 else babble


def speed_ratio(factor: float) -> Fraction:
    """``factor`` as an exact small fraction p/q (q <= 100), as resampling needs.

    Raises:
        ConfigError: ``factor`` is not positive or not such a fraction (e.g. 0.9 -> 9/10).
    """
    if not factor > 0:
        raise ConfigError(f"speed={factor}: must be > 0 (e.g. 0.9 or 1.1)")
    ratio = Fraction(factor).limit_denominator(100)
    if abs(float(ratio) - factor) > 1e-9:
        raise ConfigError(f"speed={factor}: use a factor with at most two decimals "
                          "(a fraction p/q with q <= 100), e.g. 0.9 or 1.15")
    return ratio


def speed_perturb(x: np.ndarray, factor: float) -> np.ndarray:
    """Speed perturbation as sox ``speed`` (Kaldi/ESPnet ``perturb_data_dir_speed``).

    The signal is resampled as if it had been recorded at ``factor`` times the rate, so tempo
    *and* pitch change: factor 0.9 gives audio 1/0.9 times as long and lower.

    Args:
        x: (T,) float samples at 16 kHz.
        factor: speed factor (0.9, 1.1, ...), a fraction with denominator <= 100.

    Returns:
        (ceil(T / factor),) float32 samples at 16 kHz.
    """
    ratio = speed_ratio(factor)
    if ratio == 1:
        return np.asarray(x, dtype=np.float32)
    # factor p/q: upsample by q, downsample by p (polyphase, deterministic).
    y = resample_poly(np.asarray(x, dtype=np.float64), ratio.denominator, ratio.numerator)
    return y.astype(np.float32)


def mu_law(x: np.ndarray, mu: int = MU) -> np.ndarray:
    """8-bit mu-law companding round trip (encode to 256 levels, decode), as in G.711.

    Continuous mu-law (mu=255) with uniform 8-bit quantisation of the companded value, the same
    as ``torchaudio.functional.mu_law_encoding``/``mu_law_decoding``.

    Args:
        x: float samples in [-1, 1] (values outside are clipped: guard them first).

    Returns:
        float32 samples after quantisation.
    """
    x = np.clip(np.asarray(x, dtype=np.float64), -1.0, 1.0)
    y = np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)
    q = np.rint((y + 1.0) / 2.0 * mu)  # 0..255
    y = q / mu * 2.0 - 1.0
    return (np.sign(y) * np.expm1(np.abs(y) * np.log1p(mu)) / mu).astype(np.float32)


def apply_codec(x: np.ndarray, codec: str, name: str = "audio") -> np.ndarray:
    """A telephone channel on 16 kHz audio; the result is 16 kHz again, same length.

    ``nb8k``: band-pass 300-3400 Hz (4th-order Butterworth, zero phase), resample to 8 kHz and
    back (nothing above 4 kHz survives). ``mulaw``: 8-bit G.711 mu-law at 16 kHz.
    ``tel8k``: both, the mu-law quantisation at 8 kHz as on a G.711 line.

    Args:
        x: (T,) float samples at 16 kHz.
        codec: one of ``tel8k``, ``nb8k``, ``mulaw``.
        name: names ``x`` in the clipping log.

    Returns:
        (T,) float32 samples at 16 kHz.

    Raises:
        ConfigError: unknown ``codec`` (lists the valid ones).
    """
    return _codec(x, codec, name)[0]


def _codec(x: np.ndarray, codec: str, name: str) -> Tuple[np.ndarray, float]:
    """:func:`apply_codec`, also returning the gain of the guard before quantisation."""
    if codec not in CODECS:
        raise ConfigError(f"codec '{codec}' is unknown; valid: {', '.join(CODECS)}")
    n = len(x)
    y = np.asarray(x, dtype=np.float64)
    if codec == "mulaw":
        y, gain = guard_clipping(y, name)  # mu-law has no level above full scale
        return mu_law(y), gain
    gain = 1.0
    sos = butter(4, TEL_BAND_HZ, btype="bandpass", fs=TARGET_SR, output="sos")
    if n > 27:  # sosfiltfilt's default padding needs a few samples
        y = sosfiltfilt(sos, y)
    y = resample_poly(y, 1, 2)  # 8 kHz
    if codec == "tel8k":
        y, gain = guard_clipping(y, name)
        y = mu_law(y).astype(np.float64)
    y = resample_poly(y, 2, 1)[:n]  # back to 16 kHz; 2*ceil(n/2) may exceed n by one
    return y.astype(np.float32), gain


# --- config -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Condition:
    """One degraded test condition; the YAML entry overrides these defaults.

    Attributes:
        name: condition name; the data dir is ``<out_prefix>_<name>``.
        noise: additive noise, one of ``white``, ``pink``, ``brown``, ``babble``; needs
            ``snr_db``.
        snr_db: speech-to-noise power ratio in dB over the whole utterance.
        speed: speed factor (sox ``speed``: tempo and pitch), e.g. 0.9 or 1.1.
        codec: ``tel8k`` (narrowband + G.711 mu-law), ``nb8k`` or ``mulaw``.
        babble_talkers: voices summed in babble.
    """

    name: str
    noise: Optional[str] = None
    snr_db: Optional[float] = None
    speed: Optional[float] = None
    codec: Optional[str] = None
    babble_talkers: int = 5

    @property
    def uses_babble(self) -> bool:
        return self.noise == "babble"

    def entry(self) -> dict:
        """The settings that change the output (no name), as in the YAML."""
        d = dataclasses.asdict(self)
        d.pop("name")
        if not self.uses_babble:
            d.pop("babble_talkers")
        return {k: v for k, v in d.items() if v is not None}


CONDITION_KEYS = tuple(f.name for f in dataclasses.fields(Condition) if f.name != "name")
_TOP_KEYS = ("conditions",)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def parse_condition(name: str, raw, where: str = "config") -> Condition:
    """Check one YAML entry and build its :class:`Condition`.

    Raises:
        ConfigError: a bad name, unknown key or value (the message lists the valid ones), a
            wrongly typed value, or an incomplete entry (noise without snr_db, ...).
    """
    if not isinstance(name, str) or not _SAFE_NAME.fullmatch(name):
        raise ConfigError(f"{where}: condition name {name!r}: use letters, digits, '_', '.' and "
                          "'-' only (it names a data dir)")
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"{where}: condition '{name}' must be a non-empty mapping of "
                          f"{', '.join(CONDITION_KEYS)}; got {raw!r}")
    unknown = sorted(set(map(str, raw)) - set(CONDITION_KEYS))
    if unknown:
        raise ConfigError(f"{where}: condition '{name}': unknown key(s) "
                          f"{', '.join(map(repr, unknown))}; valid keys: "
                          f"{', '.join(CONDITION_KEYS)}")
    noise, codec = raw.get("noise"), raw.get("codec")
    if noise is not None and noise not in NOISE_TYPES:
        raise ConfigError(f"{where}: condition '{name}': noise {noise!r} is unknown; valid: "
                          f"{', '.join(NOISE_TYPES)}")
    if codec is not None and codec not in CODECS:
        raise ConfigError(f"{where}: condition '{name}': codec {codec!r} is unknown; valid: "
                          f"{', '.join(CODECS)}")
    snr = raw.get("snr_db")
    if snr is not None and not (_is_number(snr) and -30 <= snr <= 60):
        raise ConfigError(f"{where}: condition '{name}': snr_db must be a number of dB in "
                          f"[-30, 60], got {snr!r}")
    if (noise is None) != (snr is None):
        raise ConfigError(f"{where}: condition '{name}': 'noise' and 'snr_db' go together "
                          "(e.g. {noise: babble, snr_db: 10})")
    speed = raw.get("speed")
    if speed is not None:
        if not (_is_number(speed) and 0.5 <= speed <= 2.0):
            raise ConfigError(f"{where}: condition '{name}': speed must be a factor in "
                              f"[0.5, 2.0] (e.g. 0.9), got {speed!r}")
        speed_ratio(float(speed))
    talkers = raw.get("babble_talkers", Condition.babble_talkers)
    if not (isinstance(talkers, int) and not isinstance(talkers, bool) and talkers >= 1):
        raise ConfigError(f"{where}: condition '{name}': babble_talkers must be an integer "
                          f">= 1, got {talkers!r}")
    if "babble_talkers" in raw and noise != "babble":
        raise ConfigError(f"{where}: condition '{name}': babble_talkers needs noise: babble")
    return Condition(name=name, noise=noise, snr_db=None if snr is None else float(snr),
                     speed=None if speed is None else float(speed), codec=codec,
                     babble_talkers=talkers)


def load_degrade_config(path: PathLike) -> Dict[str, Condition]:
    """Read ``conf/degrade/*.yaml``: ``conditions: {name: {noise, snr_db, speed, codec, ...}}``.

    Returns:
        name -> condition, in file order.

    Raises:
        ConfigError: missing file, bad YAML, unknown top-level key, or a bad condition (see
            :func:`parse_condition`).
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"degradation config '{path}' not found (see conf/degrade/*.yaml)")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping with key 'conditions'")
    unknown = sorted(set(map(str, raw)) - set(_TOP_KEYS))
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(map(repr, unknown))}; valid keys: "
                          f"{', '.join(_TOP_KEYS)}")
    conds = raw.get("conditions")
    if not isinstance(conds, dict) or not conds:
        raise ConfigError(f"{path}: 'conditions' must be a non-empty mapping of condition "
                          "names to settings")
    return {str(n): parse_condition(str(n), c, str(path)) for n, c in conds.items()}


def select_conditions(conditions: Dict[str, Condition], names: Optional[Sequence[str]],
                      where: str = "config") -> List[Condition]:
    """The conditions named in ``names`` (all when None or empty), in config order.

    Raises:
        ConfigError: a name is not in the config (lists the ones that are).
    """
    if not names:
        return list(conditions.values())
    unknown = [n for n in names if n not in conditions]
    if unknown:
        raise ConfigError(f"condition(s) {', '.join(map(repr, unknown))} not in {where}; "
                          f"valid: {', '.join(conditions)}")
    return [c for n, c in conditions.items() if n in set(names)]


# --- one utterance ----------------------------------------------------------------------------

def utterance_rng(seed: int, stream: str, utt_id: str) -> np.random.Generator:
    """A generator seeded by ``(seed, stream, utt_id)``, the same on every machine and run."""
    digest = hashlib.sha256(f"{seed}\t{stream}\t{utt_id}".encode("utf-8")).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "little"))


def _noise_stream(cond: Condition) -> str:
    # Shared by every condition with this noise, whatever its SNR, speed or codec.
    return f"babble{cond.babble_talkers}" if cond.uses_babble else str(cond.noise)


def degrade_utterance(x: np.ndarray, cond: Condition, seed: int, utt_id: str,
                      babble_entries: Sequence[str] = (), name: str = "") -> Tuple[np.ndarray,
                                                                                    float]:
    """Apply ``cond`` to one utterance: speed, then noise at the SNR, then codec.

    Args:
        x: (T,) float samples at 16 kHz.
        cond: the condition.
        seed: global seed; with the noise kind and ``utt_id`` it seeds the noise.
        utt_id: the utterance id.
        babble_entries: wav.scp values of the babble pool (for ``noise: babble``).
        name: names the utterance in messages (default ``utterance '<utt_id>'``).

    Returns:
        (float32 samples in [-1, 1], total gain of the clipping guard: 1.0 if none).

    Raises:
        SilentAudioError: silent speech with a noise condition.
        ConfigError: babble without sources.
    """
    name = name or f"utterance '{utt_id}'"
    y = np.asarray(x, dtype=np.float32)
    gain = 1.0
    if cond.speed is not None:
        y = speed_perturb(y, cond.speed)
    if cond.noise is not None:
        rng = utterance_rng(seed, _noise_stream(cond), utt_id)
        if cond.uses_babble:
            noise = make_babble(babble_entries, len(y), rng, cond.babble_talkers)
        else:
            noise = coloured_noise(cond.noise, len(y), rng)
        y = mix_at_snr(y, noise, cond.snr_db, name)
        y, g = guard_clipping(y, name)
        gain *= g
    if cond.codec is not None:
        y, g = _codec(y, cond.codec, name)
        gain *= g
    y, g = guard_clipping(y, name)
    return y, gain * g


# --- data dirs --------------------------------------------------------------------------------

_WORKER: dict = {}


def _init_worker(state: dict) -> None:
    _WORKER.clear()
    _WORKER.update(state)


def _degrade_job(job: Tuple[str, str, str]) -> Tuple[str, float]:
    """Pool worker: (utt, source entry, output path) -> (utt, guard gain)."""
    utt, entry, out = job
    st = _WORKER
    name = f"{st['wav_scp']}: utterance '{utt}' ({entry})"
    try:
        x = load_16k(entry)
        y, gain = degrade_utterance(x, st["cond"], st["seed"], utt, st["babble"], name)
        write_wav_16k(out, y)
    except (ConfigError, DataDirError):
        raise
    except Exception as e:  # noqa: BLE001 - re-raised naming the utterance
        raise DataDirError(f"{name}: cannot make condition '{st['cond'].name}': "
                           f"{type(e).__name__}: {e}") from None
    return utt, gain


def _sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _babble_pool(data_dir: Path, sources: Sequence[PathLike]
                 ) -> Tuple[List[str], List[dict]]:
    """Entries of every babble source dir, and their descriptions for the marker/provenance.

    Raises:
        ConfigError: a source is the test set itself or has the test set's language.
        DataDirError: a source is missing or has no wav.scp.
    """
    entries: List[str] = []
    info: List[dict] = []
    test_lang = language_of(data_dir)
    for src in sources:
        src = Path(src)
        if not (src / "wav.scp").is_file():
            raise DataDirError(f"babble source '{src}': no wav.scp; pass a data dir of "
                               "other-language speech, e.g. data/train_es")
        if src.resolve() == data_dir.resolve():
            raise ConfigError(f"babble source '{src}' is the test set itself; babble must be "
                              "speech of other languages (e.g. other languages' train sets)")
        lang = language_of(src)
        if test_lang is not None and lang == test_lang:
            raise ConfigError(f"babble source '{src}' has the language of the test set "
                              f"'{data_dir}' ({lang}, from utt2lang); babble must be speech of "
                              "other languages")
        wav = read_kaldi_map(src / "wav.scp")
        entries.extend(wav[k] for k in sorted(wav))
        info.append({"dir": str(src.resolve()), "utts": len(wav), "language": lang,
                     "wav_scp_sha256": _sha256_file(src / "wav.scp")})
    return entries, info


def _provenance(cond: Condition, data_dir: Path, out_dir: Path, seed: int,
                babble_info: List[dict], rescaled: Dict[str, float], num_utts: int) -> str:
    lines = [
        f"# {out_dir.name}: degraded copy of {data_dir.name}", "",
        f"- Source data dir: `{data_dir.resolve()}` ({num_utts} utterances; same ids and "
        "transcripts, so results pair with the clean set).",
        f"- Condition `{cond.name}`: `{json.dumps(cond.entry(), sort_keys=True)}` "
        "(applied as speed, then noise at the SNR, then codec).",
        f"- Seed: {seed} (per utterance: sha256 of seed, noise kind and utterance id).",
        f"- Made by `python -m espnet_ext.bin.make_degraded_sets` (format version "
        f"{DEGRADED_SET.current}); 16 kHz mono 16-bit WAVs in `wav/`.",
    ]
    if cond.noise == "babble":
        lines.append(f"- Noise: babble of {cond.babble_talkers} talkers drawn from "
                     f"{sum(b['utts'] for b in babble_info)} utterances of:")
        lines += [f"  - `{b['dir']}` ({b['utts']} utterances, language {b['language']}, "
                  f"wav.scp sha256 {b['wav_scp_sha256'][:16]})" for b in babble_info]
    elif cond.noise is not None:
        lines.append(f"- Noise: synthetic {cond.noise} Gaussian noise (spectral shaping).")
    if rescaled:
        lines.append(f"- Clipping guard: {len(rescaled)} utterance(s) scaled down as a whole "
                     "(SNR unchanged), gain in dB:")
        lines += [f"  - {u}: {20 * np.log10(g):.2f}" for u, g in sorted(rescaled.items())]
    else:
        lines.append("- Clipping guard: no utterance needed scaling.")
    return "\n".join(lines) + "\n"


def make_degraded_set(cond: Condition, data_dir: PathLike, out_dir: PathLike,
                      babble_sources: Sequence[PathLike] = (), seed: int = 1, nj: int = 1,
                      force: bool = False) -> Path:
    """Write ``out_dir``: the data dir ``data_dir`` under condition ``cond``.

    The output holds new WAVs in ``out_dir/wav/``, its wav.scp, the clean dir's text, utt2spk,
    spk2utt (and utt2lang), ``PROVENANCE.md`` and, written last, ``.done`` with a hash of
    everything that changes the output (condition entry, the source's wav.scp/text/utt2spk,
    the babble sources' wav.scp and the seed, the last two for noise conditions only). A rerun
    with the same inputs does nothing; changed inputs (or ``force``) rebuild it from scratch.

    Args:
        cond: the condition.
        data_dir: clean, valid, 16 kHz data dir without segments.
        out_dir: the degraded data dir to write.
        babble_sources: data dirs of other-language speech (``noise: babble`` only).
        seed: global seed of the noise.
        nj: worker processes.
        force: rebuild even if ``.done`` is current, and overwrite a dir this tool did not write.

    Returns:
        ``out_dir``.

    Raises:
        ConfigError: babble without sources, a babble source that is the test set (or its
            language), ``nj`` < 1, ``out_dir`` equal to ``data_dir``.
        DataDirError: invalid source dir (or one with segments), unreadable/silent utterance
            (named), or an ``out_dir`` another tool wrote.
    """
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    if nj < 1:
        raise ConfigError(f"nj={nj}: need at least 1 process")
    if out_dir.resolve() == data_dir.resolve():
        raise ConfigError(f"output dir '{out_dir}' is the source dir; choose another "
                          "--out_prefix")
    if (data_dir / "segments").exists():
        raise DataDirError(f"{data_dir}: has a segments file; degrade whole utterances only: "
                           f"cut it first with `python -m espnet_ext.bin.format_data_dir "
                           f"{data_dir} <new_dir>`")
    if cond.uses_babble and not babble_sources:
        raise ConfigError(f"condition '{cond.name}' needs babble: pass --babble_source with a "
                          "data dir of other-language speech (e.g. data/train_es), once per dir")
    babble, babble_info = (_babble_pool(data_dir, babble_sources) if cond.uses_babble
                           else ([], []))
    if cond.uses_babble and not babble:
        raise ConfigError(f"condition '{cond.name}': the babble sources hold no utterances")

    source_files = {n: _sha256_file(data_dir / n) for n in ("wav.scp",) + COPIED_FILES
                    if (data_dir / n).is_file()}
    options = {"version": DEGRADED_SET.current, "condition": cond.entry(),
               "source": str(data_dir.resolve()), "source_files": source_files}
    if cond.noise is not None:
        options["seed"] = seed
    if cond.uses_babble:
        options["babble"] = [[b["dir"], b["wav_scp_sha256"]] for b in babble_info]
    digest = hashlib.sha256(json.dumps(options, sort_keys=True).encode("utf-8")).hexdigest()
    done = out_dir / DONE_FILE
    # Before the marker is looked at: a stale one is removed, and a foreign dir's is not ours.
    check_owned(out_dir, OWNER, force=force, who=OWNER, elsewhere="--out_prefix")
    if is_done(done, {"hash": digest, "options": options}, force=force,
               outputs=[out_dir / "wav.scp"]):
        logger.info("%s is up to date (%s); nothing to do", out_dir, done)
        return out_dir

    validate_data_dir(data_dir)
    wavs = read_kaldi_map(data_dir / "wav.scp")
    bad = [u for u in wavs if not _SAFE_NAME.fullmatch(u)]
    if bad:
        raise DataDirError(f"{data_dir / 'wav.scp'}: utterance id '{bad[0]}' cannot name a file "
                           "(use letters, digits, '_', '.' and '-')")

    # Start clean: no stale WAV of another run survives (is_done removed its marker, so a killed
    # run is redone).
    out_dir.mkdir(parents=True, exist_ok=True)
    claim_dir(out_dir, OWNER)
    wav_dir = (out_dir / "wav").resolve()
    if wav_dir.exists():
        shutil.rmtree(wav_dir)
    wav_dir.mkdir(parents=True)

    state = {"cond": cond, "seed": seed, "babble": babble, "wav_scp": str(data_dir / "wav.scp")}
    jobs = [(u, wavs[u], str(wav_dir / f"{u}.wav")) for u in sorted(wavs)]
    bar = tqdm(total=len(jobs), desc=cond.name, unit="utt", disable=None)
    rescaled: Dict[str, float] = {}
    try:
        if nj > 1 and len(jobs) > 1:
            with Pool(min(nj, len(jobs)), initializer=_init_worker, initargs=(state,)) as pool:
                for utt, gain in pool.imap_unordered(_degrade_job, jobs, chunksize=4):
                    if gain != 1.0:
                        rescaled[utt] = gain
                    bar.update()
        else:
            _init_worker(state)
            for job in jobs:
                utt, gain = _degrade_job(job)
                if gain != 1.0:
                    rescaled[utt] = gain
                bar.update()
    finally:
        bar.close()
    if rescaled:
        worst = min(rescaled.values())
        logger.warning("%s: %d of %d utterance(s) peaked above 1.0 and were scaled down as a "
                       "whole (at most %.2f dB; listed in %s)", out_dir, len(rescaled),
                       len(jobs), -20 * np.log10(worst), PROVENANCE_FILE)

    for name in COPIED_FILES:
        if (data_dir / name).is_file():  # byte copies: the source already passed validation
            with atomic_open(out_dir / name, "wb") as f:
                f.write((data_dir / name).read_bytes())
    fail_point("degraded_wavs")
    # wav.scp after the rest: with the WAVs all there, it marks a complete data dir.
    write_kaldi_map(out_dir / "wav.scp", {u: out for u, _, out in jobs})
    validate_data_dir(out_dir)
    atomic_write_text(out_dir / PROVENANCE_FILE, _provenance(
        cond, data_dir, out_dir, seed, babble_info, rescaled, len(jobs)))
    mark_done(done, {"hash": digest, "options": options})
    logger.info("wrote %s: %d utterances under condition %s", out_dir, len(jobs), cond.name)
    return out_dir


def make_degraded_sets(config: PathLike, data_dir: PathLike, out_prefix: Optional[PathLike] = None,
                       babble_sources: Sequence[PathLike] = (), seed: int = 1,
                       conditions: Optional[Sequence[str]] = None, nj: int = 1,
                       force: bool = False) -> Dict[str, Path]:
    """Write ``<out_prefix>_<condition>`` for every (selected) condition of ``config``.

    Args:
        config: ``conf/degrade/*.yaml``.
        data_dir: the clean test data dir, e.g. ``data/test_cs``.
        out_prefix: output dirs are ``<out_prefix>_<condition>`` (default: ``data_dir``).
        babble_sources: other-language data dirs for babble (e.g. ``data/train_es``).
        seed: global seed.
        conditions: names to make (default: all of the config).
        nj: worker processes per condition.
        force: rebuild everything.

    Returns:
        condition name -> data dir.

    Raises:
        ConfigError: bad config, unknown condition name, babble conditions without sources
            (checked for all selected conditions before any work).
        DataDirError: see :func:`make_degraded_set`.
    """
    selected = select_conditions(load_degrade_config(config), conditions, str(config))
    data_dir = Path(data_dir)
    prefix = str(out_prefix if out_prefix is not None else data_dir).rstrip("/" + os.sep)
    needing = [c.name for c in selected if c.uses_babble]
    if needing and not babble_sources:
        raise ConfigError(f"condition(s) {', '.join(needing)} need babble but no babble source "
                          "was given; pass --babble_source <data dir of other-language speech> "
                          "(e.g. data/train_es), once per dir, or select other --conditions")
    if needing:  # a bad babble source fails before any condition is made
        _babble_pool(data_dir, babble_sources)
    out: Dict[str, Path] = {}
    for cond in selected:
        dst = Path(f"{prefix}_{cond.name}")
        logger.info("Condition %s (%s): %s -> %s", cond.name,
                    json.dumps(cond.entry(), sort_keys=True), data_dir, dst)
        out[cond.name] = make_degraded_set(cond, data_dir, dst, babble_sources, seed, nj, force)
    return out


__all__ = [
    "NOISE_TYPES", "CODECS", "SilentAudioError", "fit_length", "mix_at_snr", "guard_clipping",
    "coloured_noise", "load_16k", "make_babble", "speed_ratio", "speed_perturb", "mu_law",
    "apply_codec", "Condition", "CONDITION_KEYS", "parse_condition", "load_degrade_config",
    "select_conditions", "utterance_rng", "degrade_utterance", "make_degraded_set",
    "make_degraded_sets",
]
