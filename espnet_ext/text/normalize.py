"""Transcript normalisation for ASR training text and for scoring (one function, every language).

:func:`normalize_text` applies these rules, in this order:

1. Unicode NFC; control characters become spaces, format characters (BOM, zero-width space,
   soft hyphen: category ``Cf``) are removed.
2. Per-language ``pre`` hook (see ``LANGUAGE_RULES``). Russian (``ru``): a ``+`` directly before
   a letter is a stress mark (festvox-ru writes ``вол+ос``, ``+Окна``) and is removed.
3. Stress written as a combining acute accent (U+0301) or combining grave (U+0300) that is still
   uncomposed after NFC (``о́``, Cyrillic has no precomposed stressed vowels) is removed. Accents
   that compose into a letter of the language (French ``é``, Czech ``ý``) are letters and stay.
4. Lowercase with the locale-independent ``str.lower``.
5. Typographic apostrophes and single quotes (``’ ‘ ‚ ‛ ʼ ′ ´ ` ＇``) become ``'``.
6. An apostrophe between two letters/digits stays (French/Italian ``l'agent``, ``dell'interno``);
   every other apostrophe (leading, trailing, alone) is dropped. Per-language exception:
   ``keep_leading`` words, e.g. Dutch ``'t``, ``'s``, ``'n`` (``'t is``, ``'s morgens``) keep
   their apostrophe because dropping it would turn the clitic into a bare letter.
7. Every other punctuation or symbol character (Unicode categories ``P*`` and ``S*``: ``. , ; :
   ! ? " ( ) [ ] … – — -`` hyphens, ``« » „ “``, ``/ \\ * + = @ % $`` ...) becomes a space.
8. Whitespace is collapsed to single spaces and stripped. Digits are kept as they are (no
   number expansion: the sources write numerals and the scorer compares the same form). The
   result is NFC again: removing a format character or an apostrophe can leave a letter next
   to a combining mark (``e``, zero-width space, U+0308 -> ``ë``), and a second pass must
   change nothing.

The result is ``""`` when nothing is left; callers drop such utterances and log how many.
"""

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Callable, Dict, FrozenSet, Optional

# Rule 5: characters used as apostrophes or single quotes in the wild.
_APOSTROPHES = "\u2019\u2018\u201a\u201b\u02bc\u2032\u00b4`\uff07"
_APOSTROPHE_TABLE = str.maketrans({c: "'" for c in _APOSTROPHES})
# Rule 3: combining acute and grave, the two ways stress is marked in Russian/Ukrainian text.
_STRESS_MARKS = re.compile("[\u0301\u0300]")
_WHITESPACE = re.compile(r"\s+")


def _strip_plus_stress(text: str) -> str:
    # festvox-ru marks the stressed vowel with a preceding '+'; other '+' are symbols (rule 7).
    return re.sub(r"\+(?=\w)", "", text)


@dataclass(frozen=True)
class LanguageRules:
    """Small per-language hooks around the language-independent rules.

    Attributes:
        pre: applied after NFC, before everything else (e.g. stress marks).
        keep_leading: lowercase words whose leading apostrophe is kept (rule 6).
    """

    pre: Optional[Callable[[str], str]] = None
    keep_leading: FrozenSet[str] = field(default_factory=frozenset)


LANGUAGE_RULES: Dict[str, LanguageRules] = {
    "ru": LanguageRules(pre=_strip_plus_stress),
    "nl": LanguageRules(keep_leading=frozenset({"'t", "'s", "'n", "'k", "'m", "'r"})),
}
_DEFAULT_RULES = LanguageRules()


def _is_word_char(c: str) -> bool:
    return c.isalnum() or unicodedata.category(c).startswith("M")


def _map_char(c: str) -> str:
    """Rules 1 and 7 for one character (apostrophes are handled separately)."""
    if c == "'":
        return c
    cat = unicodedata.category(c)
    if cat == "Cf":
        return ""
    if cat[0] in "PSZ" or cat == "Cc":
        return " "
    return c


def _fix_apostrophes(text: str, keep_leading: FrozenSet[str]) -> str:
    """Rule 6: keep intra-word apostrophes (and per-language clitics), drop the others."""
    words = []
    for word in text.split(" "):
        if "'" not in word:
            words.append(word)
            continue
        if word in keep_leading:
            words.append(word)
            continue
        chars = []
        for i, c in enumerate(word):
            if c == "'":
                inside = 0 < i < len(word) - 1 and _is_word_char(word[i - 1]) and _is_word_char(
                    word[i + 1]
                )
                if not inside:
                    continue
            chars.append(c)
        words.append("".join(chars))
    return " ".join(words)


def normalize_text(text: str, lang: str) -> str:
    """Normalise one transcript for ASR training and scoring (rules in the module docstring).

    Args:
        text: raw transcript, any Unicode.
        lang: ISO 639-1 code; selects the per-language hooks in ``LANGUAGE_RULES`` (languages
            without an entry get only the language-independent rules).

    Returns:
        the normalised text: lowercase words separated by single spaces, or ``""`` if nothing
        is left.
    """
    rules = LANGUAGE_RULES.get(lang, _DEFAULT_RULES)
    text = unicodedata.normalize("NFC", text)
    if rules.pre is not None:
        text = rules.pre(text)
    text = _STRESS_MARKS.sub("", text)
    text = unicodedata.normalize("NFC", text.lower())
    text = text.translate(_APOSTROPHE_TABLE)
    text = "".join(_map_char(c) for c in text)
    text = _WHITESPACE.sub(" ", text).strip()
    text = _fix_apostrophes(text, rules.keep_leading)
    return unicodedata.normalize("NFC", _WHITESPACE.sub(" ", text).strip())
