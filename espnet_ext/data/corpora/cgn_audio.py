"""Cutting CGN segments from their recordings into 16 kHz mono WAVs (atomic; a rerun keeps what
was cut), one process per recording.
"""

import logging
from multiprocessing import Pool
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import soundfile as sf

from espnet_ext.data.audio import TARGET_SR, to_mono_16k, write_wav_16k
from espnet_ext.data.corpora.cgn_segments import Segment
from espnet_ext.data.corpora.convert import is_wav_16k_mono
from espnet_ext.data.corpora.items import RawItem, SkipLog

logger = logging.getLogger(__name__)

# A segment already cut is reused only if its length matches the interval (an edited .ort with
# the same start gives the same id but other audio).
_REUSE_TOLERANCE = 0.01
def _cut_one_recording(job: Tuple[str, List[Tuple[str, float, float, str]]]
                       ) -> List[Tuple[str, Optional[float], str]]:
    """Pool worker: cut (utt, start, end, dst) segments of one wav -> (utt, seconds, error)."""
    wav, segs = job
    out: List[Tuple[str, Optional[float], str]] = []
    todo = []
    for utt, start, end, dst in segs:
        if is_wav_16k_mono(dst):  # idempotent: cut by an earlier run (writes are atomic)
            seconds = sf.info(dst).frames / TARGET_SR
            if abs(seconds - (end - start)) <= _REUSE_TOLERANCE:
                out.append((utt, seconds, ""))
                continue
        todo.append((utt, start, end, dst))
    if not todo:
        return out
    try:
        f = sf.SoundFile(wav)
    except Exception as e:  # noqa: BLE001 - reported per segment by the caller
        return out + [(utt, None, f"{type(e).__name__}: {e}") for utt, _, _, _ in todo]
    with f:
        # Seek and read each chunk: recordings last up to an hour, never load them whole.
        for utt, start, end, dst in todo:
            try:
                s0 = int(round(start * f.samplerate))
                s1 = min(int(round(end * f.samplerate)), f.frames)
                f.seek(s0)
                data = f.read(s1 - s0, dtype="float32", always_2d=False)
                mono = to_mono_16k(data, f.samplerate)
                if len(mono) == 0:
                    out.append((utt, None, "segment has 0 samples"))
                    continue
                write_wav_16k(dst, mono)
                out.append((utt, len(mono) / TARGET_SR, ""))
            except Exception as e:  # noqa: BLE001 - reported per segment by the caller
                out.append((utt, None, f"{type(e).__name__}: {e}"))
    return out


def cut_segments(by_rec: Dict[str, List[Segment]], wavs: Dict[str, Path], audio_dir: Path,
                 skips: SkipLog, nj: int = 2) -> List[RawItem]:
    """Cut every segment into ``audio_dir/<utt>.wav`` (one job per recording, ``nj`` processes).

    Returns:
        raw items pointing at the cut WAVs (failures are skipped as ``unreadable_audio``).
    """
    audio_dir.mkdir(parents=True, exist_ok=True)
    jobs = [(str(wavs[rec]), [(s.utt_id, s.start, s.end, str(audio_dir / f"{s.utt_id}.wav"))
                              for s in segs]) for rec, segs in sorted(by_rec.items())]
    if nj > 1 and len(jobs) > 1:
        with Pool(min(nj, len(jobs))) as pool:
            results = pool.map(_cut_one_recording, jobs, chunksize=1)
    else:
        results = [_cut_one_recording(j) for j in jobs]
    status = {utt: (seconds, err) for res in results for utt, seconds, err in res}
    items = []
    for rec, segs in sorted(by_rec.items()):
        for s in segs:
            seconds, err = status[s.utt_id]
            if seconds is None:
                logger.warning("%s: %s (%s): %s; skipped", skips.source, s.name, wavs[rec], err)
                skips.add("unreadable_audio", s.name)
                continue
            items.append(RawItem(s.utt_id, s.spk_id, str(audio_dir / f"{s.utt_id}.wav"),
                                 s.text, s.name))
    return items
