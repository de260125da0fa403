"""Shared machinery of the offline corpus preparers (fillets, asterisk, festvox_ru).

Each preparer only knows its source's layout: it turns the source into :class:`RawItem` s and a
:class:`SkipLog`, then hands both to :func:`write_source_dir`, which converts the audio to 16 kHz
mono WAV (idempotent, atomic, in a process pool), normalises the text, writes and validates the
Kaldi data dir, and records what was skipped and why (``skipped.txt`` and ``PROVENANCE.md``).
"""

import json
import re
import logging
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from multiprocessing import Pool
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import soundfile as sf

from espnet_ext.data.audio import TARGET_SR, convert_to_16k_wav
from espnet_ext.data.kaldi import Utterance, write_data_dir, write_kaldi_map
from espnet_ext.data.validate import validate_data_dir
from espnet_ext.errors import CorpusError
from espnet_ext.fileio import PathLike, atomic_write_text
from espnet_ext.text.normalize import normalize_text

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
    """What PROVENANCE.md says about a source."""

    title: str
    packages: List[str]
    license: str
    license_file: str
    notes: List[str] = field(default_factory=list)


def provenance_text(info: SourceInfo, skips: SkipLog, num_utts: int, hours: float) -> str:
    lines = [f"# {info.title}", ""]
    lines.append("| Debian package | version |")
    lines.append("|---|---|")
    lines += [f"| {p} | {dpkg_version(p)} |" for p in info.packages]
    lines += ["", f"- Licence: {info.license} (see `{info.license_file}`)"]
    lines += [f"- {n}" for n in info.notes]
    lines.append(f"- Kept: {num_utts} utterances, {hours:.3f} h (16 kHz mono 16-bit WAV)")
    counts = skips.counts()
    if counts:
        lines.append("- Skipped (reason: count; the items are listed in `skipped.txt` of the "
                     "source dir under data/local/):")
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


__all__ = [
    "RawItem", "SkipLog", "SourceInfo", "require_path", "dpkg_version",
    "is_wav_16k_mono", "convert_audio", "write_source_dir",
]
