"""Kill -9 and full-disk safety of the pieces every stage writes through.

Atomic ``torch.save`` (ESPnet's trainer saves in place), the trainer's repairing resume, the
CLIs' full-disk exit, and the named failure points the recipe-level crash tests use (a crash in
each stage, then the same command again: tests/recipe/test_recipe.py).
"""

import errno
import logging
import os
import signal
import subprocess
import sys

import pytest
import torch
from espnet2.train.reporter import Reporter

from espnet_ext.bin import exit_on_full_disk, run_main
from espnet_ext.errors import ConfigError
from espnet_ext.fileio import atomic_torch_saves
from espnet_ext.trainer import CrashSafeTrainer
from tests.conftest import REPO_ROOT


def test_atomic_torch_save_keeps_the_old_file_when_a_save_dies(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pth"
    torch.save({"epoch": 1}, path)
    original = torch.save

    def dies_half_way(obj, f, *args, **kwargs):
        f.write(b"PK\x03\x04 partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", dies_half_way)
    with atomic_torch_saves(), pytest.raises(OSError):
        torch.save({"epoch": 2}, path)
    assert torch.save is dies_half_way  # restored on exit
    monkeypatch.setattr(torch, "save", original)
    assert torch.load(path, weights_only=True) == {"epoch": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pth"]


def test_atomic_torch_save_writes_paths_and_passes_file_objects(tmp_path):
    with atomic_torch_saves():
        torch.save({"a": torch.ones(2)}, tmp_path / "x.pth")
        with open(tmp_path / "y.pth", "wb") as f:
            torch.save([1], f)
    assert torch.load(tmp_path / "x.pth", weights_only=True)["a"].sum() == 2
    assert torch.load(tmp_path / "y.pth", weights_only=True) == [1]


def _training_state(epoch: int):
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    reporter = Reporter()
    reporter.set_epoch(epoch)
    return model, optimizer, reporter


def _save_checkpoint(path, epoch: int):
    model, optimizer, reporter = _training_state(epoch)
    torch.save({"model": model.state_dict(), "reporter": reporter.state_dict(),
                "optimizers": [optimizer.state_dict()], "schedulers": [None], "scaler": None}, path)
    return model


def _resume(path):
    model, optimizer, _ = _training_state(0)
    with torch.no_grad():
        model.weight.zero_()
    reporter = Reporter()
    CrashSafeTrainer.resume(path, model, reporter, [optimizer], [None], None)
    return model, reporter


def test_resume_restores_the_epoch_model_a_kill_lost(tmp_path, caplog):
    saved = _save_checkpoint(tmp_path / "checkpoint.pth", epoch=3)
    with caplog.at_level(logging.WARNING):
        model, reporter = _resume(tmp_path / "checkpoint.pth")
    assert reporter.get_epoch() == 3 and torch.equal(model.weight, saved.weight)
    restored = torch.load(tmp_path / "3epoch.pth", weights_only=True)
    assert torch.equal(restored["weight"], saved.weight)
    assert "3epoch.pth" in caplog.text
    before = (tmp_path / "3epoch.pth").stat().st_mtime_ns
    _resume(tmp_path / "checkpoint.pth")  # present now: left alone
    assert (tmp_path / "3epoch.pth").stat().st_mtime_ns == before


class _WritesAFile:
    """Unpickling this runs code: it creates the file named at pickling time."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_resume_refuses_a_checkpoint_that_would_run_code(tmp_path):
    """A crafted checkpoint.pth (e.g. in an exp dir copied from elsewhere) is refused with its
    name; nothing in it runs. Real ESPnet training state (numpy scalars, timedeltas in the
    reporter) still resumes: the other resume tests."""
    ckpt, victim = tmp_path / "checkpoint.pth", tmp_path / "pwned"
    model, optimizer, reporter = _training_state(1)
    torch.save({"model": model.state_dict(), "reporter": reporter.state_dict(),
                "optimizers": [optimizer.state_dict()], "schedulers": [None],
                "scaler": _WritesAFile(victim)}, ckpt)
    with pytest.raises(ConfigError, match="refusing to resume") as e:
        _resume(ckpt)
    assert str(ckpt) in str(e.value) and "--force true" in str(e.value)
    assert not victim.exists()


def test_resume_accepts_espnets_real_training_state(tmp_path):
    """What ESPnet's reporter really stores: numpy scalars of several dtypes and timedeltas."""
    import datetime

    import numpy as np

    model, optimizer, reporter = _training_state(1)
    state = reporter.state_dict()
    state["stats"] = {1: {"train": {"loss": np.float64(1.5), "acc": np.float32(0.5),
                                    "n": np.int64(3), "time": datetime.timedelta(seconds=2)}}}
    ckpt = tmp_path / "checkpoint.pth"
    torch.save({"model": model.state_dict(), "reporter": state,
                "optimizers": [optimizer.state_dict()], "schedulers": [None], "scaler": None}, ckpt)
    _, resumed = _resume(ckpt)
    assert resumed.get_epoch() == 1


def test_resume_from_a_truncated_checkpoint_restarts_and_keeps_it(tmp_path, caplog):
    ckpt = tmp_path / "checkpoint.pth"
    _save_checkpoint(ckpt, epoch=2)
    data = ckpt.read_bytes()
    ckpt.write_bytes(data[: len(data) // 2])  # what a kill mid-save left before saves were atomic
    with caplog.at_level(logging.WARNING):
        model, reporter = _resume(ckpt)
    assert reporter.get_epoch() == 0 and not ckpt.exists()
    assert (tmp_path / "checkpoint.pth.truncated").read_bytes() == data[: len(data) // 2]
    assert "truncated" in caplog.text and "epoch 1" in caplog.text


def test_full_disk_exits_2_with_what_to_do(caplog):
    def writer():
        raise OSError(errno.ENOSPC, "No space left on device", "/exp/feats/x.ark")

    with pytest.raises(SystemExit) as e, caplog.at_level(logging.ERROR):
        run_main(writer)
    assert e.value.code == 2
    assert "/exp/feats/x.ark" in caplog.text and "rerun the same command" in caplog.text
    with pytest.raises(PermissionError), exit_on_full_disk():  # other OS errors are not hidden
        raise PermissionError(errno.EACCES, "Permission denied")


SAVE_THEN_SAY = """
import sys, torch
from espnet_ext.fileio import atomic_torch_saves
with atomic_torch_saves():
    torch.save({"a": 1}, sys.argv[1] + "/checkpoint.pth")
    torch.save({"b": 2}, sys.argv[1] + "/1epoch.pth")
print("finished")
"""


@pytest.mark.parametrize("fail_at, stage, dies", [
    ("6:saving_1epoch.pth", "6", True),  # the named point of this stage: killed there
    ("3:saving_1epoch.pth", "6", False),  # the same point of another stage: no effect
    ("", "6", False),
])
def test_fail_point_kills_the_process_group_exactly_there(tmp_path, fail_at, stage, dies):
    proc = subprocess.run(
        [sys.executable, "-c", SAVE_THEN_SAY, str(tmp_path)], capture_output=True, text=True,
        start_new_session=True,  # its own process group: the kill must not reach pytest
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "XLING_FAIL_AT": fail_at,
             "XLING_STAGE": stage})
    if dies:
        assert proc.returncode == -signal.SIGKILL and "finished" not in proc.stdout
        assert f"injected failure at {fail_at}" in proc.stderr
        # killed mid-save as under kill -9: the first save done, the second only a temporary file
        assert torch.load(tmp_path / "checkpoint.pth", weights_only=True) == {"a": 1}
        assert not (tmp_path / "1epoch.pth").exists()
        assert [p.name for p in tmp_path.glob(".1epoch.pth.*.tmp")]
    else:
        assert proc.returncode == 0 and "finished" in proc.stdout, proc.stderr
        assert (tmp_path / "1epoch.pth").exists() and not list(tmp_path.glob(".*.tmp"))
