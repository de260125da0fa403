"""Validation of Kaldi-style data directories.

Run at the start of every stage that consumes data (``python -m espnet_ext.bin.validate_data_dir``)
and at the end of every corpus preparation. It never modifies the directory. Every problem is
reported as a :class:`DataDirError` naming the file, line or utterance, with the fix.
"""

import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import soundfile as sf

from espnet_ext.data.audio import TARGET_SR, read_audio
from espnet_ext.data.kaldi import read_kaldi_map
from espnet_ext.errors import DataDirError
from espnet_ext.fileio import PathLike

logger = logging.getLogger(__name__)

REQUIRED_FILES = ("wav.scp", "text", "utt2spk")
# utt2dur may differ from the audio by max(this many seconds, this fraction): it is written to
# 3 decimals, and durations of decoded or piped audio (MP3 padding, resampling) may differ by a
# few tens of ms; an utt2dur of another or a cut file is off by far more.
UTT2DUR_TOLERANCE_S = 0.05
UTT2DUR_TOLERANCE_REL = 0.01


@dataclass
class DataDirStats:
    """What a valid data dir holds."""

    path: str
    num_utts: int
    num_speakers: int
    hours: float
    languages: List[str] = field(default_factory=list)


def _check_sorted(path: Path, keys: List[str]) -> None:
    # Kaldi/ESPnet tools merge files by id assuming C-locale order (Python's str order for ASCII).
    for prev, cur in zip(keys, keys[1:]):
        if cur < prev:
            raise DataDirError(
                f"{path}: not sorted: '{cur}' comes after '{prev}'; "
                f"sort it with `LC_ALL=C sort -k1,1 -o {path} {path}`"
            )


# Bytes per sample of the WAV subtypes whose data size the header declares.
_WAV_SAMPLE_BYTES = {"PCM_U8": 1, "PCM_S8": 1, "PCM_16": 2, "PCM_24": 3, "PCM_32": 4, "FLOAT": 4,
                     "DOUBLE": 8}


def _declared_wav_bytes(path: str) -> Optional[int]:
    """The size of a RIFF/WAVE file's data chunk as its header declares it (None: not a WAV, or
    no data chunk in the first 64 KiB)."""
    with open(path, "rb") as f:
        head = f.read(65536)
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    pos = 12
    while pos + 8 <= len(head):
        size = int.from_bytes(head[pos + 4:pos + 8], "little")
        if head[pos:pos + 4] == b"data":
            return size
        pos += 8 + size + (size & 1)
    return None


def _check_samples(utt: str, entry: str, wav_scp: Path, info) -> None:
    """Refuse audio that libsndfile reads without complaint but that is not what it claims: a WAV
    cut short (libsndfile silently reads what is there) and float samples that are NaN/inf."""
    where = f"{wav_scp}: utterance '{utt}': audio '{entry}'"
    bps = _WAV_SAMPLE_BYTES.get(info.subtype)
    declared = _declared_wav_bytes(entry) if info.format == "WAV" and bps else None
    # 0 and 0xFFFFFFFF: a streaming writer that never filled in the size
    if declared not in (None, 0, 0xFFFFFFFF):
        frames = declared // (bps * info.channels)
        if frames > info.frames:
            raise DataDirError(
                f"{where} is truncated: its header declares {frames / info.samplerate:.2f} s "
                f"but the file holds {info.frames / info.samplerate:.2f} s (an interrupted copy "
                "or conversion?); copy or convert it again")
    if info.subtype in ("FLOAT", "DOUBLE"):
        data, _ = sf.read(entry, dtype="float64", always_2d=True)
        bad = np.flatnonzero(~np.isfinite(data).all(axis=1))
        if bad.size:
            raise DataDirError(
                f"{where} has {bad.size} sample(s) that are NaN or infinite (first at "
                f"{bad[0] / info.samplerate:.3f} s); fix or drop the utterance")


def _audio_info(utt: str, entry: str, wav_scp: Path) -> tuple:
    """Return (seconds, sample_rate, channels) of one wav.scp entry, or raise naming ``utt``."""
    try:
        if entry.rstrip().endswith("|"):
            data, sr = read_audio(entry)
            frames, channels = data.shape[0], (1 if data.ndim == 1 else data.shape[1])
        else:
            if not Path(entry).is_file():
                relative = ("" if Path(entry).is_absolute() else
                            f" (a relative path is resolved against the working directory "
                            f"{os.getcwd()}; write absolute paths in wav.scp)")
                raise DataDirError(
                    f"{wav_scp}: utterance '{utt}': audio file '{entry}' does not exist{relative}"
                )
            if Path(entry).stat().st_size == 0:
                raise DataDirError(
                    f"{wav_scp}: utterance '{utt}': audio file '{entry}' is an empty file "
                    "(0 bytes)")
            info = sf.info(entry)
            frames, sr, channels = info.frames, info.samplerate, info.channels
            _check_samples(utt, entry, wav_scp, info)
    except DataDirError:
        raise
    except Exception as e:  # noqa: BLE001 - libsndfile/subprocess errors, re-raised with context
        raise DataDirError(
            f"{wav_scp}: utterance '{utt}': cannot read audio '{entry}': {e}"
        ) from None
    if frames == 0:
        raise DataDirError(f"{wav_scp}: utterance '{utt}': audio '{entry}' is empty (0 samples)")
    return frames / sr, sr, channels


def _read_utt2dur(path: Path, utt_set: set) -> Dict[str, float]:
    """utt2dur as seconds; every line names a known utterance and a positive number."""
    durs: Dict[str, float] = {}
    # read_kaldi_map refuses empty lines, so its n-th key is on line n
    for line_no, (utt, value) in enumerate(read_kaldi_map(path).items(), start=1):
        if utt not in utt_set:
            raise DataDirError(
                f"{path}:{line_no}: utterance '{utt}' is not in the data dir; remove the line "
                "or regenerate utt2dur")
        try:
            seconds = float(value)
        except ValueError:
            seconds = math.nan
        if not (math.isfinite(seconds) and seconds > 0):
            raise DataDirError(
                f"{path}:{line_no}: utterance '{utt}': duration '{value}' is not a positive "
                "number of seconds; regenerate utt2dur")
        durs[utt] = seconds
    missing = sorted(utt_set - set(durs))
    if missing:
        raise DataDirError(
            f"{path}: {len(missing)} utterance(s) missing (first: '{missing[0]}'); every file "
            "must list the same utterances: regenerate utt2dur")
    return durs


def validate_data_dir(
    data_dir: PathLike,
    check_audio: bool = True,
    sample_rate: Optional[int] = TARGET_SR,
    require_text: bool = True,
) -> DataDirStats:
    """Check a data dir is complete and consistent, and that its audio is usable.

    Checks: required files exist and are UTF-8; ids are unique and sorted; every file covers
    the same utterances; transcripts are non-empty; utt2spk and spk2utt agree; segments (if
    present) are within their recordings; audio exists, is readable, non-empty, mono and at
    ``sample_rate``; ``utt2dur`` (if present) lists every utterance with a duration that
    matches its audio.

    Args:
        data_dir: the directory.
        check_audio: open every audio file's header (pipes are run).
        sample_rate: required rate in Hz; None accepts any.
        require_text: a ``text`` file is needed (False for unlabelled pre-training audio).

    Returns:
        counts and total duration.

    Raises:
        DataDirError: the first problem found, naming file/line/utterance and the fix.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataDirError(f"{data_dir}: data directory not found")
    required = [f for f in REQUIRED_FILES if require_text or f != "text"]
    for name in required:
        if not (data_dir / name).is_file():
            raise DataDirError(f"{data_dir}: required file '{name}' is missing")

    wav_scp = data_dir / "wav.scp"
    wavs = read_kaldi_map(wav_scp)
    _check_sorted(wav_scp, list(wavs))

    segments_file = data_dir / "segments"
    segments: Dict[str, tuple] = {}
    if segments_file.is_file():
        for utt, rest in read_kaldi_map(segments_file).items():
            fields = rest.split()
            try:
                rec, start, end = fields[0], float(fields[1]), float(fields[2])
            except (IndexError, ValueError):
                raise DataDirError(
                    f"{segments_file}: utterance '{utt}': expected '<utt> <rec> <start> <end>', "
                    f"got '{utt} {rest}'"
                ) from None
            if rec not in wavs:
                raise DataDirError(
                    f"{segments_file}: utterance '{utt}': recording '{rec}' is not in {wav_scp}"
                )
            if not 0 <= start < end:
                raise DataDirError(
                    f"{segments_file}: utterance '{utt}': need 0 <= start < end, got {start} {end}"
                )
            segments[utt] = (rec, start, end)
        utt_ids = list(segments)
        _check_sorted(segments_file, utt_ids)
    else:
        utt_ids = list(wavs)
    if not utt_ids:
        raise DataDirError(f"{wav_scp}: no utterances (the file is empty); the data dir holds "
                           "nothing to train or test on")
    utt_set = set(utt_ids)

    def check_same_ids(name: str, keys: List[str]) -> None:
        missing = sorted(utt_set - set(keys))
        extra = sorted(set(keys) - utt_set)
        if missing or extra:
            raise DataDirError(
                f"{data_dir / name}: does not match the utterance list"
                + (f"; missing {len(missing)} (first: '{missing[0]}')" if missing else "")
                + (f"; unknown {len(extra)} (first: '{extra[0]}')" if extra else "")
                + "; every file must list the same utterances"
            )

    texts: Dict[str, str] = {}
    if require_text:
        texts = read_kaldi_map(data_dir / "text", allow_empty_value=True)
        _check_sorted(data_dir / "text", list(texts))
        check_same_ids("text", list(texts))
        for utt, t in texts.items():
            if not t.strip():
                raise DataDirError(
                    f"{data_dir / 'text'}: utterance '{utt}' has an empty transcript; "
                    "remove the utterance from every file of the data dir or transcribe it"
                )

    utt2spk = read_kaldi_map(data_dir / "utt2spk")
    _check_sorted(data_dir / "utt2spk", list(utt2spk))
    check_same_ids("utt2spk", list(utt2spk))
    spk2utt_file = data_dir / "spk2utt"
    if spk2utt_file.is_file():
        spk2utt = read_kaldi_map(spk2utt_file)
        derived: Dict[str, set] = {}
        for utt, spk in utt2spk.items():
            derived.setdefault(spk, set()).add(utt)
        for spk, utts in spk2utt.items():
            if set(utts.split()) != derived.get(spk, set()):
                raise DataDirError(
                    f"{spk2utt_file}: speaker '{spk}' does not match utt2spk; "
                    "regenerate spk2utt from utt2spk"
                )
        if set(spk2utt) != set(derived):
            raise DataDirError(f"{spk2utt_file}: speakers differ from utt2spk; regenerate it")

    utt2lang_file = data_dir / "utt2lang"
    languages: List[str] = []
    if utt2lang_file.is_file():
        utt2lang = read_kaldi_map(utt2lang_file)
        check_same_ids("utt2lang", list(utt2lang))
        languages = sorted(set(utt2lang.values()))

    utt2dur_file = data_dir / "utt2dur"
    utt2dur = _read_utt2dur(utt2dur_file, utt_set) if utt2dur_file.is_file() else {}

    total = 0.0
    if check_audio:
        durations = {}
        for rec, entry in wavs.items():
            seconds, sr, channels = _audio_info(rec, entry, wav_scp)
            if sample_rate is not None and sr != sample_rate:
                raise DataDirError(
                    f"{wav_scp}: utterance '{rec}': audio '{entry}' is {sr} Hz, expected "
                    f"{sample_rate} Hz; convert the dir with "
                    f"`python -m espnet_ext.bin.format_data_dir {data_dir} <new_dir>`"
                )
            if channels != 1:
                raise DataDirError(
                    f"{wav_scp}: utterance '{rec}': audio '{entry}' has {channels} channels, "
                    f"expected mono; convert the dir with "
                    f"`python -m espnet_ext.bin.format_data_dir {data_dir} <new_dir>`"
                )
            durations[rec] = seconds
        if segments:
            utt_seconds = {}
            for utt, (rec, start, end) in segments.items():
                if end > durations[rec] + 0.01:
                    raise DataDirError(
                        f"{segments_file}: utterance '{utt}': ends at {end:.2f} s but recording "
                        f"'{rec}' lasts {durations[rec]:.2f} s"
                    )
                utt_seconds[utt] = min(end, durations[rec]) - start
                total += end - start
        else:
            utt_seconds = durations
            total = sum(durations.values())
        for utt, listed in utt2dur.items():
            actual = utt_seconds[utt]
            if abs(listed - actual) > max(UTT2DUR_TOLERANCE_S, UTT2DUR_TOLERANCE_REL * actual):
                raise DataDirError(
                    f"{data_dir}: utterance '{utt}': utt2dur says {listed:.3f} s but its audio "
                    f"lasts {actual:.3f} s; regenerate utt2dur or fix the audio")

    stats = DataDirStats(
        path=str(data_dir),
        num_utts=len(utt_ids),
        num_speakers=len(set(utt2spk.values())),
        hours=total / 3600.0,
        languages=languages,
    )
    logger.info(
        "validated %s: %d utts, %d speakers, %s",
        data_dir, stats.num_utts, stats.num_speakers,
        f"{stats.hours:.3f} h" if check_audio else "audio not read",
    )
    return stats
