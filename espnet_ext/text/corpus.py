"""Text corpora for pre-training, built offline from Debian packages installed on the machine.

The default Dutch corpus reads the help, documentation, manual pages and game dialogues of a
few packages (``tools/debian_packages.d/pretrain.txt``):

=====================  ======  ===================================================
package                kind    files
=====================  ======  ===================================================
libreoffice-help-nl    html    /usr/share/libreoffice/help/nl/text/**/*.html
manpages-nl            man     /usr/share/man/nl/man*/*.gz (roff)
debian-faq-nl          html    /usr/share/doc/debian/FAQ/nl/*.html
aptitude-doc-nl        html    /usr/share/doc/aptitude/html/nl/*.html
fillets-ng-data        lua     /usr/share/games/fillets-ng/script/*/*dialogs_nl.lua
=====================  ======  ===================================================

Only packages named explicitly are read (not every text file that happens to be installed),
so the corpus depends on the package list and versions alone, which ``provenance.txt`` records.
Another language needs only data: the package names are templates on ``{lang}`` and the
language filter needs a stop-word list in :data:`STOPWORDS`.

Pipeline: extract text blocks per file kind -> split into sentences -> keep sentences that
look like prose in the language -> normalise -> deduplicate -> drop every sentence of the
dev/test transcripts -> shuffle with the seed -> write atomically.
"""

import glob
import gzip
import hashlib
import logging
import re
import unicodedata
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

from espnet_ext.data.corpora.debian import debian_licence, dpkg_version
from espnet_ext.data.kaldi import read_kaldi_map
from espnet_ext.errors import ConfigError, CorpusError
from espnet_ext.fileio import PathLike, atomic_write_text
from espnet_ext.steps import is_done, mark_done, seeded_shuffle

logger = logging.getLogger(__name__)

KINDS = ("html", "man", "lua", "text")


@dataclass(frozen=True)
class TextSource:
    """Where one package's text lives and how to read it.

    Attributes:
        package: Debian package providing the files; it is named in errors and provenance.
        kind: one of :data:`KINDS` (how a file is turned into text blocks).
        root: directory the patterns are relative to.
        patterns: glob patterns (``**`` allowed) under ``root``.
    """

    package: str
    kind: str
    root: str
    patterns: Tuple[str, ...]

    def files(self) -> List[Path]:
        """Matched files, sorted (the corpus must not depend on directory listing order)."""
        found = set()
        for pat in self.patterns:
            found.update(glob.glob(str(Path(self.root) / pat), recursive=True))
        return sorted(Path(f) for f in found if Path(f).is_file())


# Templates on {lang}; a language lacking one of these packages passes its own ``sources``.
_DEFAULT_SOURCE_TEMPLATES: Tuple[Tuple[str, str, str, Tuple[str, ...]], ...] = (
    ("libreoffice-help-{lang}", "html", "/usr/share/libreoffice/help/{lang}", ("text/**/*.html",)),
    ("manpages-{lang}", "man", "/usr/share/man/{lang}", ("man*/*",)),
    ("debian-faq-{lang}", "html", "/usr/share/doc/debian/FAQ/{lang}", ("*.html",)),
    ("aptitude-doc-{lang}", "html", "/usr/share/doc/aptitude/html/{lang}", ("*.html",)),
    ("fillets-ng-data", "lua", "/usr/share/games/fillets-ng/script", ("*/*dialogs_{lang}.lua",)),
)


def default_sources(lang: str = "nl") -> List[TextSource]:
    """The Debian text sources for ``lang`` (see the module docstring)."""
    return [
        TextSource(pkg.format(lang=lang), kind, root.format(lang=lang),
                   tuple(p.format(lang=lang) for p in pats))
        for pkg, kind, root, pats in _DEFAULT_SOURCE_TEMPLATES
    ]


# Function words: a cheap language-ID. A sentence is kept if enough of its words are in the
# language's list and more of them are in it than in the English list (English is what leaks
# into untranslated help pages and man pages).
STOPWORDS: Dict[str, frozenset] = {
    "nl": frozenset(
        "de het een en van in is op te dat die voor met niet zijn er aan als ook om door bij of "
        "naar je u uw wordt worden kan kunt dit deze wat zo al nog maar tot uit over dan hij zij "
        "ze we wij ik mij me mijn hem haar hun ons onze geen meer moet moeten wel heb hebt heeft "
        "hebben was waren werd zal zullen zou zouden waar hoe wie welke omdat wanneer tussen "
        "onder na zonder hier daar nu alle elk elke ieder iets niets veel dus toch even mee "
        "terwijl hierbij hiermee waarmee waarin".split()
    ),
}
_ENGLISH = frozenset(
    "the and of to a is in that it for on with as are be this by or not you your from at an "
    "can will which if when all has have was were use used".split()
)
_MIN_STOPWORD_RATIO = 0.15

_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*", re.UNICODE)
# Code, options, paths, URLs, markup leftovers, format strings.
_CODE_CHARS = re.compile(r"[/\\_=<>{}\[\]|#@$%^*~`+]|://|--|\.\.\w")
_OPTION = re.compile(r"(?:^|\s)-{1,2}\w")
_DOTTED = re.compile(r"[^\W\d_]{2,}\.[^\W\d_]{2,}")  # file.txt, www.example, os.path
_SENT_END = re.compile(r"[.!?…][\"'”’)]*$")
_SPLIT = re.compile(r"(?<=[.!?…])[\"'”’)]*\s+(?=[\"'“‘(]*[^\W\d_])")
_QUOTES = str.maketrans({"´": "'", "`": "'", "’": "'", "‘": "'", "“": '"', "”": '"',
                         "„": '"', "«": '"', "»": '"', "–": "-", "—": "-", "\u00a0": " ",
                         "\u202f": " ", "\u2009": " ", "\u200b": ""})


# ----------------------------------------------------------------------------------------------
# Text extraction per file kind: each yields text blocks (paragraphs), not yet sentences.


class _HtmlBlocks(HTMLParser):
    """Collect the visible text of an HTML page as blocks, one per block-level element."""

    _BLOCK = {"p", "div", "li", "td", "th", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "br",
              "dt", "dd", "table", "section", "blockquote", "ul", "ol", "dl", "title"}
    # Navigation, scripts and code examples are not prose.
    _SKIP = {"script", "style", "pre", "head", "header", "nav", "aside", "footer", "noscript"}
    # Inline code inside a sentence: dropping it would leave a sentence with a hole ("bestaat uit
    # een ."), so it becomes a marker that the code filter rejects.
    _INLINE_CODE = {"code", "kbd", "samp", "tt", "var"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: List[str] = []
        self._buf: List[str] = []
        self._skip_depth = 0

    def _flush(self) -> None:
        if self._buf:
            self.blocks.append("".join(self._buf))
            self._buf = []

    def handle_starttag(self, tag, attrs):
        if tag in self._INLINE_CODE:
            if not self._skip_depth:
                self._buf.append(" {code} ")
            self._skip_depth += 1
        elif tag in self._SKIP:
            self._skip_depth += 1
        elif tag in self._BLOCK:
            self._flush()

    def handle_endtag(self, tag):
        if tag in self._SKIP or tag in self._INLINE_CODE:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in self._BLOCK:
            self._flush()

    def handle_data(self, data):
        if not self._skip_depth:
            self._buf.append(data)

    def close(self):
        super().close()
        self._flush()


def _read_maybe_gz(path: Path) -> str:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _blocks_html(path: Path) -> Iterator[str]:
    parser = _HtmlBlocks()
    parser.feed(_read_maybe_gz(path))
    parser.close()
    yield from parser.blocks


_ROFF_ACCENTS = {":": "\u0308", "'": "\u0301", "`": "\u0300", "^": "\u0302", "~": "\u0303",
                 ",": "\u0327"}
_ROFF_ESCAPES = [
    (re.compile(r"\\\".*$"), ""),  # comment to end of line
    (re.compile(r"\\f(?:\[[^\]]*\]|\(..|.)"), ""),  # font changes
    (re.compile(r"\\s[+-]?\d"), ""),  # size changes
    (re.compile(r"\\\*(?:\[[^\]]*\]|\(..|.)"), ""),  # strings
    # Accented letters: \(:i -> ï, \('e -> é, \[`a] -> à (combining mark, then NFC).
    (re.compile(r"\\(?:\(|\[)([:'`^~,])([A-Za-z])\]?"),
     lambda m: unicodedata.normalize("NFC", m.group(2) + _ROFF_ACCENTS[m.group(1)])),
    (re.compile(r"\\(?:\(|\[)(?:lq|rq|oq|cq|Fo|Fc)\]?"), '"'),
    (re.compile(r"\\\(aq"), "'"),
    (re.compile(r"\\\(dq"), '"'),
    (re.compile(r"\\\((?:em|en|hy)"), "-"),
    (re.compile(r"\\\[(?:aq)\]"), "'"),
    (re.compile(r"\\\(..|\\\[[^\]]*\]"), ""),  # other special characters
    (re.compile(r"\\-"), "-"),
    (re.compile(r"\\e"), "\\\\"),
    (re.compile(r"\\ "), " "),
    (re.compile(r"\\[&|^,/:c%)]"), ""),
]
_ROFF_BREAK = {"SH", "SS", "PP", "P", "LP", "TP", "IP", "HP", "br", "sp", "RS", "RE", "TH",
               "in", "ti", "ne", "bp", "TQ", "EX", "EE", "UR", "UE", "MT", "ME", "SY", "YS"}
_ROFF_TEXT = {"B", "I", "SM", "SB"}
_ROFF_ALT = {"BR", "RB", "IR", "RI", "BI", "IB"}


def _roff_unescape(line: str) -> str:
    for pat, rep in _ROFF_ESCAPES:
        line = pat.sub(rep, line)
    return line


def _blocks_man(path: Path) -> Iterator[str]:
    buf: List[str] = []
    in_nofill = False
    skip_heading = False
    for line in _read_maybe_gz(path).splitlines():
        if line.startswith((".\\\"", "'\\\"")) or line in (".", "'"):
            continue
        if line.startswith((".", "'")):
            parts = line[1:].strip().split(None, 1)
            macro = parts[0] if parts else ""
            args = parts[1] if len(parts) > 1 else ""
            if macro == "nf":  # no-fill: examples, synopses
                in_nofill = True
            elif macro == "fi":
                in_nofill = False
            if macro in _ROFF_TEXT and not in_nofill:
                buf.append(_roff_unescape(args.replace('"', "")))
            elif macro in _ROFF_ALT and not in_nofill:
                buf.append(_roff_unescape("".join(a.strip('"') for a in re.findall(
                    r'"[^"]*"|\S+', args))))
            else:  # any other request/macro ends a paragraph; headings are not sentences
                if buf:
                    yield " ".join(buf)
                buf = []
                skip_heading = macro in ("SH", "SS") and not args
            continue
        if in_nofill:
            continue
        if skip_heading:  # ".SH" alone: the heading is on the next line
            skip_heading = False
            continue
        buf.append(_roff_unescape(line))
    if buf:
        yield " ".join(buf)


_C_ESCAPES = {"n": "\n", "t": " ", '"': '"', "\\": "\\", "'": "'", "r": ""}


def _c_unescape(s: str) -> str:
    return re.sub(r"\\(.)", lambda m: _C_ESCAPES.get(m.group(1), m.group(1)), s)


_DIALOG_STR = re.compile(r'dialogStr\(\s*"((?:[^"\\]|\\.)*)"\s*\)')


def _blocks_lua(path: Path) -> Iterator[str]:
    for m in _DIALOG_STR.finditer(_read_maybe_gz(path)):
        yield _c_unescape(m.group(1))


def _blocks_text(path: Path) -> Iterator[str]:
    yield from re.split(r"\n\s*\n", _read_maybe_gz(path))


_READERS: Dict[str, Callable[[Path], Iterator[str]]] = {
    "html": _blocks_html, "man": _blocks_man, "lua": _blocks_lua, "text": _blocks_text,
}


# ----------------------------------------------------------------------------------------------
# Sentences: splitting, cleaning, filtering, keys.


def clean_text(text: str) -> str:
    """Unicode NFC, ASCII quotes/dashes, no UI accelerators, single spaces."""
    text = unicodedata.normalize("NFC", text).translate(_QUOTES)
    text = re.sub(r"(?<!\w)[_&~](?=\w)", "", text)  # _Bestand, &Open: menu accelerators
    return " ".join(text.split())


def split_sentences(block: str) -> List[str]:
    """Split a cleaned paragraph at sentence ends followed by a capitalised word."""
    return [s.strip() for s in _SPLIT.split(block) if s.strip()]


def match_key(text: str) -> str:
    """Key for deduplication and exclusion: lowercase letters and digits, single spaces.

    Two sentences that differ only in case, punctuation or spacing are the same sentence.
    """
    text = unicodedata.normalize("NFC", text).lower()
    return " ".join(re.sub(r"[\W_]+", " ", text).split())


def reject_reason(sentence: str, lang: str, min_words: int = 3,
                  max_words: int = 40) -> Optional[str]:
    """Why ``sentence`` (cleaned, not normalised) is not prose in ``lang``; None to keep it."""
    words = sentence.split()
    if not min_words <= len(words) <= max_words:
        return "length"
    first = next((c for c in sentence if c.isalpha()), "")
    if not first or not (first.isupper() or sentence.startswith(("'s ", "'t ", "'n "))):
        return "not_capitalised"
    if not _SENT_END.search(sentence):
        return "no_sentence_end"
    if _CODE_CHARS.search(sentence) or _OPTION.search(sentence) or _DOTTED.search(sentence):
        return "code"
    visible = [c for c in sentence if not c.isspace()]
    if sum(c.isalpha() for c in visible) / len(visible) < 0.8:
        return "not_alphabetic"
    tokens = _WORD.findall(sentence)
    if not tokens or sum(t.isupper() and len(t) > 1 for t in tokens) / len(tokens) > 0.25:
        return "upper_case"
    lower = [t.lower() for t in tokens]
    stop = STOPWORDS[lang]
    n_lang = sum(t in stop for t in lower)
    n_en = sum(t in _ENGLISH for t in lower) if lang != "en" else 0
    if n_lang / len(lower) < _MIN_STOPWORD_RATIO or n_en >= n_lang:
        return "language"
    return None


def _get_normalizer(lang: str) -> Tuple[Callable[[str], str], str]:
    """``espnet_ext.text.normalize.normalize_text`` for ``lang`` if available, else clean_text."""
    try:
        from espnet_ext.text.normalize import normalize_text
    except ImportError:
        logger.warning("espnet_ext.text.normalize not found: sentences are only cleaned")
        return clean_text, "espnet_ext.text.corpus.clean_text"
    return (lambda s: normalize_text(s, lang)), "espnet_ext.text.normalize.normalize_text"


def read_exclusion_keys(text_files: Iterable[PathLike]) -> Dict[str, str]:
    """Match keys of every transcript in Kaldi ``text`` files (``utt transcript`` per line).

    Returns:
        key -> the first ``file:utt`` that has it.

    Raises:
        DataDirError: a file is missing or malformed (names the file and line).
    """
    keys: Dict[str, str] = {}
    for f in text_files:
        for utt, transcript in read_kaldi_map(f, allow_empty_value=True).items():
            k = match_key(transcript)
            if k:
                keys.setdefault(k, f"{f}:{utt}")
    return keys


# ----------------------------------------------------------------------------------------------
# Provenance.


# ----------------------------------------------------------------------------------------------
# The builder.


@dataclass
class SourceStats:
    """Counts for one source; ``kept`` is what ends up in the output file."""

    package: str
    version: str
    licence: str
    files: int = 0
    candidates: int = 0
    rejected: Dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    excluded: int = 0
    kept: int = 0


@dataclass
class TextCorpusStats:
    """What :func:`build_text_corpus` wrote."""

    out_file: str
    provenance_file: str
    num_sentences: int
    sources: List[SourceStats]
    skipped: bool = False


def _done_file(out_file: Path) -> Path:
    return out_file.with_name(f".{out_file.name}.done")


def build_text_corpus(
    out_file: PathLike,
    lang: str = "nl",
    sources: Optional[Sequence[Union[TextSource, str]]] = None,
    exclude_text_files: Sequence[PathLike] = (),
    max_sentences: Optional[int] = None,
    seed: int = 0,
    min_words: int = 3,
    max_words: int = 40,
    provenance_file: Optional[PathLike] = None,
    force: bool = False,
) -> TextCorpusStats:
    """Build a sentence-per-line text corpus in ``lang`` from installed Debian packages.

    Args:
        out_file: output text file, one normalised sentence per line.
        lang: ISO 639-1 code; needs an entry in :data:`STOPWORDS`.
        sources: :class:`TextSource` objects, or package names picked from
            :func:`default_sources`; None: all of :func:`default_sources` ``(lang)``.
        exclude_text_files: Kaldi ``text`` files (dev/test transcripts); any sentence whose
            match key (:func:`match_key` of the normalised text) equals one of theirs is dropped,
            so pre-training never sees an evaluation sentence.
        max_sentences: keep only the first ``max_sentences`` after shuffling.
        seed: shuffle seed.
        min_words, max_words: sentence length limits in words.
        provenance_file: default ``provenance.txt`` beside ``out_file``.
        force: rebuild even if the ``.done`` marker says the same options were built.

    Returns:
        counts per source (files, candidate sentences, rejections by reason, duplicates,
        excluded, kept) and the total.

    Raises:
        CorpusError: a source matches no file (names the package to install), or nothing is left.
        ConfigError: unknown ``lang`` stop-word list, unknown source name or kind.
        DataDirError: an exclusion file is missing or malformed.
    """
    out_file = Path(out_file)
    provenance_file = Path(provenance_file or out_file.with_name("provenance.txt"))
    if lang not in STOPWORDS:
        raise ConfigError(
            f"no stop-word list for language '{lang}' (have: {sorted(STOPWORDS)}); "
            "add one to espnet_ext.text.corpus.STOPWORDS"
        )
    resolved = _resolve_sources(sources, lang)
    options = {
        "lang": lang, "seed": seed, "max_sentences": max_sentences, "min_words": min_words,
        "max_words": max_words, "sources": [s.__dict__ for s in resolved],
        "exclude": [str(Path(f).resolve()) for f in exclude_text_files],
        "exclude_sha1": [hashlib.sha1(Path(f).read_bytes()).hexdigest()
                         for f in exclude_text_files if Path(f).is_file()],
    }
    done = _done_file(out_file)
    if is_done(done, options, force=force, outputs=[out_file]):
        n = sum(1 for _ in out_file.open(encoding="utf-8"))
        logger.info("%s is up to date (%d sentences); use --force to rebuild", out_file, n)
        return TextCorpusStats(str(out_file), str(provenance_file), n, [], skipped=True)

    excluded_keys = read_exclusion_keys(exclude_text_files)
    normalize, normalizer_name = _get_normalizer(lang)

    seen: Dict[str, int] = {}  # key -> index into `sentences`
    sentences: List[Tuple[str, int]] = []  # (normalised sentence, source index)
    all_stats: List[SourceStats] = []
    for si, src in enumerate(resolved):
        files = src.files()
        if not files:
            raise CorpusError(
                f"text source '{src.package}': no file matches {list(src.patterns)} under "
                f"{src.root}; install the package (`apt-get install -y {src.package}`, listed in "
                "tools/debian_packages.d/pretrain.txt) or leave it out of the sources"
            )
        st = SourceStats(src.package, dpkg_version(src.package),
                         debian_licence(src.package), files=len(files))
        all_stats.append(st)
        reader = _READERS[src.kind]
        for path in files:
            try:
                blocks = list(reader(path))
            except Exception as e:  # noqa: BLE001 - one unreadable file must name itself
                raise CorpusError(f"{path} ({src.package}): cannot read as {src.kind}: {e}") from e
            for block in blocks:
                for sent in split_sentences(clean_text(block)):
                    st.candidates += 1
                    why = reject_reason(sent, lang, min_words, max_words)
                    if why:
                        st.rejected[why] = st.rejected.get(why, 0) + 1
                        continue
                    norm = " ".join(normalize(sent).split())
                    key = match_key(norm)
                    if not key:
                        st.rejected["empty_after_normalisation"] = (
                            st.rejected.get("empty_after_normalisation", 0) + 1)
                        continue
                    if key in excluded_keys:
                        st.excluded += 1
                        continue
                    if key in seen:
                        st.duplicates += 1
                        continue
                    seen[key] = len(sentences)
                    sentences.append((norm, si))
        logger.info("%s: %d files, %d candidate sentences, %d new", src.package, st.files,
                    st.candidates, sum(1 for _, i in sentences if i == si))
    if not sentences:
        raise CorpusError(
            f"no {lang} sentence survived filtering in {[s.package for s in resolved]}; "
            "check that the sources hold prose in that language"
        )
    sentences = seeded_shuffle(sentences, seed)
    if max_sentences is not None:
        sentences = sentences[:max_sentences]
    for _, si in sentences:
        all_stats[si].kept += 1

    atomic_write_text(out_file, "".join(s + "\n" for s, _ in sentences))
    atomic_write_text(provenance_file, _provenance_text(
        out_file, lang, len(sentences), all_stats, normalizer_name, exclude_text_files,
        len(excluded_keys), seed, max_sentences))
    mark_done(done, options)
    logger.info("wrote %d %s sentences to %s", len(sentences), lang, out_file)
    return TextCorpusStats(str(out_file), str(provenance_file), len(sentences), all_stats)


def _resolve_sources(sources, lang: str) -> List[TextSource]:
    defaults = {s.package: s for s in default_sources(lang)}
    if sources is None:
        return list(defaults.values())
    out = []
    for s in sources:
        if isinstance(s, str):
            if s not in defaults:
                raise ConfigError(
                    f"unknown text source '{s}' for language '{lang}'; known: {sorted(defaults)}"
                )
            s = defaults[s]
        if s.kind not in _READERS:
            raise ConfigError(f"text source '{s.package}': unknown kind '{s.kind}'; use {KINDS}")
        out.append(s)
    return out


def _provenance_text(out_file, lang, n, stats, normalizer, exclude, n_excl, seed, max_s) -> str:
    lines = [
        f"# {out_file}: {n} {lang} sentences, one per line, shuffled with seed {seed}"
        + (f", capped at {max_s}" if max_s else ""),
        f"# built by espnet_ext.text.corpus.build_text_corpus; normaliser: {normalizer}",
        f"# excluded {n_excl} distinct transcripts of: "
        + (", ".join(str(f) for f in exclude) or "(none)"),
        "# package\tversion\tlicence\tfiles\tcandidates\tduplicates\texcluded\tkept\trejected",
    ]
    for st in stats:
        rej = ",".join(f"{k}={v}" for k, v in sorted(st.rejected.items()))
        lines.append("\t".join(str(x) for x in (
            st.package, st.version, st.licence, st.files, st.candidates, st.duplicates,
            st.excluded, st.kept, rej)))
    return "\n".join(lines) + "\n"
