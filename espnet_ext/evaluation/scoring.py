"""WER and CER from per-utterance reference/hypothesis files, with jiwer.

Definitions (stated here once and printed in every report):
- WER = (S + D + I) / N over whitespace-separated words of the normalised texts.
- CER = (S + D + I) / N over characters of the normalised texts, spaces included (a missed word
  boundary is an error, as in ESPnet's char scoring and ML-SUPERB).
Both texts are normalised first; ``normalize`` picks how (``NORMALIZATIONS``):
- ``default``: :func:`espnet_ext.text.normalize.normalize_text` for the language (NFC, stress
  marks removed, lowercase, punctuation and symbols become spaces, apostrophe rules), so case and
  punctuation never count as errors. These are the numbers of every results table so far.
- ``lower``: lowercase only; punctuation and symbols count as (parts of) words.
- ``none``: as written; case, punctuation and Unicode form all count.
Every mode collapses whitespace runs to one space and strips the ends (word boundaries must be
well defined and the per-utterance TSV must not break), and keeps digits as they are (no number
expansion: references and hypotheses write numerals in the same form).
An utterance whose reference is empty after normalisation is scored against the one-word
reference ``<empty>``, so a hypothesis for it costs errors instead of dividing by zero.

Outputs of :func:`score_files`: ``summary.json`` (totals, the mode, these definitions, the
writing version and format: :mod:`espnet_ext.versioning`),
``per_utt.tsv`` (word and char errors per utterance) and ``alignments.txt`` (the word alignment
of every utterance, sclite style).
"""

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import jiwer

from espnet_ext.data.kaldi import read_kaldi_map
from espnet_ext.errors import ConfigError, DataDirError
from espnet_ext.fileio import PathLike, atomic_write_text
from espnet_ext.text.normalize import normalize_text
from espnet_ext.versioning import SCORE_SUMMARY, stamp

logger = logging.getLogger(__name__)

NORMALIZATIONS: Dict[str, str] = {
    "default": "per-language rules of espnet_ext.text.normalize.normalize_text (NFC, stress marks "
               "removed, lowercase, punctuation/symbols to spaces, apostrophe rules); digits kept",
    "lower": "lowercase and whitespace collapsed only; punctuation, symbols and digits kept",
    "none": "whitespace collapsed only; case, punctuation, symbols and digits kept",
}
DEFINITIONS: Dict[str, str] = {
    "wer": "100 * (S + D + I) / N, N = reference words; words = whitespace-separated tokens of "
           "the normalised texts, summed over utterances before dividing",
    "cer": "100 * (S + D + I) / N, N = reference characters; characters of the normalised texts, "
           "spaces between words included, summed over utterances before dividing",
}


def normalize_for_scoring(text: str, lang: str, normalize: str = "default") -> str:
    """Normalise one transcript the way it is scored (modes in the module docstring).

    Args:
        text: raw reference or hypothesis.
        lang: language code (used by ``default`` only).
        normalize: a key of ``NORMALIZATIONS``.

    Returns:
        the text to score: words separated by single spaces, no leading/trailing space.

    Raises:
        ConfigError: unknown ``normalize``.
    """
    _check_normalize(normalize)
    if normalize == "default":
        return normalize_text(text, lang)
    if normalize == "lower":
        return " ".join(text.lower().split())
    return " ".join(text.split())


def _check_normalize(normalize: str) -> None:
    if normalize not in NORMALIZATIONS:
        raise ConfigError(
            f"unknown scoring normalisation '{normalize}'; choose one of {sorted(NORMALIZATIONS)}"
        )


@dataclass
class ErrorCounts:
    """Edit-distance counts of one metric over a set of utterances."""

    substitutions: int
    deletions: int
    insertions: int
    ref_length: int

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def rate(self) -> float:
        return 100.0 * self.errors / max(self.ref_length, 1)


@dataclass
class ScoreSummary:
    """What :func:`score_files` writes to ``summary.json``."""

    language: str
    num_utts: int
    num_missing_hyps: int
    wer: float
    cer: float
    word: ErrorCounts
    char: ErrorCounts
    meta: Dict[str, str] = field(default_factory=dict)
    normalize: str = "default"
    definitions: Dict[str, str] = field(default_factory=dict)


def _counts(out) -> ErrorCounts:
    return ErrorCounts(out.substitutions, out.deletions, out.insertions,
                       out.substitutions + out.deletions + out.hits)


def format_alignment(ref_words: List[str], hyp_words: List[str], chunks) -> List[str]:
    """sclite-style REF/HYP/Eval lines of one word alignment.

    Args:
        ref_words, hyp_words: the aligned word sequences.
        chunks: jiwer ``AlignmentChunk`` list for them (``jiwer.process_words(...).alignments[0]``).

    Returns:
        three lines (no newline): ``REF:`` and ``HYP:`` with the words in columns, ``***`` (as
        wide as the column) where the other side has a word the alignment inserted or deleted,
        and ``Eval:`` with ``S``, ``D`` or ``I`` under each error (blank under a correct word).
    """
    ref_cols, hyp_cols, eval_cols = [], [], []
    for op in chunks:
        refs = ref_words[op.ref_start_idx:op.ref_end_idx]
        hyps = hyp_words[op.hyp_start_idx:op.hyp_end_idx]
        if op.type == "delete":
            hyps = [None] * len(refs)
        elif op.type == "insert":
            refs = [None] * len(hyps)
        mark = {"equal": "", "substitute": "S", "delete": "D", "insert": "I"}[op.type]
        for r, h in zip(refs, hyps):
            width = max(len(r or "***"), len(h or "***"))
            ref_cols.append((r if r is not None else "*" * width).ljust(width))
            hyp_cols.append((h if h is not None else "*" * width).ljust(width))
            eval_cols.append(mark.ljust(width))
    return [("REF:  " + " ".join(ref_cols)).rstrip(), ("HYP:  " + " ".join(hyp_cols)).rstrip(),
            ("Eval: " + " ".join(eval_cols)).rstrip()]


def score_texts(refs: Dict[str, str], hyps: Dict[str, str], lang: str,
                normalize: str = "default") -> tuple:
    """Score hypotheses against references.

    Args:
        refs: utt -> reference transcript.
        hyps: utt -> hypothesis; a reference without hypothesis scores as an empty hypothesis
            (all deletions) and is counted in ``num_missing_hyps``.
        lang: language code for normalisation.
        normalize: normalisation mode, a key of ``NORMALIZATIONS`` (module docstring).

    Returns:
        (ScoreSummary, per-utterance rows: dicts with utt, ref, hyp (normalised), word/char error
        counts, ``word_ops`` (S, D, I, hits of the words) and ``alignment`` (the
        :func:`format_alignment` lines)).

    Raises:
        DataDirError: a hypothesis id has no reference (the wrong ref file was given).
        ConfigError: unknown ``normalize``.
    """
    _check_normalize(normalize)
    unknown = sorted(set(hyps) - set(refs))
    if unknown:
        raise DataDirError(
            f"{len(unknown)} hypotheses have no reference (first: '{unknown[0]}'); "
            "the hypothesis and reference files are from different sets"
        )
    rows: List[dict] = []
    word_parts: List[tuple] = []
    missing = 0
    for utt in sorted(refs):
        ref = normalize_for_scoring(refs[utt], lang, normalize)
        if utt not in hyps:
            missing += 1
        hyp = normalize_for_scoring(hyps.get(utt, ""), lang, normalize)
        w = jiwer.process_words(ref or "<empty>", hyp)
        c = jiwer.process_characters(ref or "<empty>", hyp)
        wc, cc = _counts(w), _counts(c)
        word_parts.append((wc, cc))
        rows.append({"utt": utt, "ref": ref, "hyp": hyp,
                     "word_errors": wc.errors, "words": wc.ref_length,
                     "char_errors": cc.errors, "chars": cc.ref_length,
                     "word_ops": (wc.substitutions, wc.deletions, wc.insertions, w.hits),
                     "alignment": format_alignment(w.references[0], w.hypotheses[0],
                                                   w.alignments[0])})
    if missing:
        logger.warning("%d of %d utterances have no hypothesis: scored as empty", missing, len(refs))

    def total(i: int) -> ErrorCounts:
        return ErrorCounts(*(sum(getattr(p[i], f) for p in word_parts)
                             for f in ("substitutions", "deletions", "insertions", "ref_length")))

    word, char = total(0), total(1)
    summary = ScoreSummary(lang, len(refs), missing, round(word.rate, 2), round(char.rate, 2),
                           word, char, normalize=normalize,
                           definitions={**DEFINITIONS, "normalize": NORMALIZATIONS[normalize]})
    return summary, rows


def render_alignments(summary: ScoreSummary, rows: List[dict]) -> str:
    """The text of ``alignments.txt``: a ``#`` header with the definitions, then per utterance
    ``id:``, ``Scores: (#C #S #D #I)`` (words), ``Chars: errors / N`` and the alignment lines."""
    out = [f"# language: {summary.language}; normalisation: {summary.normalize} "
           f"({NORMALIZATIONS[summary.normalize]})\n",
           f"# WER = {DEFINITIONS['wer']}\n", f"# CER = {DEFINITIONS['cer']}\n",
           f"# WER {summary.wer:.2f}% ({summary.word.errors} / {summary.word.ref_length}), "
           f"CER {summary.cer:.2f}% ({summary.char.errors} / {summary.char.ref_length}), "
           f"{summary.num_utts} utts; S/D/I: substituted / deleted / inserted word, "
           "*** fills the missing side; an empty reference is scored as <empty>\n"]
    for r in rows:
        s, d, i, c = r["word_ops"]
        out.append(f"\nid: {r['utt']}\nScores: (#C #S #D #I) {c} {s} {d} {i}\n"
                   f"Chars: {r['char_errors']} / {r['chars']}\n")
        out.extend(line + "\n" for line in r["alignment"])
    return "".join(out)


def score_files(
    ref_file: PathLike,
    hyp_file: PathLike,
    lang: str,
    out_dir: PathLike,
    meta: Optional[Dict[str, str]] = None,
    normalize: str = "default",
) -> ScoreSummary:
    """Score a Kaldi ``text`` hypothesis file against a reference file; write the results.

    Writes ``out_dir/summary.json`` (totals, the normalisation mode and the WER/CER definitions),
    ``out_dir/per_utt.tsv`` (utt, word_errors, words, char_errors, chars, ref, hyp: the file
    bootstrap intervals and error analysis start from) and ``out_dir/alignments.txt`` (the word
    alignment of every utterance with S/D/I marks, see :func:`render_alignments`). ``meta``
    (upstream, test set, ...) is stored in the summary so the results table needs nothing but
    these files.

    Args:
        normalize: normalisation mode, a key of ``NORMALIZATIONS`` (module docstring).

    Returns:
        the summary.

    Raises:
        DataDirError: unreadable files, or a hypothesis id without reference.
        ConfigError: unknown ``normalize``.
    """
    refs = read_kaldi_map(ref_file)
    hyps = read_kaldi_map(hyp_file, allow_empty_value=True) if Path(hyp_file).stat().st_size else {}
    summary, rows = score_texts(refs, hyps, lang, normalize)
    summary.meta = dict(meta or {})
    out_dir = Path(out_dir)
    lines = ["utt\tword_errors\twords\tchar_errors\tchars\tref\thyp\n"] + [
        f"{r['utt']}\t{r['word_errors']}\t{r['words']}\t{r['char_errors']}\t{r['chars']}\t"
        f"{r['ref']}\t{r['hyp']}\n" for r in rows
    ]
    atomic_write_text(out_dir / "per_utt.tsv", "".join(lines))
    atomic_write_text(out_dir / "alignments.txt", render_alignments(summary, rows))
    # The stamp lets collect_results refuse a summary of a format it cannot read.
    atomic_write_text(out_dir / "summary.json",
                      json.dumps({**asdict(summary), **stamp(SCORE_SUMMARY)}, indent=2) + "\n")
    logger.info("%s: WER %.2f%% CER %.2f%% (%d utts, normalisation %s) -> %s", lang, summary.wer,
                summary.cer, summary.num_utts, normalize, out_dir)
    return summary
