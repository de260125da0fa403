"""Mozilla Common Voice, one language of a release, read from a local copy (never downloaded).

Input layout (``root``: the language folder of an extracted release, e.g.
``cv-corpus-17.0-2024-03-15/ro``)::

    <root>/validated.tsv  train.tsv  dev.tsv  test.tsv   # tab-separated, header row
    <root>/clips/<path>                                  # MP3 (32 or 48 kHz mono)

Columns are found by header name, not position: ``client_id``, ``path`` and ``sentence`` are
needed; newer releases add ``sentence_id``, ``sentence_domain``, ``up_votes``, ``age``,
``gender``, ``accents``, ``variant``, ``locale``, ``segment`` and more, which are ignored. The
sets are the release's own ``train``/``dev``/``test`` (speaker-disjoint by construction);
``validated.tsv`` is required as a check that the folder is a release, and only counted.
Fields are split on tabs with no quoting (sentences hold bare ``"``).

Speaker: ``cv_<first 12 hex digits of client_id>`` (a second client with the same 12 digits
gets its full id); utterance id ``<spk>_<clip name without .mp3>``. MP3 is decoded by
libsndfile and resampled to 16 kHz mono.

Skipped, by reason (``skipped.txt`` of each data dir): ``malformed_row`` (column count differs
from the header, no client_id/path, or a path with a directory part), ``empty_text``,
``no_audio`` (the clip is not in ``clips/``), ``duplicate_id`` / ``in_other_split`` (a clip
listed twice: it stays in test, then dev), ``not_utf8``, ``unreadable_audio``,
``empty_after_normalization``.
"""

import functools
import logging
import re
from pathlib import Path
from typing import Dict, List, Optional

from espnet_ext.data.corpora.items import RawItem, SkipLog
from espnet_ext.data.corpora.provenance import SourceInfo, licence_file
from espnet_ext.data.corpora.splits import prepare_split_dirs, read_tsv, warn_if_other_language
from espnet_ext.data.kaldi import make_id
from espnet_ext.errors import CorpusError
from espnet_ext.fileio import PathLike

logger = logging.getLogger(__name__)

CORPUS = "common_voice"
LICENSE = "CC0-1.0"
TSV_FILES = ("train.tsv", "dev.tsv", "test.tsv", "validated.tsv")
REQUIRED_COLUMNS = ("client_id", "path", "sentence")
LAYOUT_HINT = ("expected the release layout <lang>/{train,dev,test,validated}.tsv + clips/ "
               "(pass the language folder of the extracted release)")
SPEAKER_DIGITS = 12
# cv-corpus-17.0-2024-03-15, cv-corpus-5.1-2020-06-22, cv-corpus-16.1-delta-2023-12-06
_RELEASE = re.compile(r"^cv-corpus-\d+(\.\d+)?(-delta)?-\d{4}-\d{2}-\d{2}$")


def check_layout(root: PathLike) -> Path:
    """Check that ``root`` is a Common Voice language folder, before anything is read.

    Returns:
        ``root`` as a Path.

    Raises:
        CorpusError: the folder, a TSV file or ``clips/`` is missing; names all that are.
    """
    root = Path(root)
    if not root.is_dir():
        raise CorpusError(f"Common Voice folder {root}: not found; {LAYOUT_HINT}")
    missing = [n for n in TSV_FILES if not (root / n).is_file()]
    if not (root / "clips").is_dir():
        missing.append("clips/")
    if missing:
        raise CorpusError(f"Common Voice folder {root}: missing {', '.join(missing)}; "
                          f"{LAYOUT_HINT}")
    return root


def release_name(root: PathLike) -> str:
    """The release folder name above ``root`` (``cv-corpus-17.0-2024-03-15``), or a note."""
    for part in reversed(Path(root).resolve().parts):
        if _RELEASE.match(part):
            return part
    return "unknown (no cv-corpus-<version>-<date> folder in the path)"


@functools.lru_cache(maxsize=8)  # once per preparation, not per split (the file can be large)
def _count_rows(path: Path) -> int:
    with open(path, "rb") as f:
        return max(0, sum(1 for line in f if line.strip()) - 1)  # minus the header


class _Speakers:
    """client_id -> short speaker id, kept unique across the splits of one preparation."""

    def __init__(self) -> None:
        self.by_client: Dict[str, str] = {}
        self.owner: Dict[str, str] = {}  # short id -> the client_id that has it

    def __call__(self, client_id: str) -> str:
        spk = self.by_client.get(client_id)
        if spk is None:
            spk = make_id("cv", client_id[:SPEAKER_DIGITS])
            if self.owner.setdefault(spk, client_id) != client_id:
                spk = make_id("cv", client_id)  # 12-digit collision: the full id is unique
            self.by_client[client_id] = spk
        return spk


def collect_split(root: PathLike, split: str, skips: SkipLog,
                  speakers: Optional[_Speakers] = None) -> List[RawItem]:
    """The utterances ``<split>.tsv`` lists (audio existence is checked later).

    Args:
        root: the language folder.
        split: ``train``, ``dev`` or ``test``.
        skips: where malformed rows are recorded.
        speakers: the speaker-id map shared by the splits.

    Returns:
        raw items in file order; ``name`` is ``<split>.tsv:<line> <clip>``.

    Raises:
        CorpusError: the file is empty or its header lacks a needed column.
    """
    tsv = Path(root) / f"{split}.tsv"
    speakers = speakers if speakers is not None else _Speakers()
    rows = read_tsv(tsv, skips)
    first = next(rows, None)
    header = [h.strip() for h in first[1]] if first else []
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise CorpusError(
            f"{tsv}: header row {header or '(file is empty)'} lacks column(s) {missing}; "
            f"expected a Common Voice TSV with columns {list(REQUIRED_COLUMNS)} (and others)"
        )
    col = {c: header.index(c) for c in REQUIRED_COLUMNS}
    items: List[RawItem] = []
    for name, fields in rows:
        if len(fields) != len(header):
            skips.add("malformed_row", f"{name} ({len(fields)} of {len(header)} columns)")
            continue
        client, clip, sentence = (fields[col[c]].strip() for c in REQUIRED_COLUMNS)
        if not client or not clip or "/" in clip or "\\" in clip:
            skips.add("malformed_row", f"{name} (client_id {client!r}, path {clip!r})")
            continue
        if not sentence:
            skips.add("empty_text", f"{name} {clip}")
            continue
        # Early releases listed the clip name without its extension.
        audio = Path(root) / "clips" / (clip if clip.endswith(".mp3") else f"{clip}.mp3")
        spk = speakers(client)
        items.append(RawItem(make_id(spk, audio.stem), spk, str(audio), sentence,
                             f"{name} {clip}"))
    return items


def source_info(root: Path, lang: str, split: str) -> SourceInfo:
    return SourceInfo(
        title=f"Mozilla Common Voice, {root.name}, {split} (source: {CORPUS})",
        packages=[],
        license=LICENSE,
        license_file=licence_file(root),
        source=f"Common Voice release {release_name(root)}, published by Mozilla Common "
               f"Voice, read from the local copy `{root.resolve()}` (nothing downloaded)",
        notes=[
            f"Set: the release's {split}.tsv (validated.tsv holds "
            f"{_count_rows(root / 'validated.tsv')} clips in all).",
            "Audio: clips/<path> (MP3), decoded by libsndfile and resampled to 16 kHz mono.",
            f"Text: the `sentence` column, normalised with normalize_text('{lang}'); "
            "text.orig keeps it as written.",
            f"Speakers: `client_id` (one per contributor account), shortened to "
            f"cv_<first {SPEAKER_DIGITS} hex digits>.",
        ],
    )


def prepare_common_voice(
    root: PathLike, out_dir: PathLike, lang: str, max_utts: Optional[int] = None,
    seed: int = 777, nj: int = 2, force: bool = False, audio_dir: Optional[PathLike] = None,
) -> Dict[str, Path]:
    """Prepare one Common Voice language as ``<out_dir>/{train,dev,test}_<lang>``.

    Args:
        root: the language folder of a release (holds ``train.tsv`` and ``clips/``).
        out_dir: data root.
        lang: language code of the data dirs and the text normaliser (``ro``, ``nl``).
        max_utts: at most this many utterances per split (seeded subset; None: all).
        seed: seeds the subset.
        nj: audio conversion processes.
        force: rebuild even if a run with other options finished.
        audio_dir: where the WAVs go (default ``<out_dir>/local/audio/common_voice_<lang>``).

    Returns:
        ``{"train": path, "dev": path, "test": path}``.

    Raises:
        CorpusError: the layout is not a Common Voice language folder (names what is missing),
            a TSV header lacks a column, or a split has no usable utterance.
        ConfigError: bad options, or a finished run with other options and no ``force``.
        DataDirError: an output dir belongs to someone else, or fails validation.
    """
    root = check_layout(root)
    warn_if_other_language(f"Common Voice folder {root}", root.resolve().name, lang)
    speakers = _Speakers()
    return prepare_split_dirs(
        CORPUS, root, out_dir, lang,
        collect=lambda split, skips: collect_split(root, split, skips, speakers),
        source_info=lambda split: source_info(root, lang, split),
        max_utts=max_utts, seed=seed, nj=nj, force=force, audio_dir=audio_dir,
    )


__all__ = ["check_layout", "release_name", "collect_split", "prepare_common_voice"]
