"""Text -> phone sequences for the joint text-audio upstream: espeak-ng IPA, or graphemes.

espeak-ng (a Debian package the recipe installs) reads numbers, abbreviations and words outside
any lexicon with its letter-to-sound rules, so every Dutch sentence gets phones. Sentences are
first normalised (:func:`espnet_ext.text.normalize.normalize_text`: lower case, numbers kept as
digits, punctuation removed), which also keeps espeak-ng from splitting a line into clauses, so
one input line gives one output line and a batch of sentences runs in one process. Stress marks
are dropped (they are not segments); length marks stay (Dutch vowel length is phonemic).

Where espeak-ng is missing, fails, or gives nothing for a sentence, that sentence falls back to
its graphemes (letters, no spaces) and the fallback is counted and logged, never silent.
``mode="grapheme"`` uses graphemes for everything. The espeak-ng calls themselves are in
:mod:`espnet_ext.text.espeak`.
"""

import logging
import subprocess
from typing import Dict, List, Sequence

from espnet_ext.errors import ConfigError
from espnet_ext.text import espeak
from espnet_ext.text.normalize import normalize_text

logger = logging.getLogger(__name__)

MODES = ("ipa", "grapheme")


def graphemes(sentence: str) -> List[str]:
    """Letters of a normalised sentence (word spaces dropped)."""
    return [c for c in sentence if not c.isspace()]


def phonemize(texts: Sequence[str], lang: str = "nl", mode: str = "ipa",
              batch_size: int = 500) -> List[List[str]]:
    """Phone (or grapheme) sequence of every text, in order.

    Args:
        texts: raw sentences (normalised here with ``lang``'s rules).
        lang: ISO 639-1 code; also the espeak-ng voice.
        mode: ``"ipa"`` (espeak-ng, with logged grapheme fallback) or ``"grapheme"``.
        batch_size: sentences per espeak-ng process.

    Returns:
        One list of phone strings per text; empty for a text that normalises to nothing.
    """
    if mode not in MODES:
        raise ConfigError(f"phone mode must be one of {MODES}, got {mode!r}")
    normed = [normalize_text(t, lang) for t in texts]
    if mode == "grapheme":
        return [graphemes(s) for s in normed]
    if not espeak.cli_available():
        logger.warning("espeak-ng not found: all %d sentences fall back to graphemes "
                       "(install it with tools/install.sh)", len(normed))
        return [graphemes(s) for s in normed]
    out: List[List[str]] = []
    fallbacks = 0
    for start in range(0, len(normed), batch_size):
        batch = normed[start:start + batch_size]
        try:
            lines = espeak.phonemize_lines(batch, lang)
        except (subprocess.SubprocessError, RuntimeError, OSError) as e:
            # A batch that misbehaves is redone one sentence per process.
            logger.info("espeak-ng batch at sentence %d: %s; retrying one by one", start, e)
            lines = []
            for s in batch:
                try:
                    lines.append(espeak.phonemize_lines([s], lang)[0])
                except (subprocess.SubprocessError, RuntimeError, OSError):
                    lines.append("")
        for sentence, line in zip(batch, lines):
            phones = espeak.parse_phone_line(line)
            if not phones and sentence.strip():
                fallbacks += 1
                phones = graphemes(sentence)
            out.append(phones)
    if fallbacks:
        logger.warning("espeak-ng gave no phones for %d of %d sentences; graphemes used there",
                       fallbacks, len(normed))
    return out


def phone_inventory(sequences: Sequence[Sequence[str]]) -> Dict[str, int]:
    """Phone -> count over ``sequences`` (the token list is built from this)."""
    counts: Dict[str, int] = {}
    for seq in sequences:
        for p in seq:
            counts[p] = counts.get(p, 0) + 1
    return counts
