"""Corpora that ship their own train/dev/test split (common_voice, fleurs, mls): reading their
TSVs, the language code, and :func:`prepare_split_dirs`, which adds the options marker, the
ownership check (:mod:`espnet_ext.steps`) and ``max_utts`` to :func:`write_source_dir`.
"""

import re
import logging
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Tuple

from espnet_ext.data.corpora.items import RawItem, SkipLog, default_locate, pick_items
from espnet_ext.data.corpora.provenance import SourceInfo
from espnet_ext.data.corpora.source_dir import SKIPPED_FILE, write_source_dir
from espnet_ext.errors import ConfigError, CorpusError
from espnet_ext.fileio import PathLike
from espnet_ext.steps import REFUSE, check_owned, claim_dir, is_done, mark_done
from espnet_ext.versioning import CORPUS_SPLITS

logger = logging.getLogger(__name__)

SPLITS = ("train", "dev", "test")
_LANG_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")


def marker_is_current(marker: PathLike, options: dict, force: bool, what: str,
                      elsewhere: str = "out_root") -> bool:
    """Whether a finished preparation with the same ``options`` left ``marker`` (logged then).

    Other options are refused (a preparer's dirs are what later stages build on); with
    ``force`` the marker is removed and False returned. See :func:`espnet_ext.steps.is_done`.

    Raises:
        ConfigError: the marker records other options and ``force`` is off.
    """
    if is_done(marker, options, force=force, on_change=REFUSE, nested=True,
               elsewhere=elsewhere):
        logger.info("%s already prepared (%s); nothing to do", what, marker)
        return True
    return False


def read_tsv(path: PathLike, skips: SkipLog, label: Optional[str] = None
             ) -> Iterator[Tuple[str, List[str]]]:
    """Yield ``(name, fields)`` for every non-blank line of a tab-separated UTF-8 file.

    Lines are split on tabs only, with no quoting: Common Voice and FLEURS write quotes inside
    sentences unescaped, which a csv reader would take as a field spanning lines. A line that is
    not UTF-8 is skipped under reason ``not_utf8``; a BOM at the start is dropped.

    Args:
        path: the file.
        skips: where undecodable lines are recorded.
        label: the file as messages name it (default: its file name).

    Yields:
        ``("<label>:<line number>", fields)``.
    """
    path = Path(path)
    label = label or path.name
    with open(path, "rb") as f:
        for line_no, raw in enumerate(f, start=1):
            name = f"{label}:{line_no}"
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                skips.add("not_utf8", name)
                continue
            line = line.rstrip("\r\n").lstrip("\ufeff") if line_no == 1 else line.rstrip("\r\n")
            if line.strip():  # a blank line (e.g. at the end) holds no row
                yield name, line.split("\t")

def warn_if_other_language(what: str, folder_lang: str, lang: str) -> None:
    """Log a warning when the folder's language differs from ``lang`` (a likely mix-up).

    Only the primary subtag is compared (``zh-CN`` vs ``zh``, ``sw_ke`` vs ``sw``). Not an
    error: folders may be renamed, and the code of ``lang`` is the user's choice.
    """
    def primary(code: str) -> str:
        return re.split(r"[-_]", code.strip().lower())[0]

    if folder_lang and primary(folder_lang) != primary(lang):
        logger.warning("%s looks like language '%s', but lang='%s' was given; the data dirs are "
                       "named and normalised as '%s'", what, folder_lang, lang, lang)

def check_lang_code(lang: str) -> str:
    """Return ``lang`` if it can name data dirs (``train_<lang>``).

    Raises:
        ConfigError: it is empty or holds characters other than letters, digits and ``-``
            (``_`` is kept out so that ``<split>_<lang>`` splits unambiguously).
    """
    if not _LANG_CODE.fullmatch(lang or ""):
        raise ConfigError(f"lang='{lang}': use a language code of letters, digits and '-' "
                          "(e.g. nl, sw, zh-CN); it names the data dirs train_<lang> etc.")
    return lang


def prepare_split_dirs(
    corpus: str,
    root: PathLike,
    out_dir: PathLike,
    lang: str,
    collect: Callable[[str, SkipLog], List[RawItem]],
    source_info: Callable[[str], SourceInfo],
    max_utts: Optional[int] = None,
    seed: int = 777,
    nj: int = 2,
    force: bool = False,
    audio_dir: Optional[PathLike] = None,
    locate: Callable[[RawItem], Tuple[Optional[str], str]] = default_locate,
    link_ok: bool = False,
) -> Dict[str, Path]:
    """Write ``<out_dir>/{train,dev,test}_<lang>`` from a corpus that ships its own split.

    Every split is read (``collect``) and its audio located before anything is converted, so a
    malformed listing or an empty split fails fast. An id listed twice is kept once: in the
    first of test, dev, train (reason ``in_other_split`` or ``duplicate_id``), so evaluation
    data never leaks into training. The options are recorded in ``<out_dir>/.corpus_<lang>.done``
    (written last): a rerun with the same options does nothing, other options need ``force``.

    Args:
        corpus: corpus name (``common_voice``); names the owner of the dirs and the audio dir.
        root: the corpus folder (already checked by the caller).
        out_dir: data root.
        lang: language code of the dir names and the text normaliser.
        collect: ``(split, skips) -> items`` listed for that split, audio not yet checked.
        source_info: ``split -> SourceInfo`` for PROVENANCE.md (a selection note is added).
        max_utts: at most this many utterances per split (seeded subset; None: all).
        seed: seeds the ``max_utts`` subset.
        nj: audio conversion processes.
        force: rebuild whatever the marker says, and overwrite dirs this corpus did not write.
        audio_dir: where the 16 kHz WAVs go (default ``<out_dir>/local/audio/<corpus>_<lang>``).
        locate: item -> (audio path, "") or (None, skip reason); default: the file must exist.
        link_ok: inputs already 16 kHz mono PCM16 WAV are hard-linked/copied, not re-encoded.

    Returns:
        ``{"train": path, "dev": path, "test": path}``.

    Raises:
        ConfigError: bad options, or a finished run with other options and no ``force``.
        CorpusError: a split has no usable utterance (the message counts skips by reason).
        DataDirError: an output dir belongs to someone else, or fails validation.
    """
    check_lang_code(lang)
    if max_utts is not None and max_utts < 1:
        raise ConfigError(f"max_utts={max_utts}: need at least 1 (or None for all)")
    if nj < 1:
        raise ConfigError(f"nj={nj}: need at least 1 process")
    out_dir, root = Path(out_dir), Path(root).resolve()
    audio = Path(audio_dir if audio_dir is not None
                 else out_dir / "local" / "audio" / f"{corpus}_{lang}")
    options = {"version": CORPUS_SPLITS.current, "corpus": corpus, "root": str(root),
               "lang": lang, "max_utts": max_utts, "seed": seed}
    outputs = {s: out_dir / f"{s}_{lang}" for s in SPLITS}
    marker = out_dir / f".corpus_{lang}.done"
    if marker_is_current(marker, options, force, f"{corpus} '{lang}' in {out_dir}", "out_dir"):
        return outputs
    for d in outputs.values():
        # A data dir of another corpus or tool (e.g. the offline corpus' train_nl) with the same
        # name is never overwritten by accident.
        check_owned(d, corpus, force=force, who=f"this preparation ({corpus})",
                    elsewhere="out_dir")

    skips = {s: SkipLog(f"{corpus} {s}_{lang}") for s in SPLITS}
    seen: Dict[str, str] = {}
    listed: Dict[str, List[RawItem]] = {}
    for split in ("test", "dev", "train"):  # held-out sets first: a doubly listed id stays there
        listed[split] = []
        for it in collect(split, skips[split]):
            if it.utt_id in seen:
                skips[split].add("duplicate_id" if seen[it.utt_id] == split else "in_other_split",
                                 f"{it.name} (also in {seen[it.utt_id]})")
                continue
            seen[it.utt_id] = split
            listed[split].append(it)
    picked = {s: pick_items(listed[s], max_utts, seed, skips[s], locate) for s in SPLITS}
    for split in SPLITS:
        if not picked[split]:
            raise CorpusError(
                f"{corpus} folder {root}: no usable utterance in the {split} split ("
                f"{len(listed[split])} listed; skipped: {skips[split].counts()}); check the "
                f"listing and that its audio files are there (see the warnings above)"
            )
    for split in SPLITS:
        info = source_info(split)
        info.skipped_listing = f"`{SKIPPED_FILE}` beside this file"
        info.notes.append(
            f"Selection: {len(picked[split])} of {len(listed[split])} listed utterances "
            + (f"(max_utts {max_utts}: seeded subset, seed {seed})." if max_utts is not None
               else "(all with audio).")
        )
        claim_dir(outputs[split], corpus)
        write_source_dir(picked[split], skips[split], outputs[split], lang, audio, info, nj=nj,
                         link_ok=link_ok)
    mark_done(marker, options, outputs=sorted(d.name for d in outputs.values()))
    return outputs
