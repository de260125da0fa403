"""CGN, the Corpus Gesproken Nederlands (Spoken Dutch Corpus, release 2.0.x).

CGN is licensed by the Dutch Language Institute (IVDNT, formerly TST-Centrale) and is never
downloaded: ``root`` is a local copy of the release. Input layout (the one Kaldi's
``egs/cgn/s5`` reads)::

    <root>/data/audio/wav/comp-<c>/<region>/<rec>.wav            # c in a-o; region nl or vl
    <root>/data/annot/text/ort/comp-<c>/<region>/<rec>.ort.gz    # orthographic transcript
    <root>/data/meta/text/speakers.txt                           # tab-separated, header row

``<region>`` is ``vl`` (Flanders, the default) or ``nl`` (the Netherlands). An ``.ort.gz`` file
is a gzipped Praat TextGrid ("ooTextFile short"; the long text format is read too) in
ISO-8859-1, with one IntervalTier per speaker named by the speaker id (``N01234``,
``V40012``) plus annotation tiers (``BACKGROUND``, ``COMMENT``) that are not speech. An
uncompressed ``.ort`` is accepted as well.

Each non-empty interval of a speaker tier (a "chunk" of about 2-3 s) becomes one utterance: its
audio is cut from the recording into its own 16 kHz mono WAV ``<audio_dir>/<utt>.wav``
(atomically; a rerun keeps segments already cut), because the data dirs of this project hold
one file per utterance (``validate.py`` accepts a ``segments`` file, but ``read_data_dir``,
subsets and feature extraction do not). Speaker: ``cgn_<tier name>``; utterance id
``<spk>_<rec>_<start in ms, 8 digits>``, so ids sort by speaker, then recording and time.

Text: CGN's orthographic conventions are resolved by :func:`clean_cgn_text` (rules there), then
``normalize_text(text, lang)`` does the rest (case, punctuation, Dutch clitics). ``text.ort``
keeps each kept chunk's transcript exactly as CGN wrote it.

Skipped, by reason (``skipped.txt``, ``skipped.json`` and PROVENANCE.md of the data dir):
``unreadable_annotation`` (not gzip, not a TextGrid), ``no_audio`` / ``no_transcript`` (an
``.ort.gz`` without its ``.wav`` or the reverse), ``unreadable_audio``, ``unknown_tier`` (a tier
that is neither a speaker id nor BACKGROUND/COMMENT), ``bad_interval`` (end <= start),
``interval_out_of_order`` (starts before the previous interval of its tier ended),
``past_audio_end``, ``unintelligible`` (``xxx``), ``no_speech`` (only ``ggg`` or punctuation),
``too_short`` / ``too_long``, ``overlapping_speech`` (another speaker talks at the same time),
``duplicate_interval``, ``over_max_hours`` and ``empty_after_normalization``. Empty intervals
(silence between chunks) are not utterances; PROVENANCE.md counts them.

Splits: :func:`split_by_speaker` deals whole speakers to train/dev/test (seeded, by duration),
and :func:`write_text_corpus` writes the train transcripts as the joint model's text corpus.
"""

import codecs
import gzip
import logging
import re
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Set, Tuple

import soundfile as sf

from espnet_ext.data.audio import TARGET_SR, to_mono_16k, write_wav_16k
from espnet_ext.data.corpora.convert import is_wav_16k_mono
from espnet_ext.data.corpora.items import RawItem, SkipLog
from espnet_ext.data.corpora.provenance import PROVENANCE_FILE, SourceInfo
from espnet_ext.data.corpora.source_dir import write_source_dir
from espnet_ext.data.corpora.splits import check_lang_code, marker_is_current
from espnet_ext.data.kaldi import (
    make_id, read_data_dir, read_kaldi_map, write_data_dir, write_kaldi_map,
)
from espnet_ext.data.validate import validate_data_dir
from espnet_ext.errors import ConfigError, CorpusError
from espnet_ext.fileio import PathLike, atomic_write_text
from espnet_ext.steps import check_owned, claim_dir, mark_done, seeded_order
from espnet_ext.versioning import CGN_RECIPE

logger = logging.getLogger(__name__)

REGIONS = ("nl", "vl")
COMPONENTS = tuple("abcdefghijklmno")
LICENSE = "CGN licence (Dutch Language Institute), not redistributable"
AUDIO_DIR = Path("data/audio/wav")
ORT_DIR = Path("data/annot/text/ort")
SPEAKERS_FILE = Path("data/meta/text/speakers.txt")
LAYOUT_HINT = (
    "expected the CGN 2.0 layout <root>/data/audio/wav/comp-<a-o>/{nl,vl}/<rec>.wav and "
    "<root>/data/annot/text/ort/comp-<a-o>/{nl,vl}/<rec>.ort.gz (pass the directory that holds "
    "data/)"
)
SPLITS = ("train", "dev", "test")

# Speaker tiers are named by the speaker id: N (Netherlands) or V (Flanders) and five digits.
_SPEAKER_TIER = re.compile(r"^[NV]\d{5}$")
# Annotation tiers that are not speech (background noise, transcriber comments): ignored.
NON_SPEECH_TIERS = frozenset({"BACKGROUND", "COMMENT"})
# An interval ending up to this far past the end of the audio is clamped (TextGrid times are
# rounded to ms; the wav may be a few samples shorter). Further past it is an error.
_END_TOLERANCE = 0.05
# Two speakers' chunks sharing a boundary, or touching by boundary placement, are not overlap.
_OVERLAP_TOLERANCE = 0.05
# A segment already cut is reused only if its length matches the interval (an edited .ort with
# the same start gives the same id but other audio).
_REUSE_TOLERANCE = 0.01

# --- CGN orthographic conventions -------------------------------------------------------------
# Word-final codes (CGN protocol for orthographic transcription, section "special codes"):
#   *a  afgebroken woord: incomplete (broken-off) word, written as far as it was spoken
#   *d  dialect word          *n  neologism (new or made-up word)
#   *t  interjection not in the standard list   *u  mispronounced word / slip of the tongue
#   *v  foreign-language word *x  word the transcriber was not sure about
#   *z  word with a regional (dialectal) pronunciation
# The code is removed and the word kept: it was spoken. For *a the fragment is kept too ("zeg*a"
# -> "zeg"): the audio holds those sounds, and a transcript without them would leave speech the
# model must explain as nothing. Any other letter after "*" at the end of a word is removed the
# same way (the code set is closed, but a stray "*q" must not become the word "q").
_WORD_CODE = re.compile(r"(?<=\w)\*[A-Za-z](?![\w*])")
# ggg: sounds made by the speaker (laughing, coughing, breathing): not words, removed.
_SPEAKER_NOISE = frozenset({"ggg"})
# xxx / Xxx (capitalised at the start of a sentence): one or more unintelligible words. The
# transcript misses words the audio holds, so the whole chunk is skipped ("unintelligible"),
# also when the code is part of a hyphenated word ("achten-xxx-tig").
_UNINTELLIGIBLE = frozenset({"xxx", "Xxx", "XXX"})
# Filled pauses (gevulde pauzes) and backchannels as CGN spells them. They are kept by default:
# they are audible, frequent in spontaneous speech, and a model trained without them learns to
# hallucinate nothing over real sounds; drop_filled_pauses removes them (e.g. for a text-only
# LM corpus).
FILLED_PAUSES = frozenset({"uh", "uhm", "mm", "mmm", "hm", "mm-hu"})
_EDGE_PUNCT = ".,;:!?\"'()[]"


def clean_cgn_text(text: str, drop_filled_pauses: bool = False) -> Tuple[Optional[str], str]:
    """Resolve CGN's orthographic codes in one chunk (punctuation is left to the normaliser).

    Args:
        text: the interval text as in the ``.ort`` file.
        drop_filled_pauses: remove ``uh``, ``uhm``, ``mm``, ... (see :data:`FILLED_PAUSES`).

    Returns:
        (spoken text, "") or (None, skip reason): ``unintelligible`` if it holds ``xxx``,
        ``no_speech`` if nothing but speaker noise and punctuation is left.
    """
    words = []
    for token in text.split():
        core = token.strip(_EDGE_PUNCT)
        if any(part in _UNINTELLIGIBLE for part in core.split("-")):
            return None, "unintelligible"
        if core in _SPEAKER_NOISE:
            continue
        token = _WORD_CODE.sub("", token)
        if drop_filled_pauses and token.strip(_EDGE_PUNCT).lower() in FILLED_PAUSES:
            continue
        words.append(token)
    cleaned = " ".join(words)
    if not any(c.isalnum() for c in cleaned):
        return None, "no_speech"
    return cleaned, ""


# --- Praat TextGrid ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Interval:
    """One interval of a tier (times in seconds); a TextTier point has ``start == end``."""

    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Tier:
    name: str
    kind: str  # "IntervalTier" or "TextTier"
    intervals: Tuple[Interval, ...]


# Praat's text formats: strings ("" escapes a quote), numbers, <exists>/<absent>. The long
# format's labels (xmin =, item [1]:, intervals: size =) carry no data and are skipped.
_TG_TOKEN = re.compile(
    r'"((?:[^"]|"")*)"'                                   # 1: string
    r"|(<exists>|<absent>)"                               # 2: flag
    r"|([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)"   # 3: number
    r"|(\[[^\]\n]*\]|[A-Za-z_][\w?]*|[=:])"               # 4: label, skipped
    r"|(\S)"                                              # 5: anything else: an error
)


def decode_cgn(raw: bytes) -> str:
    """Decode a CGN text file (``.ort``, ``speakers.txt``): CGN writes ISO-8859-1; a BOM or valid
    UTF-8 (a re-encoded copy) wins, since Latin-1 text with accents is practically never valid
    UTF-8."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def parse_textgrid(content: str, name: str = "<string>") -> List[Tier]:
    """Parse a Praat TextGrid in the short or long text format.

    Args:
        content: the decoded file.
        name: the file, for messages.

    Returns:
        the tiers in file order.

    Raises:
        CorpusError: not a TextGrid, or truncated/garbled; names the file and the token.
    """
    tokens: List[Tuple[str, object]] = []
    for m in _TG_TOKEN.finditer(content):
        if m.group(1) is not None:
            tokens.append(("string", m.group(1).replace('""', '"')))
        elif m.group(2) is not None:
            tokens.append(("flag", m.group(2)))
        elif m.group(3) is not None:
            tokens.append(("number", float(m.group(3))))
        elif m.group(5) is not None:
            line = content.count("\n", 0, m.start()) + 1
            if m.group(5) == '"':
                raise CorpusError(f"{name}:{line}: string never closed (truncated file?)")
            raise CorpusError(f"{name}:{line}: unexpected {m.group(5)!r}; not a Praat TextGrid")
    pos = 0

    def take(kind: str, what: str):
        nonlocal pos
        if pos >= len(tokens):
            raise CorpusError(f"{name}: ends early: expected {what} (truncated file?)")
        got_kind, value = tokens[pos]
        if got_kind != kind:
            raise CorpusError(f"{name}: expected {what} ({kind}) at token {pos + 1}, got "
                              f"{got_kind} {value!r}; not a valid Praat TextGrid")
        pos += 1
        return value

    def count(what: str) -> int:
        value = take("number", what)
        if value < 0 or value != int(value):
            raise CorpusError(f"{name}: {what} must be a count, got {value}")
        return int(value)

    if "ooTextFile" not in take("string", "'File type = \"ooTextFile\"'"):
        raise CorpusError(f"{name}: not a Praat text file (no 'ooTextFile' header)")
    if take("string", "object class") != "TextGrid":
        raise CorpusError(f"{name}: a Praat file, but not a TextGrid")
    take("number", "xmin")
    take("number", "xmax")
    if take("flag", "<exists>") == "<absent>":
        return []
    tiers = []
    for _ in range(count("number of tiers")):
        kind = take("string", "tier class")
        tier_name = take("string", "tier name")
        take("number", "tier xmin")
        take("number", "tier xmax")
        n = count(f"number of intervals of tier '{tier_name}'")
        items = []
        for _ in range(n):
            if kind == "IntervalTier":
                start = take("number", f"interval start in tier '{tier_name}'")
                end = take("number", f"interval end in tier '{tier_name}'")
            elif kind == "TextTier":
                start = end = take("number", f"point time in tier '{tier_name}'")
            else:
                raise CorpusError(f"{name}: tier '{tier_name}' has unknown class '{kind}'")
            items.append(Interval(start, end, take("string", f"text in tier '{tier_name}'")))
        tiers.append(Tier(tier_name, kind, tuple(items)))
    return tiers


def read_ort(path: PathLike) -> List[Tier]:
    """Read one (gzipped) CGN ``.ort`` file.

    Raises:
        CorpusError: not gzip, or not a TextGrid; names the file.
    """
    path = Path(path)
    try:
        raw = gzip.open(path).read() if path.name.endswith(".gz") else path.read_bytes()
    except (OSError, EOFError) as e:  # gzip.BadGzipFile is an OSError
        raise CorpusError(f"{path}: cannot read the transcript ({e}); the file is damaged: "
                          "copy it again from the CGN release") from None
    return parse_textgrid(decode_cgn(raw), str(path))


# --- layout -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Recording:
    """One CGN recording: ``comp-<component>/<region>/<name>``."""

    name: str
    component: str
    region: str
    ort: Path
    wav: Path

    @property
    def key(self) -> str:
        return f"comp-{self.component}/{self.region}/{self.name}"


def _check_options(regions: Sequence[str], components: Optional[Sequence[str]]
                   ) -> Tuple[List[str], Optional[List[str]]]:
    regions = sorted(set(regions))
    if not regions or any(r not in REGIONS for r in regions):
        raise ConfigError(f"regions {list(regions)}: choose from {list(REGIONS)} "
                          "(vl = Flanders, nl = the Netherlands)")
    if components is None:
        return regions, None
    comps = sorted({c[len("comp-"):] if c.startswith("comp-") else c for c in components})
    bad = [c for c in comps if c not in COMPONENTS]
    if bad or not comps:
        raise ConfigError(f"components {list(components)}: each must be a letter a-o "
                          "(or comp-a ... comp-o)")
    return regions, comps


def _ort_stem(path: Path) -> str:
    return path.name[: -len(".ort.gz")] if path.name.endswith(".ort.gz") else path.stem


def check_layout(root: PathLike, regions: Sequence[str] = ("vl",),
                 components: Optional[Sequence[str]] = None) -> Path:
    """Check that ``root`` is a CGN release holding audio and transcripts for ``regions``.

    Raises:
        CorpusError: names every missing directory or file pattern, and the expected layout.
        ConfigError: an unknown region or component.
    """
    root = Path(root)
    regions, comps = _check_options(regions, components)
    if not root.is_dir():
        raise CorpusError(f"CGN root {root}: not a directory; {LAYOUT_HINT}")
    if (root / "audio" / "wav").is_dir() or (root / "annot").is_dir():
        raise CorpusError(f"CGN root {root}: looks like the data/ directory itself; pass its "
                          f"parent {root.parent}")
    pattern = "comp-*" if comps is None else (
        f"comp-{comps[0]}" if len(comps) == 1 else f"comp-[{''.join(comps)}]")
    missing = [str(d) for d in (AUDIO_DIR, ORT_DIR) if not (root / d).is_dir()]
    for region in regions:
        if str(ORT_DIR) not in missing:
            orts = [p for ext in ("*.ort.gz", "*.ort")
                    for p in root.glob(f"{ORT_DIR}/{pattern}/{region}/{ext}")]
            if not orts:
                missing.append(f"{ORT_DIR}/{pattern}/{region}/*.ort.gz")
        if str(AUDIO_DIR) not in missing:
            if not any(root.glob(f"{AUDIO_DIR}/{pattern}/{region}/*.wav")):
                missing.append(f"{AUDIO_DIR}/{pattern}/{region}/*.wav")
    if missing:
        raise CorpusError(f"CGN root {root}: missing {', '.join(missing)}; {LAYOUT_HINT}")
    return root


def find_recordings(root: PathLike, regions: Sequence[str], components: Optional[Sequence[str]],
                    skips: SkipLog) -> List[Recording]:
    """Pair every transcript with its audio (``no_audio`` / ``no_transcript`` otherwise).

    Returns:
        recordings sorted by component, region and name.
    """
    root = Path(root)
    regions, comps = _check_options(regions, components)
    recs = []
    comp_names = sorted({p.name for d in (ORT_DIR, AUDIO_DIR) for p in (root / d).glob("comp-?")})
    for comp_name in comp_names:
        comp = comp_name[-1]
        if comp not in COMPONENTS or (comps is not None and comp not in comps):
            continue
        for region in regions:
            orts: Dict[str, Path] = {}
            for p in sorted((root / ORT_DIR / comp_name / region).glob("*.ort*")):
                if p.name.endswith((".ort", ".ort.gz")):
                    orts.setdefault(_ort_stem(p), p)  # .ort sorts before .ort.gz: .ort wins
            wavs = {p.stem: p for p in (root / AUDIO_DIR / comp_name / region).glob("*.wav")}
            for name, ort in sorted(orts.items()):
                if name not in wavs:
                    skips.add("no_audio", f"{comp_name}/{region}/{name}")
                    continue
                recs.append(Recording(name, comp, region, ort, wavs[name]))
            for name in sorted(set(wavs) - set(orts)):
                skips.add("no_transcript", f"{comp_name}/{region}/{name}")
    return recs


def read_speakers(root: PathLike) -> Dict[str, Dict[str, str]]:
    """Read ``data/meta/text/speakers.txt`` (tab-separated, header row; ISO-8859-1).

    Returns:
        speaker id -> {column: value}; empty if the file is absent (it is metadata only).

    Raises:
        CorpusError: the file has no ``ID`` column.
    """
    path = Path(root) / SPEAKERS_FILE
    if not path.is_file():
        logger.warning("%s not found: no speaker metadata (spk2gender is not written)", path)
        return {}
    lines = decode_cgn(path.read_bytes()).splitlines()
    header = [h.strip() for h in lines[0].split("\t")] if lines else []
    id_col = next((i for i, h in enumerate(header) if h.lower() in ("id", "speakerid")), None)
    if id_col is None:
        raise CorpusError(f"{path}:1: expected a tab-separated header with an 'ID' column, got "
                          f"{header[:6]}; copy the file again from the CGN release")
    out = {}
    for line in lines[1:]:
        fields = [f.strip() for f in line.split("\t")]
        if len(fields) > id_col and fields[id_col]:
            out[fields[id_col]] = dict(zip(header, fields))
    return out


def _gender(meta: Dict[str, str]) -> Optional[str]:
    # CGN codes sex as sex1 (male) / sex2 (female); some copies write m/f.
    value = meta.get("sex", meta.get("gender", "")).strip().lower()
    return {"sex1": "m", "m": "m", "male": "m", "sex2": "f", "f": "f", "female": "f"}.get(value)


def read_release(root: PathLike) -> str:
    """The CGN release, from a version file at ``root`` or the directory name ("unknown")."""
    root = Path(root)
    for name in ("VERSION", "version", "version.txt", "VERSION.txt", "release.txt"):
        f = root / name
        if f.is_file():
            first = next((ln.strip() for ln in decode_cgn(f.read_bytes()).splitlines()
                          if ln.strip()), "")
            if first:
                return f"{first[:80]} (from {f.name})"
    m = re.search(r"\d+(?:\.\d+)+", root.resolve().name)
    if m:
        return f"{m.group(0)} (from the directory name)"
    return "unknown (no version file, no version in the directory name)"


# --- segments ---------------------------------------------------------------------------------

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


# --- splits and text corpus -------------------------------------------------------------------

def assign_speakers(spk2seconds: Dict[str, float], seed: int = 1, dev_ratio: float = 0.1,
                    test_ratio: float = 0.1) -> Dict[str, str]:
    """Deal whole speakers to test, dev and train by duration, in a seeded order.

    Speakers are ordered by a hash of ``(seed, speaker)``; each goes to test, else dev, while
    that set is empty or still below its share of the total duration and the speaker fits,
    else to train. Every set gets at least one speaker.

    Returns:
        speaker -> "train" | "dev" | "test".

    Raises:
        CorpusError: fewer than 3 speakers.
        ConfigError: ratios outside (0, 1) or summing to 1 or more.
    """
    if not (0 < dev_ratio < 1 and 0 < test_ratio < 1 and dev_ratio + test_ratio < 1):
        raise ConfigError(f"dev_ratio={dev_ratio}, test_ratio={test_ratio}: each must be in "
                          "(0, 1) and their sum below 1")
    if len(spk2seconds) < 3:
        raise CorpusError(f"only {len(spk2seconds)} speaker(s) ({sorted(spk2seconds)}); a "
                          "speaker-disjoint train/dev/test split needs at least 3 (add "
                          "components or regions, or raise max_hours)")
    total = sum(spk2seconds.values())
    targets = {"test": test_ratio * total, "dev": dev_ratio * total}
    have = {"test": 0.0, "dev": 0.0}
    out: Dict[str, str] = {}
    order = seeded_order(spk2seconds, seed)
    for spk in order:
        dur = spk2seconds[spk]
        dest = "train"
        for split in ("test", "dev"):
            if have[split] == 0 or (have[split] < targets[split]
                                    and have[split] + dur <= targets[split]):
                dest = split
                break
        if dest != "train":
            have[dest] += dur
        out[spk] = dest
    if "train" not in out.values():  # tiny inputs: the bigger held-out set gives one speaker
        donor = max(("test", "dev"), key=lambda s: sum(1 for v in out.values() if v == s))
        last = [s for s in order if out[s] == donor][-1]
        out[last] = "train"
    return out


# Per-utterance files the split sets carry beside the core data-dir files.
_CARRIED = ("utt2dur", "text.orig", "text.ort")


def _write_part(src: Path, out_dir: Path, keep: Set[str], header: str,
                owner: Optional[str] = None) -> Path:
    """Write the utterances ``keep`` of data dir ``src`` as ``out_dir`` (audio shared).

    Carries ``utt2dur``, ``text.orig``, ``text.ort`` and ``spk2gender``; ``PROVENANCE.md`` is
    ``header`` followed by the source's. With ``owner`` the dir's owner file is written first
    (so an interrupted run still owns it). The result is validated.
    """
    utts = [u for u in read_data_dir(src) if u.utt_id in keep]
    if owner is not None:
        claim_dir(out_dir, owner)
    write_data_dir(out_dir, utts, overwrite=True)
    for name in _CARRIED:
        if (src / name).is_file():
            write_kaldi_map(out_dir / name, {k: v for k, v in read_kaldi_map(src / name).items()
                                             if k in keep})
    gender_file = src / "spk2gender"
    if gender_file.is_file():
        spks = {u.spk_id for u in utts}
        write_kaldi_map(out_dir / "spk2gender",
                        {k: v for k, v in read_kaldi_map(gender_file).items() if k in spks})
    elif (out_dir / "spk2gender").exists():
        (out_dir / "spk2gender").unlink()  # from an earlier run with other speakers
    provenance = src / PROVENANCE_FILE
    body = provenance.read_text(encoding="utf-8") if provenance.is_file() else ""
    atomic_write_text(out_dir / PROVENANCE_FILE, header + body)
    stats = validate_data_dir(out_dir)
    logger.info("%s: %d utts, %d speakers, %.3f h", out_dir, stats.num_utts, stats.num_speakers,
                stats.hours)
    return out_dir


def _spk2seconds(data_dir: Path) -> Dict[str, float]:
    durs = read_kaldi_map(data_dir / "utt2dur")
    out: Dict[str, float] = {}
    for utt, spk in read_kaldi_map(data_dir / "utt2spk").items():
        out[spk] = out.get(spk, 0.0) + float(durs[utt])
    return out


def split_by_speaker(data_dir: PathLike, seed: int = 1, dev_ratio: float = 0.1,
                     test_ratio: float = 0.1) -> Dict[str, Path]:
    """Write ``<data_dir>_train``, ``_dev`` and ``_test`` with no speaker in two of them.

    Args:
        data_dir: a data dir written by :func:`prepare_cgn` (has ``utt2dur``).
        seed: decides which speakers are held out.
        dev_ratio, test_ratio: target shares of the total duration.

    Returns:
        ``{"train": path, "dev": path, "test": path}``; each is validated.

    Raises:
        CorpusError: fewer than 3 speakers.
        DataDirError: ``data_dir`` is malformed.
    """
    data_dir = Path(data_dir)
    utt2spk = read_kaldi_map(data_dir / "utt2spk")
    split_of = assign_speakers(_spk2seconds(data_dir), seed, dev_ratio, test_ratio)
    out = {}
    for split in SPLITS:
        out_dir = data_dir.parent / f"{data_dir.name}_{split}"
        header = (f"# {out_dir.name}: provenance\n\nThe '{split}' part of `{data_dir.name}`, "
                  f"split by speaker (seed {seed}, dev {dev_ratio}, test {test_ratio} of the "
                  f"duration; no speaker is in two parts) by "
                  "`espnet_ext.data.corpora.cgn.split_by_speaker`.\n\n")
        keep = {u for u, s in utt2spk.items() if split_of[s] == split}
        out[split] = _write_part(data_dir, out_dir, keep, header)
    return out


def write_text_corpus(train_dir: PathLike, held_out_dirs: Sequence[PathLike],
                      out_file: PathLike) -> int:
    """Write the train transcripts as a text corpus: one normalised sentence per line.

    Sentences are deduplicated (first in utterance order kept), and every sentence that is
    also a transcript of ``held_out_dirs`` (dev/test; the recipe adds the pre-training pool) is
    left out, so the joint model's text side never sees held-out transcripts. ``PROVENANCE.md``
    beside ``out_file`` gives the counts.

    Returns:
        the number of sentences written.

    Raises:
        CorpusError: no sentence is left.
    """
    out_file = Path(out_file)
    held_out = set()
    for d in held_out_dirs:
        held_out.update(read_kaldi_map(Path(d) / "text").values())
    texts = read_kaldi_map(Path(train_dir) / "text")
    sentences: Dict[str, None] = {}
    excluded = 0
    for _, text in sorted(texts.items()):
        if text in held_out:
            excluded += 1
        else:
            sentences.setdefault(text, None)
    if not sentences:
        raise CorpusError(f"{train_dir}: every transcript is also one of "
                          f"{', '.join(str(d) for d in held_out_dirs)}; no text corpus can be "
                          "written (hold out more speakers for text)")
    atomic_write_text(out_file, "".join(s + "\n" for s in sentences))
    atomic_write_text(out_file.parent / PROVENANCE_FILE, (
        f"# {out_file.parent.name}: provenance\n\n"
        f"- Normalised transcripts of `{train_dir}` (CGN; {LICENSE}), one per line, in "
        "utterance-id order.\n"
        f"- {len(texts)} utterances -> {len(sentences)} distinct sentences; "
        f"{excluded} utterance(s) left out because their sentence is also a transcript of "
        f"{', '.join(f'`{d}`' for d in held_out_dirs)}.\n"))
    logger.info("%s: %d sentences (%d held-out matches left out)", out_file, len(sentences),
                excluded)
    return len(sentences)


# --- the preparer -----------------------------------------------------------------------------

def corpus_name(regions: Sequence[str]) -> str:
    """``cgn_<regions>``: ``cgn_vl``, ``cgn_nl``, ``cgn_nl_vl``."""
    return "_".join(["cgn"] + sorted(set(regions)))


def prepare_cgn(
    root: PathLike,
    out_dir: PathLike,
    lang: str = "nl",
    regions: Sequence[str] = ("vl",),
    components: Optional[Sequence[str]] = None,
    min_seconds: float = 0.5,
    max_seconds: float = 20.0,
    max_hours: Optional[float] = None,
    dev_ratio: float = 0.1,
    test_ratio: float = 0.1,
    drop_overlaps: bool = True,
    drop_filled_pauses: bool = False,
    audio_dir: Optional[PathLike] = None,
    nj: int = 2,
    seed: int = 1,
) -> Dict[str, Path]:
    """Prepare CGN chunks as Kaldi data dirs, a speaker-disjoint split and a text corpus.

    Writes, with ``<name>`` = :func:`corpus_name` (``cgn_vl`` by default)::

        <out_dir>/<name>/                      # every kept chunk; text, text.orig, text.ort,
                                               # utt2dur, spk2gender, skipped.*, PROVENANCE.md
        <out_dir>/<name>_{train,dev,test}/     # split by speaker
        <out_dir>/<name>_text/sentences.txt    # train transcripts, one per line
        <audio_dir>/<utt>.wav                  # the cut chunks (default <out_dir>/audio/<name>)

    Args:
        root: the CGN release (the directory holding ``data/``).
        out_dir: where the data dirs go.
        lang: language code of the text normaliser and ``utt2lang`` (both regions are "nl").
        regions: ``vl`` (Flemish), ``nl`` (Netherlands Dutch), or both.
        components: component letters a-o (``comp-o`` also accepted); None: all present.
        min_seconds, max_seconds: chunks outside this duration range are skipped.
        max_hours: keep at most this much (seeded choice of recordings); None: all.
        dev_ratio, test_ratio: shares of the duration held out, by speaker.
        drop_overlaps: skip chunks overlapping another speaker's speech.
        drop_filled_pauses: remove uh/uhm/mm... from transcripts (kept by default).
        audio_dir: where the chunks are cut to (reused by reruns).
        nj: processes cutting audio.
        seed: seeds ``max_hours`` and the speaker split.

    Returns:
        ``{"all": <name>, "train": ..., "dev": ..., "test": ..., "text": sentences.txt}``.

    Raises:
        CorpusError: the layout is not CGN's (names what is missing), or nothing usable is left.
        ConfigError: bad regions, components, durations or ratios.
        DataDirError: a written dir fails validation (a bug, named by the validator).
    """
    if not 0 < min_seconds < max_seconds:
        raise ConfigError(f"need 0 < min_seconds < max_seconds, got {min_seconds}, "
                          f"{max_seconds}")
    root = check_layout(root, regions, components)
    regions, comps = _check_options(regions, components)
    name = corpus_name(regions)
    out_dir = Path(out_dir)
    audio = Path(audio_dir if audio_dir is not None else out_dir / "audio" / name).resolve()
    skips = SkipLog(name)
    speakers = read_speakers(root)
    recs = find_recordings(root, regions, comps, skips)
    logger.info("%s: %d recordings in %s (regions %s, components %s)", name, len(recs), root,
                regions, comps or "all")

    stats: Counter = Counter()
    by_rec: Dict[str, List[Segment]] = {}
    wavs: Dict[str, Path] = {}
    for rec in recs:
        try:
            tiers = read_ort(rec.ort)
        except CorpusError as e:
            logger.warning("%s; skipped", e)
            skips.add("unreadable_annotation", rec.key)
            continue
        try:
            info = sf.info(str(rec.wav))
            seconds = info.frames / info.samplerate
        except Exception as e:  # noqa: BLE001 - any unreadable file is skipped, named
            logger.warning("%s: cannot read the audio (%s); skipped", rec.wav, e)
            skips.add("unreadable_audio", rec.key)
            continue
        segs = recording_segments(rec, tiers, seconds, skips, stats, min_seconds, max_seconds,
                                  drop_overlaps, drop_filled_pauses, set(speakers))
        if segs:
            by_rec[rec.key] = segs
            wavs[rec.key] = rec.wav
    by_rec = cap_hours(by_rec, max_hours, seed, skips)
    items = cut_segments(by_rec, wavs, audio, skips, nj=nj)

    used_comps = sorted({k.split("/")[0] for k in by_rec})
    spks = sorted({it.spk_id for it in items})
    unknown_spk = [s for s in spks if s[len("cgn_"):] not in speakers]
    info = SourceInfo(
        title=f"Corpus Gesproken Nederlands (CGN), regions {'+'.join(regions)} "
              f"(source: {name})",
        packages=[],
        license=LICENSE,
        license_file="",  # the licence is the agreement signed with the IVDNT, not a file
        skipped_listing="`skipped.txt` of this data dir",
        source=f"CGN release {read_release(root)}, read from `{root.resolve()}` (licensed; "
               "never downloaded or redistributed)",
        notes=[
            f"Regions: {', '.join(regions)}; components: {', '.join(used_comps) or 'none'} "
            f"(requested: {', '.join(comps) if comps else 'all present'}); "
            f"{len(by_rec)} of {len(recs)} paired recordings used.",
            f"Chunks: one per non-empty speaker-tier interval of the .ort TextGrids, "
            f"{min_seconds}-{max_seconds} s, cut to 16 kHz mono WAV in `{audio}`; "
            f"overlapping speech {'dropped' if drop_overlaps else 'kept'}; max_hours "
            f"{max_hours} (seed {seed}).",
            f"Ignored (not speech): {stats['empty_intervals']} empty intervals, "
            f"{stats['ignored_tiers']} BACKGROUND/COMMENT tiers.",
            "Text: CGN codes resolved (word codes *a *d *n *t *u *v *x *z removed, the word "
            "kept; ggg removed; chunks with xxx skipped; filled pauses "
            f"{'removed' if drop_filled_pauses else 'kept'}), then normalize_text('{lang}'); "
            "text.ort holds the transcripts as written in CGN.",
            f"Speakers: {len(spks)}" + (f", {len(unknown_spk)} not in {SPEAKERS_FILE}"
                                        if speakers else f" ({SPEAKERS_FILE} not found)") + ".",
        ],
    )
    all_dir = write_source_dir(items, skips, out_dir / name, lang, audio, info, nj=nj,
                               link_ok=True)
    kept = {u.utt_id for u in read_data_dir(all_dir)}
    raw = {s.utt_id: s.raw_text for segs in by_rec.values() for s in segs if s.utt_id in kept}
    write_kaldi_map(all_dir / "text.ort", raw)
    genders = {s: _gender(speakers.get(s[len("cgn_"):], {})) for s in
               set(read_kaldi_map(all_dir / "utt2spk").values())}
    gender_file = all_dir / "spk2gender"
    if speakers and all(genders.values()):  # Kaldi wants every speaker listed, or no file
        write_kaldi_map(gender_file, genders)
    elif gender_file.exists():
        gender_file.unlink()  # from an earlier run with other speakers

    parts = split_by_speaker(all_dir, seed, dev_ratio, test_ratio)
    text_file = out_dir / f"{name}_text" / "sentences.txt"
    write_text_corpus(parts["train"], [parts["dev"], parts["test"]], text_file)
    return {"all": all_dir, **parts, "text": text_file}



# --- the data dirs of the CGN study recipe (egs2/cgn_flemish/xling1) --------------------------

RECIPE_OWNER = "cgn"


def hold_out_speakers(spk2seconds: Dict[str, float], ratio: float, seed: int = 1) -> Set[str]:
    """Whole speakers holding about ``ratio`` of the duration, in a seeded order.

    Speakers are ordered by a hash of ``(seed, "text", speaker)`` (another order than
    :func:`assign_speakers`); each is taken while none is taken yet, or while the taken share is
    below ``ratio`` and the speaker fits. At least one speaker is taken and at least one left.

    Raises:
        ConfigError: ``ratio`` outside (0, 1).
        CorpusError: fewer than 2 speakers.
    """
    if not 0 < ratio < 1:
        raise ConfigError(f"text_ratio={ratio}: must be in (0, 1) (the share of the train "
                          "speakers' duration whose transcripts become the text corpus)")
    if len(spk2seconds) < 2:
        raise CorpusError(f"only {len(spk2seconds)} train speaker(s) ({sorted(spk2seconds)}); "
                          "holding out text speakers needs at least 2 (add components or "
                          "raise max_hours)")
    target = ratio * sum(spk2seconds.values())
    have, taken = 0.0, set()
    for spk in seeded_order(spk2seconds, seed, key=lambda s: f"text\t{s}"):
        dur = spk2seconds[spk]
        if not taken or (have < target and have + dur <= target):
            taken.add(spk)
            have += dur
    return taken


def _check_free(out_dir: Path, force: bool) -> None:
    # A data dir or text corpus of someone else (the offline recipe's train_nl, a user's dir)
    # under the same name is never overwritten by accident.
    check_owned(out_dir, RECIPE_OWNER, force=force, who="this preparation (CGN)",
                elsewhere="data dir", occupied=("wav.scp", "sentences.txt"))


def _seeded_at_most(data_dir: Path, hours: float, seed: int) -> Set[str]:
    """Utterances of ``data_dir`` in a seeded order while their total stays within ``hours``
    (at least one)."""
    if hours <= 0:
        raise ConfigError(f"dev_max_hours must be > 0 (or None for all), got {hours}")
    durs = {k: float(v) for k, v in read_kaldi_map(data_dir / "utt2dur").items()}
    keep, total = set(), 0.0
    for utt in seeded_order(durs, seed):
        if keep and total + durs[utt] > hours * 3600.0:
            continue
        keep.add(utt)
        total += durs[utt]
    return keep


def prepare_cgn_recipe(
    root: PathLike,
    data_dir: PathLike,
    lang: str = "nl",
    regions: Sequence[str] = ("vl",),
    components: Optional[Sequence[str]] = None,
    max_hours: Optional[float] = None,
    text_ratio: float = 0.1,
    dev_max_hours: Optional[float] = None,
    dev_ratio: float = 0.1,
    test_ratio: float = 0.1,
    nj: int = 2,
    seed: int = 1,
    force: bool = False,
) -> Dict[str, Path]:
    """Prepare CGN for the study recipe under the data-dir names ``xling.sh`` reads.

    Runs :func:`prepare_cgn` into ``<data_dir>/local`` (audio in
    ``<data_dir>/local/audio/<name>``), then holds out whole train speakers (``text_ratio`` of
    the train duration) whose transcripts become the joint model's text corpus, and writes::

        <data_dir>/pretrain_<lang>/                the pre-training pool: train speakers minus
                                                   the text speakers (transcribed: the joint
                                                   model's paired data)
        <data_dir>/dev_<lang>/                     pre-training validation (and ASR dev): the
                                                   dev speakers, at most dev_max_hours
        <data_dir>/{train,test}_<lang>/            all train speakers / the test speakers, for
                                                   ASR on the pre-training language itself
        <data_dir>/pretrain_text_<lang>/sentences.txt
                                                   the text speakers' transcripts minus every
                                                   sentence of the pool, dev and test
        <data_dir>/local/<name>_text_speakers/     the text speakers' utterances (provenance)

    No speaker is in two of pool, text, dev and test. Each dir is validated and owned
    (``.prepared_by``); the options go to ``<data_dir>/.cgn_<lang>.done`` (written last): the
    same options again do nothing, other options need ``force``.

    Args:
        root: the CGN release (the directory holding ``data/``).
        data_dir: the recipe's data dir (``data``).
        lang, regions, components, max_hours, dev_ratio, test_ratio, nj, seed: as for
            :func:`prepare_cgn`.
        text_ratio: share of the train speakers' duration held out as text only, in (0, 1).
        dev_max_hours: cap of ``dev_<lang>`` (seeded subset of the dev speakers' utterances;
            validation runs every epoch of pre-training); None: the whole dev part.
        force: rebuild whatever the marker says, and overwrite dirs CGN did not write.

    Returns:
        ``{"pool", "dev", "train", "test", "text"}`` -> paths (``text``: sentences.txt).

    Raises:
        ConfigError: bad options, or a finished run with other options and no ``force``.
        CorpusError: the layout is not CGN's, or too few speakers for the splits.
        DataDirError: an output dir holds data CGN did not write.
    """
    check_lang_code(lang)
    data_dir = Path(data_dir)
    regions, comps = _check_options(regions, components)
    if not 0 < text_ratio < 1:
        raise ConfigError(f"text_ratio={text_ratio}: must be in (0, 1)")
    if dev_max_hours is not None and dev_max_hours <= 0:
        raise ConfigError(f"dev_max_hours={dev_max_hours}: must be > 0 (or None for all)")
    name = corpus_name(regions)
    outputs = {"pool": data_dir / f"pretrain_{lang}", "dev": data_dir / f"dev_{lang}",
               "train": data_dir / f"train_{lang}", "test": data_dir / f"test_{lang}",
               "text": data_dir / f"pretrain_text_{lang}" / "sentences.txt"}
    options = {"version": CGN_RECIPE.current, "root": str(Path(root).resolve()), "lang": lang,
               "regions": regions, "components": comps, "max_hours": max_hours,
               "text_ratio": text_ratio, "dev_max_hours": dev_max_hours,
               "dev_ratio": dev_ratio, "test_ratio": test_ratio, "seed": seed}
    marker = data_dir / f".cgn_{lang}.done"
    if marker_is_current(marker, options, force, f"CGN '{lang}' in {data_dir}", "data dir"):
        return outputs
    for key in ("pool", "dev", "train", "test"):
        _check_free(outputs[key], force)
    _check_free(outputs["text"].parent, force)

    local = data_dir / "local"
    parts = prepare_cgn(root, local, lang=lang, regions=regions, components=comps,
                        max_hours=max_hours, dev_ratio=dev_ratio, test_ratio=test_ratio,
                        nj=nj, seed=seed, audio_dir=local / "audio" / name)
    train_spk = read_kaldi_map(parts["train"] / "utt2spk")
    text_spks = hold_out_speakers(_spk2seconds(parts["train"]), text_ratio, seed)
    by = "`espnet_ext.data.corpora.cgn.prepare_cgn_recipe`"

    def header(out: Path, what: str) -> str:
        return f"# {out.name}: provenance\n\n{what} (written by {by}).\n\n"

    text_src = _write_part(
        parts["train"], local / f"{name}_text_speakers",
        {u for u, s in train_spk.items() if s in text_spks},
        header(local / f"{name}_text_speakers",
               f"The {len(text_spks)} train speakers of `{parts['train'].name}` held out as "
               f"text only (text_ratio {text_ratio}, seed {seed}): their transcripts feed "
               f"`{outputs['text'].parent.name}`, their audio is in no pre-training pool"),
        owner=RECIPE_OWNER)
    pool = _write_part(
        parts["train"], outputs["pool"],
        {u for u, s in train_spk.items() if s not in text_spks},
        header(outputs["pool"],
               f"Pre-training pool: the train speakers of `{parts['train'].name}` except the "
               f"{len(text_spks)} held out for text (`{text_src.name}`); nested amounts are "
               "seeded random subsets of it (xling.sh stage 3)"),
        owner=RECIPE_OWNER)
    dev_keep = (set(read_kaldi_map(parts["dev"] / "utt2spk")) if dev_max_hours is None
                else _seeded_at_most(parts["dev"], dev_max_hours, seed))
    _write_part(parts["dev"], outputs["dev"], dev_keep, header(
        outputs["dev"], f"Pre-training validation and ASR dev set: `{parts['dev'].name}`"
        + (f", at most {dev_max_hours} h of it (seeded subset, seed {seed})"
           if dev_max_hours is not None else "")), owner=RECIPE_OWNER)
    for key in ("train", "test"):
        _write_part(parts[key], outputs[key], set(read_kaldi_map(parts[key] / "utt2spk")),
                    header(outputs[key], f"A copy of `{parts[key].name}` (ASR on {lang})"),
                    owner=RECIPE_OWNER)
    claim_dir(outputs["text"].parent, RECIPE_OWNER)
    # The held-out sets are excluded in full (not only the capped dev_<lang>).
    write_text_corpus(text_src, [pool, parts["dev"], parts["test"]], outputs["text"])
    mark_done(marker, options, outputs=sorted(
        [p.name for k, p in outputs.items() if k != "text"] + [outputs["text"].parent.name]))
    return outputs

__all__ = [
    "clean_cgn_text", "parse_textgrid", "read_ort", "check_layout", "find_recordings",
    "read_speakers", "read_release", "recording_segments", "cap_hours", "cut_segments",
    "assign_speakers", "split_by_speaker", "write_text_corpus", "corpus_name", "prepare_cgn",
    "hold_out_speakers", "prepare_cgn_recipe",
]
