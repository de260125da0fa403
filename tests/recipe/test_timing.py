"""Stage breakdown of a recipe log (``python -m espnet_ext.bin.stage_times``)."""

import pytest

from espnet_ext.errors import XlingError
from espnet_ext.recipe.timing import format_stage_times, stage_times

LOG = """\
2026-12-08T02:23:23 (xling.sh:137:main) ./xling.sh --languages cs es
2026-12-08T02:23:25 (xling.sh:164:main) Stage 1: data preparation (nl cs es): local/data.sh
some ESPnet line 2026-12-08T02:24:00 Stage 2: not a stage line
2026-12-08T02:24:20 (xling.sh:173:main) Stage 2: char token lists
2026-12-08T02:24:52 (xling.sh:233:pretrain_one) Stage 3: speech lengths: a -> b
2026-12-08 02:25:00,123 (launch:94) INFO: python3 -m espnet_ext.bin.pretrain_train
2026-12-08T02:25:16 (xling.sh:239:pretrain_one) Stage 3: pre-training conf/a.yaml
2026-12-08T02:35:16 (xling.sh:252:main) Stage 4: s3prl upstreams
2026-12-08T02:35:20 (xling.sh:350:main) Successfully finished. [elapsed=717s]
"""


def test_each_stage_runs_from_its_first_line_to_the_next_stage():
    times = stage_times(LOG.splitlines())
    assert times == [(1, 55.0), (2, 32.0), (3, 624.0), (4, 4.0)]
    table = format_stage_times(times)
    assert "| 3 | pre-training | 10.4 | 87% |" in table
    assert table.rstrip().endswith("| all | | 11.9 | 100% |")


def test_a_log_without_stages_or_without_its_end_is_refused():
    with pytest.raises(XlingError, match="run.log: no 'Stage N:' line"):
        stage_times(["hello"], "run.log")
    with pytest.raises(XlingError, match="has not finished"):
        stage_times(LOG.splitlines()[:-1])
