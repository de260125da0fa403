"""Learning curves read from ESPnet's epoch reports, against updates of a fixed-budget config."""

import subprocess
import sys

import pytest

from espnet_ext.bin.plot_learning_curves import read_curve
from espnet_ext.errors import XlingError
from tests.conftest import REPO_ROOT

LOG = """\
2026-12-03 10:00:00,000 (trainer:338) INFO: 1epoch results: [train] iter_time=0.1, loss_ctc=90.1, \
loss=90.1, [valid] loss_ctc=80.0, cer_ctc=0.950, loss=80.0, [att_plot] time=2 seconds, total_count=100
2026-12-03 10:01:00,000 (trainer:338) INFO: 2epoch results: [train] loss_ctc=60.0, cer_ctc=0.700, \
[valid] loss_ctc=55.5, cer_ctc=0.800, loss=55.5, [att_plot] time=1 minute and 2.5 seconds
2026-12-03 10:02:00,000 (trainer:338) INFO: 2epoch results: [train] loss_ctc=60.0, \
[valid] loss_ctc=55.0, cer_ctc=0.790, loss=55.0
"""


def _exp(tmp_path, name, per_epoch):
    d = tmp_path / name
    d.mkdir()
    (d / "train.log").write_text(LOG)
    (d / "config.yaml").write_text(f"num_iters_per_epoch: {per_epoch}\n" if per_epoch else "{}\n")
    return d


def test_curve_is_per_update_and_the_last_report_of_an_epoch_wins(tmp_path):
    assert read_curve(_exp(tmp_path, "a", 100), "cer_ctc") == [(100, 0.95), (200, 0.79)]
    assert read_curve(_exp(tmp_path, "b", None), "cer_ctc") == [(1, 0.95), (2, 0.79)]
    assert read_curve(tmp_path / "a", "cer_ctc", split="train") == [(200, 0.7)]
    with pytest.raises(XlingError, match=r"no epoch reports \[valid\] acc"):
        read_curve(tmp_path / "a", "acc")
    with pytest.raises(XlingError, match="train.log: not found"):
        read_curve(tmp_path, "cer_ctc")


def test_cli_writes_png_and_csv(tmp_path):
    a, b = _exp(tmp_path, "a", 100), _exp(tmp_path, "b", 50)
    png, out_csv = tmp_path / "c.png", tmp_path / "c.csv"
    subprocess.run([sys.executable, "-m", "espnet_ext.bin.plot_learning_curves", str(a), str(b),
                    "--out_png", str(png), "--out_csv", str(out_csv)], check=True, cwd=REPO_ROOT)
    assert png.stat().st_size > 1000
    assert out_csv.read_text().splitlines() == [
        "exp_dir,updates,valid_cer_ctc", f"{a},100,0.95", f"{a},200,0.79", f"{b},50,0.95",
        f"{b},100,0.79"]
