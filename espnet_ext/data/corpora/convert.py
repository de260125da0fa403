"""Source audio -> 16 kHz mono 16-bit WAV, idempotent and atomic, in a process pool."""

import logging
import os
import shutil
from multiprocessing import Pool
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import soundfile as sf

from espnet_ext.data.audio import TARGET_SR, convert_to_16k_wav
from espnet_ext.data.corpora.items import RawItem, SkipLog
from espnet_ext.fileio import PathLike

logger = logging.getLogger(__name__)


def is_wav_16k_mono(path: PathLike) -> bool:
    """True if ``path`` is a non-empty 16 kHz mono 16-bit PCM WAV (header check only)."""
    try:
        info = sf.info(str(path))
    except Exception:  # noqa: BLE001 - any unreadable file is "not a good wav"
        return False
    return (
        info.format == "WAV" and info.subtype == "PCM_16" and info.samplerate == TARGET_SR
        and info.channels == 1 and info.frames > 0
    )


def _convert_one(job: Tuple[str, str, bool]) -> Tuple[str, Optional[float], str]:
    """Pool worker: (src, dst, link_ok) -> (dst, seconds or None, error message)."""
    src, dst, link_ok = job
    try:
        if is_wav_16k_mono(dst):  # idempotent: a previous run (or this one) finished it
            return dst, sf.info(dst).frames / TARGET_SR, ""
        if link_ok and is_wav_16k_mono(src):
            # Already in the target format: hard-link (a package upgrade replaces the file,
            # the link keeps our copy) or copy, atomically.
            tmp = f"{dst}.tmp{os.getpid()}"
            try:
                os.link(src, tmp)
            except OSError:
                shutil.copyfile(src, tmp)
            os.replace(tmp, dst)
            return dst, sf.info(dst).frames / TARGET_SR, ""
        seconds = convert_to_16k_wav(src, dst)
        if seconds <= 0:
            return dst, None, "audio has 0 samples"
        return dst, seconds, ""
    except Exception as e:  # noqa: BLE001 - reported per item by the caller
        return dst, None, f"{type(e).__name__}: {e}"


def convert_audio(
    items: Sequence[RawItem], audio_dir: PathLike, skips: SkipLog, nj: int = 2,
    link_ok: bool = False,
) -> Tuple[List[RawItem], Dict[str, float], Dict[str, str]]:
    """Convert every item's audio to ``audio_dir/<utt_id>.wav`` (16 kHz mono PCM16).

    An output that already exists with the right header is kept (reruns are cheap); each output
    is written atomically. Unreadable or empty inputs are skipped under reason
    ``unreadable_audio`` naming the item and the error.

    Args:
        items: candidate utterances.
        audio_dir: output directory (created).
        skips: where skipped items are recorded.
        nj: worker processes (1: no pool).
        link_ok: inputs already 16 kHz mono PCM16 WAV are hard-linked/copied, not re-encoded.

    Returns:
        (kept items, utt_id -> seconds, utt_id -> output path).
    """
    audio_dir = Path(audio_dir).resolve()
    audio_dir.mkdir(parents=True, exist_ok=True)
    jobs = [(it.src_audio, str(audio_dir / f"{it.utt_id}.wav"), link_ok) for it in items]
    if nj > 1 and len(jobs) > 1:
        with Pool(min(nj, len(jobs))) as pool:
            results = pool.map(_convert_one, jobs, chunksize=8)
    else:
        results = [_convert_one(j) for j in jobs]
    kept, durations, paths = [], {}, {}
    for it, (dst, seconds, err) in zip(items, results):
        if seconds is None:
            logger.warning("%s: item '%s' (%s): %s; skipped", skips.source, it.name,
                           it.src_audio, err)
            skips.add("unreadable_audio", it.name)
            continue
        kept.append(it)
        durations[it.utt_id] = seconds
        paths[it.utt_id] = dst
    return kept, durations, paths
