"""``PROVENANCE.md`` of a data dir: where the source came from, its licence, what was kept."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import List

from espnet_ext.data.corpora.debian import dpkg_version
from espnet_ext.data.corpora.items import SkipLog
from espnet_ext.fileio import PathLike

PROVENANCE_FILE = "PROVENANCE.md"
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
LICENCE_FILE_NAMES = ("LICENSE", "LICENSE.txt", "LICENCE", "license.txt", "COPYING")
def licence_file(root: PathLike) -> str:
    """The licence file shipped in ``root`` (``LICENSE`` etc.), or "" if there is none."""
    for name in LICENCE_FILE_NAMES:
        if (Path(root) / name).is_file():
            return str(Path(root) / name)
    return ""
