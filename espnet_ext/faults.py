"""Named failure points: make a recipe stage die abruptly at an exact place, for crash tests.

``XLING_FAIL_AT=<stage>:<point>`` (e.g. ``5:feature_cache``) makes the first process of that stage
that reaches ``fail_point("<point>")`` kill its whole process group with SIGKILL, as a ``kill -9``
of the recipe would: no exception handler, ``finally`` block or atexit hook runs, so whatever the
stage had half written stays on disk exactly as a real crash leaves it. The same command, rerun
without the variable, must then finish with outputs byte-identical to an uninterrupted run
(tests/recipe/test_recipe.py). The stage number comes from ``XLING_STAGE``, which xling.sh exports
at the start of each stage; xling.sh has the shell twin of :func:`fail_point`.

The points (each sits where a stage has written part of its outputs but not its ``.done``):

======  ================  ===============================================================
stage   point             where
======  ================  ===============================================================
1       degraded_wavs     a degraded test set's WAVs are written, its wav.scp not yet
2       token_list        a token list is written, its .done not yet
3, 6    saving_<file>     a training save of <file> (e.g. ``saving_1epoch.pth``: the epoch's
                          checkpoint.pth is saved, its model file is in its temporary file)
4       export            an upstream's checkpoint is exported, its YAML not yet
5       feature_cache     a feature cache is complete in its temporary dir, not renamed
6       collect_stats     the shape/feature statistics are merged, their .done not yet
                          (xling.sh)
7       decoded           a language's test sets are decoded, their texts not merged (xling.sh)
8       scored            a test set's scores are written, their .done not yet
9       probe_result      a probe's probe.json is written, its .done not yet
10      report_tables     the report's CSV/JSON tables are written, plots and RESULTS.md not
======  ================  ===============================================================

Never set ``XLING_FAIL_AT`` outside such a test: it kills the process group it fires in.
"""

import os
import signal
import sys

FAIL_AT_ENV = "XLING_FAIL_AT"
STAGE_ENV = "XLING_STAGE"


def fail_point(point: str) -> None:
    """Die at once (SIGKILL to the process group) if ``XLING_FAIL_AT`` names this point."""
    wanted = os.environ.get(FAIL_AT_ENV)
    if not wanted or wanted != f"{os.environ.get(STAGE_ENV, '')}:{point}":
        return
    # The test checks this line to know the point was reached (not a failure of another kind).
    sys.stderr.write(f"xling: injected failure at {wanted} (pid {os.getpid()})\n")
    sys.stderr.flush()
    os.killpg(os.getpgrp(), signal.SIGKILL)
