"""Which CGN chunks become utterances: speaker tiers, overlap, length and text checks per
recording (:func:`recording_segments`), and the seeded hour cap (:func:`cap_hours`).
"""

import logging
import re
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass
from typing import Dict, List, Optional, Set, Tuple

from espnet_ext.data.corpora.cgn_annotation import Interval, Tier, clean_cgn_text
from espnet_ext.data.corpora.cgn_layout import Recording
from espnet_ext.data.corpora.items import SkipLog
from espnet_ext.data.kaldi import make_id
from espnet_ext.errors import ConfigError
from espnet_ext.steps import seeded_order

logger = logging.getLogger(__name__)

# Speaker tiers are named by the speaker id: N (Netherlands) or V (Flanders) and five digits.
_SPEAKER_TIER = re.compile(r"^[NV]\d{5}$")
# Annotation tiers that are not speech (background noise, transcriber comments): ignored.
NON_SPEECH_TIERS = frozenset({"BACKGROUND", "COMMENT"})
# An interval ending up to this far past the end of the audio is clamped (TextGrid times are
# rounded to ms; the wav may be a few samples shorter). Further past it is an error.
_END_TOLERANCE = 0.05
# Two speakers' chunks sharing a boundary, or touching by boundary placement, are not overlap.
_OVERLAP_TOLERANCE = 0.05

@dataclass(frozen=True)
class Segment:
    """One chunk to cut: ``recording.wav[start:end]`` said by ``spk_id``."""

    utt_id: str
    spk_id: str
    rec: str  # Recording.key
    start: float
    end: float
    raw_text: str
    text: str  # after clean_cgn_text

    @property
    def seconds(self) -> float:
        return self.end - self.start

    @property
    def name(self) -> str:
        return f"{self.rec}:{self.spk_id}:{self.start:.3f}-{self.end:.3f}"


def speaker_id(tier_name: str) -> str:
    """``cgn_<tier>``: prefixed so that speakers of other corpora can never collide."""
    return make_id("cgn", tier_name)


def _overlaps(start: float, end: float, starts: List[float], ends: List[float]) -> bool:
    """Does [start, end] overlap one of a tier's intervals (sorted, not overlapping each other)?

    Bisect, then walk back while the intervals still end after ``start``: comp-a recordings have
    a thousand chunks per speaker, so comparing every pair would be quadratic.
    """
    j = bisect_left(starts, end - _OVERLAP_TOLERANCE)
    while j > 0:
        j -= 1
        if min(end, ends[j]) - max(start, starts[j]) > _OVERLAP_TOLERANCE:
            return True
        if ends[j] <= start + _OVERLAP_TOLERANCE:
            return False
    return False


def recording_segments(
    rec: Recording, tiers: List[Tier], audio_seconds: float, skips: SkipLog,
    stats: Counter, min_seconds: float = 0.5, max_seconds: float = 20.0,
    drop_overlaps: bool = True, drop_filled_pauses: bool = False,
    known_speakers: Optional[Set[str]] = None,
) -> List[Segment]:
    """Turn one recording's tiers into the segments to keep, recording every rejection.

    Args:
        rec: the recording.
        tiers: its parsed ``.ort`` file.
        audio_seconds: length of its audio.
        skips: rejected intervals go here by reason.
        stats: counts ``empty_intervals`` and ``ignored_tiers`` (not skips: not speech).
        min_seconds, max_seconds: kept chunk durations.
        drop_overlaps: skip chunks during which another speaker talks.
        drop_filled_pauses: see :func:`clean_cgn_text`.
        known_speakers: ids from ``speakers.txt``; such tiers are speakers even if their name
            is not ``[NV]`` + 5 digits.

    Returns:
        segments in tier order, then time.
    """
    # tier -> (starts, ends) of its valid non-empty intervals, in time order
    speech: Dict[str, Tuple[List[float], List[float]]] = {}
    candidates: List[Tuple[str, Interval]] = []
    for tier in tiers:
        if tier.name in NON_SPEECH_TIERS:
            stats["ignored_tiers"] += 1
            continue
        is_speaker = _SPEAKER_TIER.match(tier.name) or tier.name in (known_speakers or ())
        if tier.kind != "IntervalTier" or not is_speaker:
            n = sum(1 for iv in tier.intervals if iv.text.strip())
            skips.add("unknown_tier", f"{rec.key}:{tier.name} ({tier.kind}, {n} non-empty)")
            continue
        prev_end = 0.0
        for iv in tier.intervals:
            where = f"{rec.key}:{speaker_id(tier.name)}:{iv.start:.3f}-{iv.end:.3f}"
            if not iv.text.strip():
                stats["empty_intervals"] += 1
                prev_end = max(prev_end, iv.end)
                continue
            if iv.end <= iv.start:
                skips.add("bad_interval", where)
                continue
            if iv.start < prev_end - 1e-3:
                logger.warning("%s: tier %s: interval %.3f-%.3f starts before the previous "
                               "one ended (%.3f); skipped", rec.ort, tier.name, iv.start, iv.end,
                               prev_end)
                skips.add("interval_out_of_order", where)
                continue
            prev_end = iv.end
            if iv.end > audio_seconds + _END_TOLERANCE:
                logger.warning("%s: tier %s: interval %.3f-%.3f ends past the audio (%.3f s, "
                               "%s); skipped", rec.ort, tier.name, iv.start, iv.end,
                               audio_seconds, rec.wav)
                skips.add("past_audio_end", where)
                continue
            iv = Interval(iv.start, min(iv.end, audio_seconds), iv.text)
            starts, ends = speech.setdefault(tier.name, ([], []))
            starts.append(iv.start)
            ends.append(iv.end)
            candidates.append((tier.name, iv))
    out: List[Segment] = []
    seen = set()
    for tier_name, iv in candidates:
        spk = speaker_id(tier_name)
        utt = make_id(spk, rec.name, f"{int(round(iv.start * 1000)):08d}")
        seg = Segment(utt, spk, rec.key, iv.start, iv.end, " ".join(iv.text.split()), "")
        text, reason = clean_cgn_text(iv.text, drop_filled_pauses)
        if text is None:
            skips.add(reason, f"{seg.name} ({seg.raw_text[:60]})")
            continue
        if seg.seconds < min_seconds:
            skips.add("too_short", seg.name)
            continue
        if seg.seconds > max_seconds:
            skips.add("too_long", seg.name)
            continue
        if drop_overlaps and any(_overlaps(iv.start, iv.end, *se)
                                 for name, se in speech.items() if name != tier_name):
            skips.add("overlapping_speech", seg.name)
            continue
        if utt in seen:
            skips.add("duplicate_interval", seg.name)
            continue
        seen.add(utt)
        out.append(Segment(utt, spk, rec.key, iv.start, iv.end, seg.raw_text, text))
    return out


def cap_hours(by_rec: Dict[str, List[Segment]], max_hours: Optional[float], seed: int,
              skips: SkipLog) -> Dict[str, List[Segment]]:
    """Keep at most ``max_hours``: whole recordings in a seeded order, the last one cut short.

    Recordings (not segments) are drawn so that speakers are not thinned out; left-out ones are
    recorded as ``over_max_hours`` with their segment count.
    """
    if max_hours is None:
        return by_rec
    if max_hours <= 0:
        raise ConfigError(f"max_hours must be > 0 (or None for all), got {max_hours}")
    budget, used = max_hours * 3600.0, 0.0
    out: Dict[str, List[Segment]] = {}
    for rec in seeded_order(by_rec, seed):
        segs = by_rec[rec]
        take = []
        for seg in segs:
            if used + seg.seconds > budget:
                break
            take.append(seg)
            used += seg.seconds
        if take:
            out[rec] = take
        if len(take) < len(segs):
            skips.add("over_max_hours", f"{rec} ({len(segs) - len(take)} of {len(segs)} "
                                        "segments)")
    return out
