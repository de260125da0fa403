"""WER and CER from per-utterance reference/hypothesis files, with jiwer.

Definitions (stated here once and printed in every report):
- WER = (S + D + I) / N over whitespace-separated words of the normalised texts.
- CER = (S + D + I) / N over characters of the normalised texts, spaces included (a missed word
  boundary is an error, as in ESPnet's char scoring and ML-SUPERB).
Both texts go through :func:`espnet_ext.text.normalize.normalize_text` for the language first, so
case and punctuation never count as errors.
"""

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import jiwer

from espnet_ext.data.kaldi import read_kaldi_map
from espnet_ext.errors import DataDirError
from espnet_ext.fileio import PathLike, atomic_write_text
from espnet_ext.text.normalize import normalize_text

logger = logging.getLogger(__name__)


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


def _counts(out) -> ErrorCounts:
    return ErrorCounts(out.substitutions, out.deletions, out.insertions,
                       out.substitutions + out.deletions + out.hits)


def score_texts(refs: Dict[str, str], hyps: Dict[str, str], lang: str) -> tuple:
    """Score hypotheses against references.

    Args:
        refs: utt -> reference transcript.
        hyps: utt -> hypothesis; a reference without hypothesis scores as an empty hypothesis
            (all deletions) and is counted in ``num_missing_hyps``.
        lang: language code for normalisation.

    Returns:
        (ScoreSummary, per-utterance rows: dicts with utt, ref, hyp, word/char error counts).

    Raises:
        DataDirError: a hypothesis id has no reference (the wrong ref file was given).
    """
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
        ref = normalize_text(refs[utt], lang)
        if utt not in hyps:
            missing += 1
        hyp = normalize_text(hyps.get(utt, ""), lang)
        w = jiwer.process_words(ref or "<empty>", hyp)
        c = jiwer.process_characters(ref or "<empty>", hyp)
        wc, cc = _counts(w), _counts(c)
        word_parts.append((wc, cc))
        rows.append({"utt": utt, "ref": ref, "hyp": hyp,
                     "word_errors": wc.errors, "words": wc.ref_length,
                     "char_errors": cc.errors, "chars": cc.ref_length})
    if missing:
        logger.warning("%d of %d utterances have no hypothesis: scored as empty", missing, len(refs))

    def total(i: int) -> ErrorCounts:
        return ErrorCounts(*(sum(getattr(p[i], f) for p in word_parts)
                             for f in ("substitutions", "deletions", "insertions", "ref_length")))

    word, char = total(0), total(1)
    summary = ScoreSummary(lang, len(refs), missing, round(word.rate, 2), round(char.rate, 2),
                           word, char)
    return summary, rows


def score_files(
    ref_file: PathLike,
    hyp_file: PathLike,
    lang: str,
    out_dir: PathLike,
    meta: Optional[Dict[str, str]] = None,
) -> ScoreSummary:
    """Score a Kaldi ``text`` hypothesis file against a reference file; write the results.

    Writes ``out_dir/summary.json`` (totals) and ``out_dir/per_utt.tsv`` (utt, errors, ref, hyp:
    the file bootstrap intervals and error analysis start from). ``meta`` (upstream, test set,
    ...) is stored in the summary so the results table needs nothing but these files.

    Returns:
        the summary.
    """
    refs = read_kaldi_map(ref_file)
    hyps = read_kaldi_map(hyp_file, allow_empty_value=True) if Path(hyp_file).stat().st_size else {}
    summary, rows = score_texts(refs, hyps, lang)
    summary.meta = dict(meta or {})
    out_dir = Path(out_dir)
    lines = ["utt\tword_errors\twords\tchar_errors\tchars\tref\thyp\n"] + [
        f"{r['utt']}\t{r['word_errors']}\t{r['words']}\t{r['char_errors']}\t{r['chars']}\t"
        f"{r['ref']}\t{r['hyp']}\n" for r in rows
    ]
    atomic_write_text(out_dir / "per_utt.tsv", "".join(lines))
    atomic_write_text(out_dir / "summary.json", json.dumps(asdict(summary), indent=2) + "\n")
    logger.info("%s: WER %.2f%% CER %.2f%% (%d utts) -> %s", lang, summary.wer, summary.cer,
                summary.num_utts, out_dir)
    return summary
