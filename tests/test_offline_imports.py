"""Importing the project (then ESPnet) never reaches for the network, whatever NLTK_DATA says."""

import os
import subprocess
import sys

from tests.conftest import REPO_ROOT


def test_importing_espnet_ext_first_keeps_g2p_from_downloading():
    env = {k: v for k, v in os.environ.items() if k != "NLTK_DATA"}
    env["PYTHONPATH"] = str(REPO_ROOT)
    proc = subprocess.run([sys.executable, "-c", "import espnet_ext, espnet2.tasks.asr"],
                          capture_output=True, text=True, env=env, cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    # g2p_en reports a failed NLTK download as "[nltk_data] Error loading ..."
    assert "nltk_data" not in proc.stderr + proc.stdout
