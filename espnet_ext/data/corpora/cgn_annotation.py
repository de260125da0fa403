"""CGN annotation: its orthographic conventions (:func:`clean_cgn_text`) and its ``.ort`` files
(gzipped Praat TextGrids in ISO-8859-1, one tier per speaker).
"""

import codecs
import gzip
import re
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

from espnet_ext.errors import CorpusError
from espnet_ext.fileio import PathLike

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
