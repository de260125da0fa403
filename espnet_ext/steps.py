"""Bookkeeping shared by the steps that write data: ``.done`` markers, dir ownership, seeded orders.

A step (a data dir, a text corpus, a probe set, ...) writes its outputs and then, last, a marker
holding the options that made them (:func:`mark_done`). A rerun asks :func:`is_done`: the same
options mean the outputs are current; other options mean the step is redone, or, for the corpus
preparers (whose dirs later stages build on), refused with the differing options named. A killed
step leaves no marker, so it is redone.

A marker has one of two layouts, both read as they always were so that earlier runs stay valid:

- flat: the file is the options (JSON, indent 1, keys sorted);
- nested: ``{"options": ..., <fields>}`` (JSON, indent 2), for preparers that also list what
  they wrote.

The versions of the markers that carry one are registered in :mod:`espnet_ext.versioning`.
"""

import hashlib
import json
import logging
import random
from pathlib import Path
from typing import Any, Callable, Iterable, List, Optional, Sequence, TypeVar

from espnet_ext.errors import ConfigError, DataDirError
from espnet_ext.fileio import PathLike, atomic_write_text

logger = logging.getLogger(__name__)

T = TypeVar("T")

DONE_FILE = ".done"
# Written into a dir before its data, so that an interrupted run still owns what it began.
OWNER_FILE = ".prepared_by"
# What is_done does when a marker records other options.
REDO = "redo"
REFUSE = "refuse"


# --- .done markers ------------------------------------------------------------------------------

def _as_read_back(options: Any) -> Any:
    # Tuples become lists, as JSON gives them back from a marker.
    return json.loads(json.dumps(options))


def read_marker(marker: PathLike) -> Optional[Any]:
    """What ``marker`` records, or None when there is none or it is not JSON (a stale one)."""
    try:
        return json.loads(Path(marker).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def is_done(marker: PathLike, options: Any, *, force: bool = False, on_change: str = REDO,
            nested: bool = False, outputs: Iterable[PathLike] = (),
            elsewhere: str = "out_dir") -> bool:
    """Whether a finished run with the same ``options`` left ``marker`` (nothing to do then).

    Otherwise the step is to be redone and an existing marker is removed first, so that a run
    killed during the redo is not taken for a finished one.

    Args:
        marker: the step's marker file.
        options: everything that changes the outputs (JSON-serialisable).
        force: redo whatever the marker records.
        on_change: :data:`REDO` (other options: redo the step) or :data:`REFUSE` (raise).
        nested: the marker has the nested layout (options under ``"options"``).
        outputs: files that must exist as well; a marker without them is stale.
        elsewhere: with :data:`REFUSE`, the option to change instead of forcing (for the error).

    Raises:
        ConfigError: with :data:`REFUSE` and no ``force``, the marker records other options
            (or cannot be read); the message names the differing ones.
    """
    if on_change not in (REDO, REFUSE):
        raise ValueError(f"on_change={on_change!r}: use REDO or REFUSE")
    marker = Path(marker)
    if not marker.exists():
        return False
    if not force:
        record = read_marker(marker)
        recorded = (record.get("options") if isinstance(record, dict) else None) if nested \
            else record
        if recorded == _as_read_back(options) and all(Path(p).is_file() for p in outputs):
            return True
        if on_change == REFUSE:
            raise ConfigError(_other_options_message(marker, recorded, options, elsewhere))
        logger.info("%s: recorded for other options (or an output is missing); redoing the "
                    "step", marker)
    marker.unlink()
    return False


def _other_options_message(marker: Path, recorded: Any, options: Any, elsewhere: str) -> str:
    options = _as_read_back(options)
    previous = recorded if isinstance(recorded, dict) else {}
    diff = sorted(k for k in set(options) | set(previous) if previous.get(k) != options.get(k))
    return (f"{marker}: a previous run used other options (differing: {diff}; previous: "
            f"{json.dumps(recorded)}); pass force (--force) to rebuild, or choose another "
            f"{elsewhere}")


def mark_done(marker: PathLike, options: Any, **fields: Any) -> None:
    """Record ``options`` in ``marker``, atomically; call it after every output is written.

    Without ``fields`` the marker has the flat layout; with them (e.g. ``outputs=[...]``) the
    nested one, ``{"options": options, **fields}``.
    """
    if fields:
        text = json.dumps({"options": options, **fields}, indent=2, ensure_ascii=False)
    else:
        text = json.dumps(options, indent=1, sort_keys=True)
    atomic_write_text(marker, text + "\n")


# --- dir ownership ------------------------------------------------------------------------------

def check_owned(out_dir: PathLike, owner: Optional[str], *, force: bool, who: str,
                elsewhere: str, occupied: Sequence[str] = ("wav.scp",),
                sign: str = OWNER_FILE) -> None:
    """Refuse to overwrite ``out_dir`` when it holds data that ``owner`` did not write.

    A dir without any of the ``occupied`` files is free. An occupied one is ours when its
    ``sign`` file names ``owner`` (``owner`` None: when ``sign`` exists at all, for dirs whose
    own ``PROVENANCE.md`` marks them). A user's dir, or another tool's, under the same name is
    thus never overwritten by accident.

    Args:
        out_dir: the dir about to be written.
        owner: what :func:`claim_dir` wrote into it, or None (see above).
        force: overwrite whatever is there.
        who: the writer, for the message (``"this preparation (CGN)"``).
        elsewhere: the option to change instead (``"out_dir"``, ``"--out_prefix"``).
        occupied: files whose presence means the dir holds data.
        sign: the file that marks the dir as ours.

    Raises:
        DataDirError: the dir is occupied, not ours, and ``force`` is off.
    """
    out_dir = Path(out_dir)
    if force or not any((out_dir / n).exists() for n in occupied):
        return
    sign_file = out_dir / sign
    found = ""
    if owner is None:
        if sign_file.exists():
            return
    else:
        found = sign_file.read_text(encoding="utf-8").strip() if sign_file.is_file() else ""
        if found == owner:
            return
    raise DataDirError(
        f"{out_dir}: holds data that {who} did not write "
        f"({f'written by {found}' if found else f'no {sign}'}); move it away, choose another "
        f"{elsewhere}, or pass force (--force) to overwrite it")


def claim_dir(out_dir: PathLike, owner: str) -> None:
    """Mark ``out_dir`` as written by ``owner``; call it before writing the data."""
    atomic_write_text(Path(out_dir) / OWNER_FILE, owner + "\n")


# --- seeded orders ------------------------------------------------------------------------------

def hash_key(seed: int, key: str) -> str:
    """A seeded sort key that is the same on every machine and Python (unlike ``hash``)."""
    return hashlib.sha256(f"{seed}\t{key}".encode("utf-8")).hexdigest()


def sha1_key(seed: int, key: str) -> str:
    """The seeded sort key of :func:`espnet_ext.data.subset.subset_by_hours`.

    Kept apart from :func:`hash_key` so that the subsets it picked stay the ones it picks.
    """
    return hashlib.sha1(f"{seed}:{key}".encode()).hexdigest()


def seeded_order(items: Iterable[T], seed: int, key: Callable[[T], str] = str) -> List[T]:
    """``items`` sorted by :func:`hash_key` of ``key(item)``.

    Unlike a shuffle, an item's place depends only on itself: adding or removing items does not
    reorder the others, so a smaller selection is a prefix of a larger one.
    """
    return sorted(items, key=lambda it: hash_key(seed, key(it)))


def seeded_shuffle(items: Iterable[T], seed: int) -> List[T]:
    """A copy of ``items`` shuffled by ``random.Random(seed)`` (the same on every run)."""
    out = list(items)
    random.Random(seed).shuffle(out)
    return out


def item_random(seed: int, item: Any) -> random.Random:
    """A generator seeded by ``(seed, item)``: what one item draws never depends on the others."""
    return random.Random(f"{seed}:{item}")


__all__ = [
    "DONE_FILE", "OWNER_FILE", "REDO", "REFUSE", "read_marker", "is_done", "mark_done",
    "check_owned", "claim_dir", "hash_key", "sha1_key", "seeded_order", "seeded_shuffle",
    "item_random",
]
