"""Asterisk core sound prompts (Debian ``asterisk-core-sounds-<lang>`` + ``-<lang>-wav``).

Input layout::

    /usr/share/doc/asterisk-core-sounds-<lang>/core-sounds-<lang>.txt.gz   # transcripts
    /usr/share/asterisk/sounds/<voice dir>/<name>.wav                      # 8 kHz mono PCM

Transcript lines are ``name: text``; ``;`` starts a comment line; the file may start with a BOM;
names may hold ``/`` (``digits/1`` is ``<voice dir>/digits/1.wav``). The voice dir is the real
directory whose name starts with ``<lang>_`` (``es_MX_f_Allison``, ``fr_CA_f_June``,
``it_IT_m_Carlo``, ``ru_RU_f_IvrvoiceRU``); the ``<lang>`` and ``<lang>_<CC>`` entries beside
it are symlinks (Debian alternatives) and are resolved first. The voice dir name is the speaker
(``asterisk_es_MX_f_Allison``); utterance ids are ``<spk>_<name>`` with ``/`` turned into ``-``.

Audio is narrowband telephone speech (8 kHz): it is upsampled to 16 kHz, so there is no energy
above 4 kHz (noted in PROVENANCE.md).

Transcript annotations: ``(...)`` and ``<...>`` are stage directions or translations
(``(enfatico)``, ``(You are now muted.)``) and are removed; ``[...]`` holding no letter is the
symbol a word names (``trattino [-]``) and is removed. Skipped, by reason: ``non_speech`` (the
whole text is an annotation: beeps, tones, silence, monkeys), ``uncertain_transcript`` (a
bracketed word such as ``[quello]`` that may or may not be spoken), ``malformed_line`` (no
``name:``), ``empty_text``, ``duplicate_name``, ``no_audio`` (no ``<name>.wav``),
``no_transcript`` (a wav that no line names), ``unreadable_audio``, ``empty_after_normalization``.
"""

import gzip
import logging
import re
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from espnet_ext.data.corpora.debian import require_path
from espnet_ext.data.corpora.items import RawItem, SkipLog
from espnet_ext.data.corpora.provenance import SourceInfo
from espnet_ext.data.corpora.source_dir import write_source_dir
from espnet_ext.data.kaldi import make_id
from espnet_ext.errors import CorpusError
from espnet_ext.fileio import PathLike

logger = logging.getLogger(__name__)

DEFAULT_SOUNDS_DIR = "/usr/share/asterisk/sounds"
DEFAULT_DOC_DIR = "/usr/share/doc"

# From /usr/share/doc/asterisk-core-sounds-*/copyright (one file for all languages): the
# English/Spanish voice (Allison Smith) and French (June Wallack) are CC-BY-SA-3.0, the Russian
# and Italian voices CC-BY-3.0.
LICENSES = {"en": "CC-BY-SA-3.0", "es": "CC-BY-SA-3.0", "fr": "CC-BY-SA-3.0",
            "it": "CC-BY-3.0", "ru": "CC-BY-3.0"}

_WHOLE_ANNOTATION = re.compile(r"^\s*(\[[^\]]*\]|\([^)]*\)|<[^>]*>)\s*$")
_PAREN = re.compile(r"\([^)]*\)|<[^>]*>")
_BRACKET = re.compile(r"\[([^\]]*)\]")


def packages(lang: str) -> List[str]:
    """Debian packages this source needs for ``lang``."""
    return [f"asterisk-core-sounds-{lang}", f"asterisk-core-sounds-{lang}-wav"]


def transcript_path(lang: str, doc_dir: PathLike = DEFAULT_DOC_DIR) -> Path:
    return Path(doc_dir) / f"asterisk-core-sounds-{lang}" / f"core-sounds-{lang}.txt.gz"


def clean_prompt(text: str) -> Tuple[Optional[str], str]:
    """Remove annotations from a prompt text.

    Returns:
        (spoken text, "") or (None, skip reason) for non-speech or uncertain prompts.
    """
    if _WHOLE_ANNOTATION.match(text):
        return None, "non_speech"
    text = _PAREN.sub(" ", text)
    for m in _BRACKET.finditer(text):
        if any(c.isalpha() for c in m.group(1)):
            return None, "uncertain_transcript"
    text = " ".join(_BRACKET.sub(" ", text).split())
    if not text:
        return None, "non_speech"
    return text, ""


def read_transcripts(path: PathLike, skips: SkipLog) -> Dict[str, str]:
    """Read ``core-sounds-<lang>.txt.gz`` into name -> raw text (annotations still in).

    Raises:
        CorpusError: the file is not gzip or not UTF-8.
    """
    path = Path(path)
    try:
        with gzip.open(path, "rb") as f:
            content = f.read().decode("utf-8-sig")
    except (OSError, EOFError, UnicodeDecodeError) as e:
        raise CorpusError(f"{path}: cannot read the transcripts ({e}); reinstall the "
                          "package that owns it (`dpkg -S` names it)") from None
    out: Dict[str, str] = {}
    for line_no, line in enumerate(content.splitlines(), start=1):
        line = line.strip().lstrip("\ufeff")
        if not line or line.startswith(";"):
            continue
        name, sep, text = line.partition(":")
        name, text = name.strip(), text.strip()
        if not sep or not name or " " in name:
            logger.warning("%s:%d: expected 'name: text', got %r; skipped", path, line_no,
                           line[:80])
            skips.add("malformed_line", f"{path.name}:{line_no}")
            continue
        if name in out:
            skips.add("duplicate_name", f"{name} ({path.name}:{line_no})")
            continue
        out[name] = text
    return out


def find_voice_dir(sounds_dir: PathLike, lang: str) -> Path:
    """Find the directory holding ``lang``'s prompts under ``sounds_dir``.

    The ``<lang>`` symlink (Debian alternative) wins; otherwise the single real directory whose
    name starts with ``<lang>_``.

    Raises:
        CorpusError: none found, or several real candidates and no symlink choosing one.
    """
    sounds_dir = require_path(sounds_dir, f"asterisk-core-sounds-{lang}-wav",
                              "Asterisk sounds directory")
    link = sounds_dir / lang
    if link.is_dir():
        return link.resolve()
    candidates = sorted(p.resolve() for p in sounds_dir.iterdir()
                        if p.name.startswith(f"{lang}_") and p.is_dir())
    candidates = sorted(set(candidates))
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        require_path(sounds_dir / f"{lang}_<COUNTRY>_<voice>", packages(lang)[1],
                     f"Asterisk '{lang}' voice directory")
    raise CorpusError(
        f"{sounds_dir}: several '{lang}' voice directories {[c.name for c in candidates]}; "
        "pass the one to use as voice_dir"
    )


def collect_asterisk(
    corpus_dir: PathLike = DEFAULT_SOUNDS_DIR, lang: str = "es",
    doc_dir: PathLike = DEFAULT_DOC_DIR, voice_dir: Optional[PathLike] = None,
    skips: Optional[SkipLog] = None,
) -> List[RawItem]:
    """Pair every transcript line with its prompt wav.

    Args:
        corpus_dir: the Asterisk sounds root (``/usr/share/asterisk/sounds``).
        lang: language code (``es``, ``fr``, ``it``, ``ru``).
        doc_dir: where ``asterisk-core-sounds-<lang>/core-sounds-<lang>.txt.gz`` lives.
        voice_dir: the voice directory, if auto-detection should be bypassed.
        skips: collects skipped items by reason.

    Returns:
        raw items sorted by utterance id.

    Raises:
        CorpusError: transcripts, voice dir or wav files are missing.
    """
    skips = skips if skips is not None else SkipLog(f"asterisk_{lang}")
    txt = require_path(transcript_path(lang, doc_dir), f"asterisk-core-sounds-{lang}",
                       f"Asterisk '{lang}' prompt transcripts")
    vdir = Path(voice_dir).resolve() if voice_dir else find_voice_dir(corpus_dir, lang)
    wavs = sorted(vdir.rglob("*.wav"))
    if not wavs:
        require_path(vdir / "<name>.wav", f"asterisk-core-sounds-{lang}-wav",
                     f"Asterisk '{lang}' prompts in WAV format")
    transcripts = read_transcripts(txt, skips)
    spk = make_id("asterisk", vdir.name)
    items: List[RawItem] = []
    ids: Dict[str, str] = {}
    for name, raw in sorted(transcripts.items()):
        audio = vdir / f"{name}.wav"
        if not raw:
            skips.add("empty_text", name)
            continue
        text, reason = clean_prompt(raw)
        if text is None:
            skips.add(reason, f"{name} ({raw})")
            continue
        if not audio.is_file():
            skips.add("no_audio", name)
            continue
        utt = make_id(spk, name)
        if utt in ids:  # e.g. "a/b" and "a-b" both exist
            skips.add("duplicate_name", f"{name} (same id as {ids[utt]})")
            continue
        ids[utt] = name
        items.append(RawItem(utt, spk, str(audio), text, name))
    for w in wavs:
        name = w.relative_to(vdir).with_suffix("").as_posix()
        if name not in transcripts:
            skips.add("no_transcript", name)
    logger.info("asterisk_%s: voice dir %s: %d wavs, %d transcript lines, %d matched",
                lang, vdir, len(wavs), len(transcripts), len(items))
    return sorted(items, key=lambda it: it.utt_id)


def source_info(lang: str, voice_dir: str, doc_dir: PathLike = DEFAULT_DOC_DIR) -> SourceInfo:
    return SourceInfo(
        title=f"Asterisk core sound prompts, {lang} (source: asterisk)",
        packages=packages(lang),
        license=LICENSES.get(lang, "see copyright file"),
        license_file=f"{doc_dir}/asterisk-core-sounds-{lang}/copyright",
        notes=[
            f"Audio: {voice_dir}/<name>.wav, 8 kHz narrowband telephone prompts upsampled to "
            "16 kHz (no energy above 4 kHz); one professional speaker.",
            f"Text: {transcript_path(lang, doc_dir)}; annotations in (), <> and symbol [] "
            "removed; tones/silence and prompts with bracketed optional words skipped.",
        ],
    )


def prepare_asterisk(
    corpus_dir: PathLike = DEFAULT_SOUNDS_DIR, out_dir: PathLike = "data/local/asterisk_es",
    lang: str = "es", audio_dir: PathLike = "data/local/audio/asterisk_es",
    doc_dir: PathLike = DEFAULT_DOC_DIR, voice_dir: Optional[PathLike] = None, nj: int = 2,
) -> Dict[str, Path]:
    """Prepare one language's Asterisk prompts as a Kaldi data dir (16 kHz, normalised text).

    Args:
        corpus_dir: the Asterisk sounds root.
        out_dir: data dir to write.
        lang: language code.
        audio_dir: where the upsampled WAVs go (reused if already converted).
        doc_dir: root of the transcript files (``/usr/share/doc``).
        voice_dir: explicit voice directory (default: detected from ``lang``).
        nj: conversion processes.

    Returns:
        ``{"all": out_dir}``.

    Raises:
        CorpusError: a package is missing or nothing usable is found.
    """
    skips = SkipLog(f"asterisk_{lang}")
    require_path(transcript_path(lang, doc_dir), f"asterisk-core-sounds-{lang}",
                 f"Asterisk '{lang}' prompt transcripts")
    vdir = Path(voice_dir).resolve() if voice_dir else find_voice_dir(corpus_dir, lang)
    items = collect_asterisk(corpus_dir, lang, doc_dir, vdir, skips)
    out = write_source_dir(items, skips, out_dir, lang, audio_dir,
                           source_info(lang, str(vdir), doc_dir), nj=nj)
    return {"all": out}
