"""Google FLEURS, one language, read from a local copy (never downloaded).

Input layout (``root``: one language folder, e.g. ``sw_ke``)::

    <root>/train.tsv  dev.tsv  test.tsv       # tab-separated, no header
    <root>/audio/{train,dev,test}/<file>.wav  # 16 kHz mono (audio/<split>.tar.gz extracted)

TSV columns, by position (7): sentence id, file name, raw transcription, normalized
transcription, space-separated characters, number of samples, gender. The raw transcription is
used: :func:`normalize_text` does the normalisation, the same way for every corpus. The sets are
FLEURS' own train/dev/test (they share no sentence). Fields are split on tabs with no quoting.

Speakers: FLEURS publishes no speaker ids (a sentence id groups the recordings of one
sentence by different speakers, not one speaker's recordings). So each utterance is its own
pseudo-speaker, ``fleurs_<file stem>``, and the utterance id is the same string: utt2spk says
"unknown speaker per utterance", honestly, and per-speaker normalisation is per utterance.

Skipped, by reason (``skipped.txt`` of each data dir): ``malformed_row`` (not 7 columns, no file
name, or a file name with a directory part), ``empty_text``, ``no_audio`` (the file is not in
``audio/<split>/``), ``duplicate_id`` / ``in_other_split`` (a file listed twice: it stays in
test, then dev), ``not_utf8``, ``unreadable_audio``, ``empty_after_normalization``.
"""

import logging
from pathlib import Path
from typing import Dict, List, Optional

from espnet_ext.data.corpora.items import RawItem, SkipLog
from espnet_ext.data.corpora.provenance import SourceInfo, licence_file
from espnet_ext.data.corpora.splits import (
    SPLITS, prepare_split_dirs, read_tsv, warn_if_other_language,
)
from espnet_ext.data.kaldi import make_id
from espnet_ext.errors import CorpusError
from espnet_ext.fileio import PathLike

logger = logging.getLogger(__name__)

CORPUS = "fleurs"
LICENSE = "CC-BY-4.0"
NUM_COLUMNS = 7
COL_FILE, COL_RAW_TEXT = 1, 2
LAYOUT_HINT = ("expected the FLEURS layout <lang>/{train,dev,test}.tsv + "
               "<lang>/audio/{train,dev,test}/<file>.wav (pass one language folder, e.g. sw_ke)")


def check_layout(root: PathLike) -> Path:
    """Check that ``root`` is a FLEURS language folder, before anything is read.

    Returns:
        ``root`` as a Path.

    Raises:
        CorpusError: the folder, a TSV file or an audio folder is missing; names all that are
            (and says to extract ``audio/<split>.tar.gz`` where only the archive is there).
    """
    root = Path(root)
    if not root.is_dir():
        raise CorpusError(f"FLEURS folder {root}: not found; {LAYOUT_HINT}")
    missing = [f"{s}.tsv" for s in SPLITS if not (root / f"{s}.tsv").is_file()]
    archived = []
    for s in SPLITS:
        if not (root / "audio" / s).is_dir():
            missing.append(f"audio/{s}/")
            if (root / "audio" / f"{s}.tar.gz").is_file():
                archived.append(f"audio/{s}.tar.gz")
    if missing:
        extract = (f" ({', '.join(archived)} is there: extract it with "
                   f"`tar -xzf <archive> -C {root / 'audio'}`)" if archived else "")
        raise CorpusError(f"FLEURS folder {root}: missing {', '.join(missing)}{extract}; "
                          f"{LAYOUT_HINT}")
    return root


def collect_split(root: PathLike, split: str, skips: SkipLog) -> List[RawItem]:
    """The utterances ``<split>.tsv`` lists (audio existence is checked later).

    Returns:
        raw items in file order; ``name`` is ``<split>.tsv:<line> <file>``.
    """
    root = Path(root)
    items: List[RawItem] = []
    for name, fields in read_tsv(root / f"{split}.tsv", skips):
        if len(fields) != NUM_COLUMNS:
            skips.add("malformed_row", f"{name} ({len(fields)} of {NUM_COLUMNS} columns)")
            continue
        file_name, text = fields[COL_FILE].strip(), fields[COL_RAW_TEXT].strip()
        if not file_name or "/" in file_name or "\\" in file_name:
            skips.add("malformed_row", f"{name} (file name {file_name!r})")
            continue
        if not text:
            skips.add("empty_text", f"{name} {file_name}")
            continue
        audio = root / "audio" / split / file_name
        utt = make_id(CORPUS, audio.stem)  # its own speaker: FLEURS has no speaker ids
        items.append(RawItem(utt, utt, str(audio), text, f"{name} {file_name}"))
    return items


def source_info(root: Path, lang: str, split: str) -> SourceInfo:
    return SourceInfo(
        title=f"Google FLEURS, {root.name}, {split} (source: {CORPUS})",
        packages=[],
        license=LICENSE,
        license_file=licence_file(root),
        source=f"FLEURS language folder {root.name}, published by Google FLEURS, read from the "
               f"local copy `{root.resolve()}` (nothing downloaded; release/version not "
               "visible from the folder)",
        notes=[
            f"Set: FLEURS' own {split}.tsv.",
            f"Audio: audio/{split}/<file>.wav; files already 16 kHz mono 16-bit PCM are "
            "hard-linked or copied, others converted.",
            f"Text: the raw transcription (column 3), normalised with normalize_text('{lang}'); "
            "text.orig keeps it as written. FLEURS' own normalised column is not used.",
            "Speakers: unknown. FLEURS publishes no speaker ids, so every utterance is its own "
            "pseudo-speaker (utt2spk maps each utterance to itself); speaker-level statistics "
            "and CMVN are per utterance.",
        ],
    )


def prepare_fleurs(
    root: PathLike, out_dir: PathLike, lang: str, max_utts: Optional[int] = None,
    seed: int = 777, nj: int = 2, force: bool = False, audio_dir: Optional[PathLike] = None,
) -> Dict[str, Path]:
    """Prepare one FLEURS language as ``<out_dir>/{train,dev,test}_<lang>``.

    Args:
        root: the language folder (holds ``train.tsv`` and ``audio/``).
        out_dir: data root.
        lang: language code of the data dirs and the text normaliser (``sw``, ``nl``).
        max_utts: at most this many utterances per split (seeded subset; None: all).
        seed: seeds the subset.
        nj: audio conversion processes.
        force: rebuild even if a run with other options finished.
        audio_dir: where the WAVs go (default ``<out_dir>/local/audio/fleurs_<lang>``).

    Returns:
        ``{"train": path, "dev": path, "test": path}``.

    Raises:
        CorpusError: the layout is not a FLEURS language folder (names what is missing), or a
            split has no usable utterance.
        ConfigError: bad options, or a finished run with other options and no ``force``.
        DataDirError: an output dir belongs to someone else, or fails validation.
    """
    root = check_layout(root)
    warn_if_other_language(f"FLEURS folder {root}", root.resolve().name, lang)
    return prepare_split_dirs(
        CORPUS, root, out_dir, lang,
        collect=lambda split, skips: collect_split(root, split, skips),
        source_info=lambda split: source_info(root, lang, split),
        max_utts=max_utts, seed=seed, nj=nj, force=force, audio_dir=audio_dir, link_ok=True,
    )


__all__ = ["check_layout", "collect_split", "prepare_fleurs"]
