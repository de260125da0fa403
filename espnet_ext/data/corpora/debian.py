"""Debian packages as corpus sources: where their files are, their version and licence."""

import re
import subprocess
from pathlib import Path
from typing import List

from espnet_ext.errors import CorpusError
from espnet_ext.fileio import PathLike


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
