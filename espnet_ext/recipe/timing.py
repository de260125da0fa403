"""Where a recipe run's wall time went: stage by stage, from the timestamps ``xling.sh`` logs.

Each stage's time runs from its first ``Stage N:`` line to the first line of the next stage (the
stages run in order; the jobs inside one run in parallel), the last one's to the
``Successfully finished`` line. Stages a rerun skipped show as the seconds their skip lines took.
"""

import datetime as dt
import re
from typing import Iterable, List, Tuple

from espnet_ext.errors import XlingError

# What each stage does, as the README's stage table names it.
STAGE_NAMES = {1: "data preparation", 2: "token lists, phones", 3: "pre-training",
               4: "export as s3prl upstreams", 5: "feature caches", 6: "downstream ASR training",
               7: "decoding", 8: "scoring", 9: "probes, phone recognition", 10: "report"}
_LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d) \(xling\.sh:[^)]*\) "
                   r"(?:Stage (\d+):|(Successfully finished))")


def stage_times(lines: Iterable[str], source: str = "the log") -> List[Tuple[int, float]]:
    """(stage, seconds) in the order the stages ran.

    Raises:
        XlingError: no ``Stage N:`` line of ``xling.sh`` in ``lines``, or no end of the run.
    """
    marks = []  # (time, stage or None for the end)
    for line in lines:
        m = _LINE.match(line)
        if m:
            marks.append((dt.datetime.fromisoformat(m.group(1)),
                          None if m.group(3) else int(m.group(2))))
    if not any(stage is not None for _, stage in marks):
        raise XlingError(f"{source}: no 'Stage N:' line of xling.sh; give the output of a "
                        "./run.sh run (e.g. ./run.sh 2>&1 | tee run.log)")
    if marks[-1][1] is not None:
        raise XlingError(f"{source}: the run has not finished (no 'Successfully finished' line "
                        "after its last stage)")
    times: List[Tuple[int, float]] = []
    start, current = None, None
    for when, stage in marks:
        if stage == current:
            continue
        if current is not None:
            times.append((current, (when - start).total_seconds()))
        start, current = when, stage
        if stage is None:
            break
    return times


def format_stage_times(times: List[Tuple[int, float]]) -> str:
    """A Markdown table: stage, what, minutes, share of the total."""
    total = sum(s for _, s in times) or 1.0
    rows = ["| stage | what | min | share |", "|---|---|---|---|"]
    rows += [f"| {n} | {STAGE_NAMES.get(n, '')} | {s / 60:.1f} | {100 * s / total:.0f}% |"
             for n, s in times]
    rows.append(f"| all | | {total / 60:.1f} | 100% |")
    return "\n".join(rows) + "\n"
