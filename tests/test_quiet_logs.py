"""Known harmless third-party warnings are filtered from every entry point; real ones still show."""

import importlib
import importlib.util
import os
import re
import subprocess
import sys

import pytest

from espnet_ext.quiet import SHOW_ALL_ENV
from tests.conftest import REPO_ROOT

# What an entry point imports (s3prl's hub, ESPnet's ASR task and inference), then what the
# trainer and the ESPnet ASR model do every step (autocast from ESPnet's own modules), then a
# wav2vec2-style weight-normed convolution, then a warning of ours that must still show (also
# after espnet2.bin.asr_inference, whose import ignores every UserWarning unless undone).
SCRIPT = """
import warnings
import espnet_ext.bin
import espnet_ext.upstream.hub, s3prl.hub, espnet2.tasks.asr, espnet2.bin.asr_inference
import torch
for name in ("espnet2.train.trainer", "espnet2.asr.espnet_model"):
    exec("torch.cuda.amp.autocast(enabled=False)", {"__name__": name, "torch": torch})
torch.nn.utils.weight_norm(torch.nn.Conv1d(2, 2, 3), name="weight", dim=2)
warnings.warn("xling test warning")
"""

# One fragment of each filtered warning or notice, all of which the script above raises
FILTERED = [
    "set_audio_backend has been deprecated",  # s3prl's byol_s import, and torchaudio's echo
    "torch.cuda.amp.autocast(args...)` is deprecated",  # espnet2.enh at import; trainer, model
    "torch.nn.utils.weight_norm` is deprecated",  # s3prl's wav2vec2 positional convolution
    "Failed to import Flash Attention",  # ESPnet's attention module, flash_attn not installed
]


def run_script(show_all: bool) -> str:
    env = {k: v for k, v in os.environ.items() if k not in (SHOW_ALL_ENV, "PYTHONWARNINGS")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    if show_all:
        env[SHOW_ALL_ENV] = "1"
    proc = subprocess.run([sys.executable, "-W", "default", "-c", SCRIPT], capture_output=True,
                          text=True, env=env, cwd=REPO_ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def quiet_output() -> str:
    return run_script(show_all=False)


def test_known_warnings_are_filtered_and_real_ones_show(quiet_output):
    for fragment in FILTERED:
        assert fragment not in quiet_output, quiet_output[-3000:]
    assert "UserWarning: xling test warning" in quiet_output


def test_show_all_env_turns_the_filters_off(quiet_output):
    loud = run_script(show_all=True)
    assert "UserWarning: xling test warning" in loud
    # with flash_attn installed ESPnet prints no notice, so there is none to show
    expected = FILTERED if importlib.util.find_spec("flash_attn") is None else FILTERED[:-1]
    assert [f for f in FILTERED if f in loud] == expected, loud[-3000:]


def test_an_import_print_that_is_not_the_known_notice_is_kept(tmp_path, capsys):
    """The stdout filter drops only the known line: the rest of what that import prints stays."""
    from espnet_ext.quiet import _ImportHook

    (tmp_path / "xling_quiet_probe.py").write_text(
        "print('Failed to import Flash Attention, using ESPnet default: "
        "No module named \\'flash_attn\\'')\nprint('something else')\nVALUE = 3\n")
    finder = _ImportHook("xling_quiet_probe", drop=[re.compile(
        r"Failed to import Flash Attention, using ESPnet default: No module named 'flash_attn'")])
    sys.path.insert(0, str(tmp_path))
    sys.meta_path.insert(0, finder)
    try:
        module = importlib.import_module("xling_quiet_probe")
    finally:
        sys.meta_path.remove(finder)
        sys.path.remove(str(tmp_path))
        sys.modules.pop("xling_quiet_probe", None)
    assert module.VALUE == 3
    assert capsys.readouterr().out == "something else\n"
