"""A source's candidate utterances (:class:`RawItem`), what was left out and why
(:class:`SkipLog`), and the choice of the usable ones (:func:`pick_items`).
"""

import dataclasses
import logging
import os
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from espnet_ext.fileio import PathLike, atomic_write_text
from espnet_ext.steps import seeded_order

logger = logging.getLogger(__name__)

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


def default_locate(item: RawItem) -> Tuple[Optional[str], str]:
    """``(its audio path, "")`` if that file exists, else ``(None, "no_audio")``."""
    return (item.src_audio, "") if os.path.isfile(item.src_audio) else (None, "no_audio")


def pick_items(
    items: Sequence[RawItem], max_utts: Optional[int], seed: int, skips: SkipLog,
    locate: Callable[[RawItem], Tuple[Optional[str], str]] = default_locate,
) -> List[RawItem]:
    """The items whose audio is usable, at most ``max_utts`` of them (seeded, deterministic).

    With ``max_utts``, items are tried in the order of a seeded hash of their id until enough
    are found, so a fast run only looks at the files it needs. Items whose audio ``locate``
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
