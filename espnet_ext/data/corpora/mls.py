"""Multilingual LibriSpeech (MLS), one language, read from a local copy (never downloaded).

Input layout (``root``: one extracted language, e.g. ``mls_dutch`` or ``mls_dutch_opus``)::

    <root>/{train,dev,test}/transcripts.txt      # lines: <spk>_<book>_<utt>\\t<text>
    <root>/{train,dev,test}/audio/<spk>/<book>/<spk>_<book>_<utt>.flac   # or .opus

Both audio variants published by OpenSLR MLS are accepted, file by file: ``.flac`` (16 kHz) and
``.opus`` (Ogg Opus, 48 kHz, decoded by libsndfile >= 1.0.29). Other files of the release
(``segments.txt``, ``limited_supervision/``, ``metainfo.txt``) are not needed. The sets are MLS'
own train/dev/test (speaker-disjoint).

Speaker: ``mls_<spk>`` (LibriVox reader id); utterance id ``mls_<spk>_<book>_<utt>``.

Skipped, by reason (``skipped.txt`` of each data dir): ``malformed_row`` (not ``id<TAB>text``,
or an id that is not ``<spk>_<book>_<utt>``), ``empty_text``, ``no_audio`` (neither ``.flac``
nor ``.opus`` exists), ``opus_not_supported`` (this libsndfile cannot decode Opus),
``duplicate_id`` / ``in_other_split``, ``not_utf8``, ``unreadable_audio``,
``empty_after_normalization``.
"""

import logging
import os
import re
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import soundfile as sf

from espnet_ext.data.corpora.items import RawItem, SkipLog
from espnet_ext.data.corpora.provenance import SourceInfo, licence_file
from espnet_ext.data.corpora.splits import (
    SPLITS, prepare_split_dirs, read_tsv, warn_if_other_language,
)
from espnet_ext.data.kaldi import make_id
from espnet_ext.errors import CorpusError
from espnet_ext.fileio import PathLike

logger = logging.getLogger(__name__)

CORPUS = "mls"
LICENSE = "CC-BY-4.0"
AUDIO_EXTENSIONS = (".flac", ".opus")
# Folder names of the releases (mls_<language>[_opus]) -> language code, to catch mix-ups.
FOLDER_LANGUAGES = {"dutch": "nl", "english": "en", "french": "fr", "german": "de",
                    "italian": "it", "polish": "pl", "portuguese": "pt", "spanish": "es"}
LAYOUT_HINT = ("expected the MLS layout <root>/{train,dev,test}/transcripts.txt + "
               "<root>/{train,dev,test}/audio/<spk>/<book>/<spk>_<book>_<utt>.{flac,opus} "
               "(pass one extracted language, e.g. mls_dutch)")
_UTT_ID = re.compile(r"^([A-Za-z0-9]+)_([A-Za-z0-9]+)_([A-Za-z0-9]+)$")
_FOLDER = re.compile(r"^mls_([a-z]+?)(_opus)?$")


def opus_supported() -> bool:
    """Whether the installed libsndfile decodes Ogg Opus (1.0.29 and later do)."""
    try:
        return "OPUS" in sf.available_subtypes("OGG")
    except Exception:  # noqa: BLE001 - an old soundfile without OGG: no Opus either
        return False


def check_layout(root: PathLike) -> Path:
    """Check that ``root`` is an extracted MLS language, before anything is read.

    Returns:
        ``root`` as a Path.

    Raises:
        CorpusError: the folder, a transcripts file or an audio folder is missing; names all.
    """
    root = Path(root)
    if not root.is_dir():
        raise CorpusError(f"MLS folder {root}: not found; {LAYOUT_HINT}")
    missing = []
    for s in SPLITS:
        if not (root / s / "transcripts.txt").is_file():
            missing.append(f"{s}/transcripts.txt")
        if not (root / s / "audio").is_dir():
            missing.append(f"{s}/audio/")
    if missing:
        raise CorpusError(f"MLS folder {root}: missing {', '.join(missing)}; {LAYOUT_HINT}")
    return root


def collect_split(root: PathLike, split: str, skips: SkipLog) -> List[RawItem]:
    """The utterances ``<split>/transcripts.txt`` lists.

    ``src_audio`` is the audio path without extension; :func:`locate_audio` picks ``.flac`` or
    ``.opus`` later, for the utterances actually used.

    Returns:
        raw items in file order; ``name`` is ``<split>/transcripts.txt:<line> <id>``.
    """
    root = Path(root)
    items: List[RawItem] = []
    for name, fields in read_tsv(root / split / "transcripts.txt", skips,
                                 label=f"{split}/transcripts.txt"):
        uid = fields[0].strip()
        m = _UTT_ID.match(uid)
        if len(fields) != 2 or not m:
            skips.add("malformed_row", f"{name} (expected '<spk>_<book>_<utt><TAB>text', got "
                                       f"{len(fields)} field(s) and id {uid[:40]!r})")
            continue
        text = fields[1].strip()
        if not text:
            skips.add("empty_text", f"{name} {uid}")
            continue
        spk, book = m.group(1), m.group(2)
        spk_id = make_id(CORPUS, spk)
        base = root / split / "audio" / spk / book / uid
        items.append(RawItem(make_id(spk_id, f"{book}_{m.group(3)}"), spk_id, str(base), text,
                             f"{name} {uid}"))
    return items


def locate_audio(item: RawItem, opus_ok: bool = True) -> Tuple[Optional[str], str]:
    """``<base>.flac`` or ``<base>.opus``, whichever exists, or (None, skip reason)."""
    for ext in AUDIO_EXTENSIONS:
        path = item.src_audio + ext
        if os.path.isfile(path):
            if ext == ".opus" and not opus_ok:
                return None, "opus_not_supported"
            return path, ""
    return None, "no_audio"


def variant(root: Path) -> Tuple[str, str]:
    """(folder language, ``flac``/``opus``/``unknown``) from an ``mls_<language>[_opus]`` name."""
    m = _FOLDER.match(root.resolve().name)
    if not m:
        return "", "unknown"
    return FOLDER_LANGUAGES.get(m.group(1), m.group(1)), "opus" if m.group(2) else "flac"


def source_info(root: Path, lang: str, split: str) -> SourceInfo:
    _, kind = variant(root)
    return SourceInfo(
        title=f"Multilingual LibriSpeech, {root.resolve().name}, {split} (source: {CORPUS})",
        packages=[],
        license=LICENSE,
        license_file=licence_file(root),
        source=f"MLS folder {root.resolve().name} (audio variant: {kind}, from the folder "
               f"name), published by OpenSLR MLS, read from the local copy `{root.resolve()}` "
               "(nothing downloaded; release version not visible from the folder)",
        notes=[
            f"Set: MLS' own {split}/transcripts.txt.",
            f"Audio: {split}/audio/<spk>/<book>/<id>.flac or .opus, decoded by libsndfile "
            "and resampled to 16 kHz mono.",
            f"Text: the transcript, normalised with normalize_text('{lang}'); text.orig keeps "
            "it as written.",
            "Speakers: the <spk> field of the id (LibriVox reader), as mls_<spk>.",
        ],
    )


def prepare_mls(
    root: PathLike, out_dir: PathLike, lang: str, max_utts: Optional[int] = None,
    seed: int = 777, nj: int = 2, force: bool = False, audio_dir: Optional[PathLike] = None,
) -> Dict[str, Path]:
    """Prepare one MLS language as ``<out_dir>/{train,dev,test}_<lang>``.

    Args:
        root: the extracted language (holds ``train/transcripts.txt``).
        out_dir: data root.
        lang: language code of the data dirs and the text normaliser (``nl``).
        max_utts: at most this many utterances per split (seeded subset; None: all).
        seed: seeds the subset.
        nj: audio conversion processes.
        force: rebuild even if a run with other options finished.
        audio_dir: where the WAVs go (default ``<out_dir>/local/audio/mls_<lang>``).

    Returns:
        ``{"train": path, "dev": path, "test": path}``.

    Raises:
        CorpusError: the layout is not an MLS language (names what is missing), or a split
            has no usable utterance.
        ConfigError: bad options, or a finished run with other options and no ``force``.
        DataDirError: an output dir belongs to someone else, or fails validation.
    """
    root = check_layout(root)
    warn_if_other_language(f"MLS folder {root}", variant(root)[0], lang)
    opus_ok = opus_supported()
    if not opus_ok:
        logger.warning("libsndfile %s cannot decode Opus: .opus files are skipped "
                       "(reason opus_not_supported); use the .flac release or libsndfile >= "
                       "1.0.29", sf.__libsndfile_version__)
    return prepare_split_dirs(
        CORPUS, root, out_dir, lang,
        collect=lambda split, skips: collect_split(root, split, skips),
        source_info=lambda split: source_info(root, lang, split),
        max_utts=max_utts, seed=seed, nj=nj, force=force, audio_dir=audio_dir,
        locate=lambda item: locate_audio(item, opus_ok),
    )


__all__ = ["opus_supported", "check_layout", "collect_split", "locate_audio",
           "prepare_mls", "variant"]
