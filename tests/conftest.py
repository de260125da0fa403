"""Shared fixtures: tiny Kaldi data dirs with generated audio (no network, no real corpora)."""

import os
from pathlib import Path
from typing import Dict, Optional

import numpy as np
import pytest
import soundfile as sf

from espnet_ext.data.kaldi import Utterance, write_data_dir

REPO_ROOT = Path(__file__).resolve().parent.parent
# Set before anything imports espnet2: g2p_en would otherwise try nltk downloads (tools/install.sh).
os.environ.setdefault("NLTK_DATA", str(REPO_ROOT / "tools" / "nltk_data"))

try:
    from hypothesis import HealthCheck, settings
except ImportError:  # only tests/test_properties.py needs it (tools/install.sh installs it)
    pass
else:
    # Property tests are reproducible: the same examples on every run and machine (derandomize),
    # no example database written to the work tree, no per-example deadline (shared CI CPUs).
    # Each test sets its own max_examples. HYPOTHESIS_PROFILE=explore searches with fresh
    # random examples instead (to look for new failures locally).
    settings.register_profile(
        "ci", derandomize=True, database=None, deadline=None, print_blob=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    settings.register_profile(
        "explore", database=None, deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_collection_modifyitems(config, items):
    """Tests marked ``full`` (exhaustive, too slow for CI) run only under ``make test-full``."""
    if os.environ.get("XLING_TEST_FULL") == "1":
        return
    skip = pytest.mark.skip(reason="exhaustive check: run make test-full (XLING_TEST_FULL=1)")
    for item in items:
        if item.get_closest_marker("full"):
            item.add_marker(skip)


def make_wav(path: Path, seconds: float = 0.5, sr: int = 16000, channels: int = 1,
             freq: float = 220.0, fmt: Optional[str] = None) -> Path:
    """Write a sine tone (plus a little noise) to ``path``."""
    t = np.arange(int(seconds * sr)) / sr
    rng = np.random.default_rng(int(freq))
    x = 0.3 * np.sin(2 * np.pi * freq * t) + 0.01 * rng.standard_normal(t.shape)
    if channels > 1:
        x = np.stack([x] * channels, axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), x.astype(np.float32), sr, format=fmt)
    return path


def make_data_dir(root: Path, texts: Dict[str, str], lang: str = "es", spk: str = "spk1",
                  **wav_kwargs) -> Path:
    """A valid data dir ``root`` whose utterances ``spk_<key>`` say ``texts[key]``."""
    utts = []
    for i, (key, text) in enumerate(sorted(texts.items())):
        wav = make_wav(root / "wav" / f"{key}.wav", freq=200.0 + 20 * i, **wav_kwargs)
        utts.append(Utterance(f"{spk}_{key}", spk, str(wav), text, lang))
    return write_data_dir(root, utts)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return make_data_dir(tmp_path / "d", {"a": "hola mundo", "b": "buenos dias", "c": "adios"})
