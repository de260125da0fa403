"""Shared machinery of the corpus preparers: the offline Debian sources (fillets, asterisk,
festvox_ru) and local copies of public corpora (common_voice, fleurs, mls, cgn).

Each preparer only knows its source's layout: it turns the source into :class:`RawItem` s and a
:class:`SkipLog`, then hands both to :func:`write_source_dir`, which converts the audio to 16 kHz
mono WAV (idempotent, atomic, in a process pool), normalises the text, writes and validates the
Kaldi data dir, and records what was skipped and why (``skipped.txt`` and ``PROVENANCE.md``).
Corpora that ship their own train/dev/test split go through :func:`prepare_split_dirs`, which
adds the options marker and the ownership check (:mod:`espnet_ext.steps`) and ``max_utts``.
"""

import dataclasses
import json
import re
import logging
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from multiprocessing import Pool
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import soundfile as sf

from espnet_ext.data.audio import TARGET_SR, convert_to_16k_wav
from espnet_ext.data.kaldi import Utterance, write_data_dir, write_kaldi_map
from espnet_ext.data.validate import validate_data_dir
from espnet_ext.errors import ConfigError, CorpusError
from espnet_ext.fileio import PathLike, atomic_write_text
from espnet_ext.steps import (
    OWNER_FILE, REFUSE, check_owned, claim_dir, is_done, mark_done, seeded_order,
)
from espnet_ext.text.normalize import normalize_text
from espnet_ext.versioning import CORPUS_SPLITS

logger = logging.getLogger(__name__)

PROVENANCE_FILE = "PROVENANCE.md"
SKIPPED_FILE = "skipped.txt"
# Examples named per skip reason in logs and skipped.txt (the full list is in skipped.txt).
_LOG_EXAMPLES = 5


@dataclass(frozen=True)
class RawItem:
    """One candidate utterance found in a source, before conversion and normalisation.

    Attributes:
        utt_id: final utterance id (built with ``make_id``; starts with ``spk_id``).
        spk_id: speaker id.
        src_audio: path of the source audio file.
        text: transcript as written in the source (single line).
        name: human-readable item name for messages, e.g. ``airplane/let-m-oko``.
    """

    utt_id: str
    spk_id: str
    src_audio: str
    text: str
    name: str


@dataclass
class SkipLog:
    """Items left out of a source, by reason; nothing is dropped without an entry here."""

    source: str
    items: Dict[str, List[str]] = field(default_factory=dict)

    def add(self, reason: str, name: str) -> None:
        self.items.setdefault(reason, []).append(name)

    def counts(self) -> Dict[str, int]:
        return {r: len(v) for r, v in sorted(self.items.items())}

    def log(self) -> None:
        for reason, names in sorted(self.items.items()):
            logger.warning(
                "%s: skipped %d item(s), reason '%s' (e.g. %s)",
                self.source, len(names), reason, ", ".join(names[:_LOG_EXAMPLES]),
            )

    def write(self, path: PathLike) -> None:
        lines = [f"{reason}\t{name}\n" for reason, names in sorted(self.items.items())
                 for name in names]
        atomic_write_text(path, "".join(lines))


def require_path(path: PathLike, package: str, what: str) -> Path:
    """Return ``path`` if it exists, else raise a CorpusError naming the Debian package.

    Raises:
        CorpusError: ``path`` does not exist.
    """
    path = Path(path)
    if not path.exists():
        raise CorpusError(
            f"{what} not found: expected '{path}'. Install the Debian package with "
            f"`sudo apt-get install {package}` (or pass the directory where it lives)"
        )
    return path


def dpkg_version(package: str) -> str:
    """The installed version of a Debian package, or a note saying why it is unknown."""
    try:
        proc = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", package],
            capture_output=True, text=True, check=False, timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unknown (dpkg-query failed: {e})"
    if proc.returncode != 0 or not proc.stdout.strip():
        return "not installed (data read from a non-Debian location)"
    return proc.stdout.strip()


def debian_licence(package: str) -> str:
    """The licences a Debian ``copyright`` file names (DEP-5), or its first non-empty line."""
    f = Path("/usr/share/doc") / package / "copyright"
    if not f.is_file():
        return "unknown (no /usr/share/doc/%s/copyright)" % package
    lines = f.read_text(encoding="utf-8", errors="replace").splitlines()
    names: List[str] = []
    for line in lines:
        if line.startswith("License:"):
            name = line[len("License:"):].strip()
            if name and name not in names:
                names.append(name)
    if not names:  # free-form file: the licences it points to, else its copyright statement
        for ref in re.findall(r"/usr/share/common-licenses/([\w+-]+(?:\.\d+)?)",
                              "\n".join(lines)):
            if ref not in names:
                names.append(ref)
    if names:
        return "; ".join(names[:4]) + (" ..." if len(names) > 4 else "")
    stmt = [ln.strip() for ln in lines if re.search(r"Copyright|Permission is granted", ln)]
    return (" / ".join(stmt[:2])[:160] or "see") + f" (/usr/share/doc/{package}/copyright)"


def is_wav_16k_mono(path: PathLike) -> bool:
    """True if ``path`` is a non-empty 16 kHz mono 16-bit PCM WAV (header check only)."""
    try:
        info = sf.info(str(path))
    except Exception:  # noqa: BLE001 - any unreadable file is "not a good wav"
        return False
    return (
        info.format == "WAV" and info.subtype == "PCM_16" and info.samplerate == TARGET_SR
        and info.channels == 1 and info.frames > 0
    )


def _convert_one(job: Tuple[str, str, bool]) -> Tuple[str, Optional[float], str]:
    """Pool worker: (src, dst, link_ok) -> (dst, seconds or None, error message)."""
    src, dst, link_ok = job
    try:
        if is_wav_16k_mono(dst):  # idempotent: a previous run (or this one) finished it
            return dst, sf.info(dst).frames / TARGET_SR, ""
        if link_ok and is_wav_16k_mono(src):
            # Already in the target format: hard-link (a package upgrade replaces the file,
            # the link keeps our copy) or copy, atomically.
            tmp = f"{dst}.tmp{os.getpid()}"
            try:
                os.link(src, tmp)
            except OSError:
                shutil.copyfile(src, tmp)
            os.replace(tmp, dst)
            return dst, sf.info(dst).frames / TARGET_SR, ""
        seconds = convert_to_16k_wav(src, dst)
        if seconds <= 0:
            return dst, None, "audio has 0 samples"
        return dst, seconds, ""
    except Exception as e:  # noqa: BLE001 - reported per item by the caller
        return dst, None, f"{type(e).__name__}: {e}"


def convert_audio(
    items: Sequence[RawItem], audio_dir: PathLike, skips: SkipLog, nj: int = 2,
    link_ok: bool = False,
) -> Tuple[List[RawItem], Dict[str, float], Dict[str, str]]:
    """Convert every item's audio to ``audio_dir/<utt_id>.wav`` (16 kHz mono PCM16).

    An output that already exists with the right header is kept (reruns are cheap); each output
    is written atomically. Unreadable or empty inputs are skipped under reason
    ``unreadable_audio`` naming the item and the error.

    Args:
        items: candidate utterances.
        audio_dir: output directory (created).
        skips: where skipped items are recorded.
        nj: worker processes (1: no pool).
        link_ok: inputs already 16 kHz mono PCM16 WAV are hard-linked/copied, not re-encoded.

    Returns:
        (kept items, utt_id -> seconds, utt_id -> output path).
    """
    audio_dir = Path(audio_dir).resolve()
    audio_dir.mkdir(parents=True, exist_ok=True)
    jobs = [(it.src_audio, str(audio_dir / f"{it.utt_id}.wav"), link_ok) for it in items]
    if nj > 1 and len(jobs) > 1:
        with Pool(min(nj, len(jobs))) as pool:
            results = pool.map(_convert_one, jobs, chunksize=8)
    else:
        results = [_convert_one(j) for j in jobs]
    kept, durations, paths = [], {}, {}
    for it, (dst, seconds, err) in zip(items, results):
        if seconds is None:
            logger.warning("%s: item '%s' (%s): %s; skipped", skips.source, it.name,
                           it.src_audio, err)
            skips.add("unreadable_audio", it.name)
            continue
        kept.append(it)
        durations[it.utt_id] = seconds
        paths[it.utt_id] = dst
    return kept, durations, paths


@dataclass
class SourceInfo:
    """What PROVENANCE.md says about a source.

    Attributes:
        title: the heading.
        packages: Debian packages the data comes from (a version table is written); empty for
            a corpus read from a local copy.
        license: licence name (SPDX id where there is one).
        license_file: where the licence text is; "" if the source ships none.
        notes: further bullet points (audio, text, speakers, selection).
        source: where a source that is not a Debian package (``packages == []``) was read
            from, e.g. a corpus on local disk: path and release.
        skipped_listing: where the skipped items are listed, as PROVENANCE.md names them.
    """

    title: str
    packages: List[str]
    license: str
    license_file: str
    notes: List[str] = field(default_factory=list)
    source: str = ""
    skipped_listing: str = "`skipped.txt` of the source dir under data/local/"


def provenance_text(info: SourceInfo, skips: SkipLog, num_utts: int, hours: float) -> str:
    lines = [f"# {info.title}", ""]
    if info.packages:
        lines.append("| Debian package | version |")
        lines.append("|---|---|")
        lines += [f"| {p} | {dpkg_version(p)} |" for p in info.packages]
        lines.append("")
    if info.source:
        lines.append(f"- Source: {info.source}")
    see = f" (see `{info.license_file}`)" if info.license_file else ""
    lines += [f"- Licence: {info.license}{see}"]
    lines += [f"- {n}" for n in info.notes]
    lines.append(f"- Kept: {num_utts} utterances, {hours:.3f} h (16 kHz mono 16-bit WAV)")
    counts = skips.counts()
    if counts:
        lines.append(f"- Skipped (reason: count; the items are listed in {info.skipped_listing}):")
        lines += [f"  - {r}: {c}" for r, c in counts.items()]
    else:
        lines.append("- Skipped: none")
    return "\n".join(lines) + "\n"


def write_source_dir(
    items: Sequence[RawItem], skips: SkipLog, out_dir: PathLike, lang: str, audio_dir: PathLike,
    info: SourceInfo, nj: int = 2, link_ok: bool = False,
) -> Path:
    """Convert, normalise, write and validate one source's data dir.

    Writes ``out_dir`` with ``text`` (normalised), ``text.orig`` (as in the source),
    ``utt2dur``, ``skipped.txt``, ``skipped.json`` and ``PROVENANCE.md``.

    Raises:
        CorpusError: nothing usable is left.
        DataDirError: the written dir fails validation (a bug, named by the validator).
    """
    out_dir = Path(out_dir)
    kept, durations, paths = convert_audio(items, audio_dir, skips, nj=nj, link_ok=link_ok)
    utts, orig = [], {}
    for it in kept:
        norm = normalize_text(it.text, lang)
        if not norm:
            skips.add("empty_after_normalization", it.name)
            continue
        utts.append(Utterance(it.utt_id, it.spk_id, paths[it.utt_id], norm, lang))
        orig[it.utt_id] = " ".join(it.text.split())
    skips.log()
    if not utts:
        raise CorpusError(
            f"{skips.source}: no usable utterance left (skipped: {skips.counts()}); "
            "check that the source's audio and transcripts are installed"
        )
    write_data_dir(out_dir, utts, overwrite=True)
    write_kaldi_map(out_dir / "text.orig", orig)
    write_kaldi_map(out_dir / "utt2dur", {u.utt_id: f"{durations[u.utt_id]:.3f}" for u in utts})
    skips.write(out_dir / SKIPPED_FILE)
    atomic_write_text(out_dir / "skipped.json", json.dumps(skips.counts(), indent=2) + "\n")
    stats = validate_data_dir(out_dir)
    atomic_write_text(out_dir / PROVENANCE_FILE,
                      provenance_text(info, skips, stats.num_utts, stats.hours))
    logger.info("%s: wrote %s (%d utts, %d speakers, %.3f h; skipped %s)", skips.source,
                out_dir, stats.num_utts, stats.num_speakers, stats.hours, skips.counts())
    return out_dir



# --- Corpora that ship their own train/dev/test split (common_voice, fleurs, mls) -------------

SPLITS = ("train", "dev", "test")
LICENCE_FILE_NAMES = ("LICENSE", "LICENSE.txt", "LICENCE", "license.txt", "COPYING")
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


def licence_file(root: PathLike) -> str:
    """The licence file shipped in ``root`` (``LICENSE`` etc.), or "" if there is none."""
    for name in LICENCE_FILE_NAMES:
        if (Path(root) / name).is_file():
            return str(Path(root) / name)
    return ""


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


def _default_locate(item: RawItem) -> Tuple[Optional[str], str]:
    return (item.src_audio, "") if os.path.isfile(item.src_audio) else (None, "no_audio")


def pick_items(
    items: Sequence[RawItem], max_utts: Optional[int], seed: int, skips: SkipLog,
    locate: Callable[[RawItem], Tuple[Optional[str], str]] = _default_locate,
) -> List[RawItem]:
    """The items whose audio is usable, at most ``max_utts`` of them (seeded, deterministic).

    With ``max_utts``, items are tried in the order of a seeded hash of their id until enough
    are found, so a quick run only looks at the files it needs. Items whose audio ``locate``
    rejects are recorded in ``skips`` (reason from ``locate``, by default ``no_audio``).

    Args:
        items: candidates.
        max_utts: at most this many (None: all).
        seed: seeds the order of the subset.
        skips: where rejected items are recorded.
        locate: item -> (audio path, "") or (None, skip reason).

    Returns:
        the kept items (``src_audio`` set to the located path), sorted by id.
    """
    order = (list(items) if max_utts is None
             else seeded_order(items, seed, key=lambda it: it.utt_id))
    kept: List[RawItem] = []
    for it in order:
        if max_utts is not None and len(kept) >= max_utts:
            break
        path, reason = locate(it)
        if path is None:
            skips.add(reason, it.name)
            continue
        kept.append(it if path == it.src_audio else dataclasses.replace(it, src_audio=path))
    return sorted(kept, key=lambda it: it.utt_id)


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
    locate: Callable[[RawItem], Tuple[Optional[str], str]] = _default_locate,
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


__all__ = [
    "RawItem", "SkipLog", "SourceInfo", "require_path", "dpkg_version",
    "is_wav_16k_mono", "convert_audio", "write_source_dir", "SPLITS", "OWNER_FILE",
    "marker_is_current", "read_tsv", "licence_file",
    "warn_if_other_language", "pick_items", "check_lang_code", "prepare_split_dirs",
]
