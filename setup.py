"""xling-ssl: ESPnet recipe extension for cross-lingual evaluation of self-supervised speech models.

Direct dependencies are pinned exactly; tools/constraints.txt pins every transitive one and is
what tools/install.sh installs with (`make install`).
"""

import re
from pathlib import Path

from setuptools import find_packages, setup

# The one version source is espnet_ext/__init__.py (read, not imported: setup.py runs before the
# dependencies exist). Results, caches and checkpoints record it (espnet_ext/versioning.py).
VERSION = re.search(r'^__version__ = "([^"]+)"$',
                    (Path(__file__).parent / "espnet_ext" / "__init__.py").read_text(),
                    re.M).group(1)

setup(
    name="espnet_ext",
    version=VERSION,
    description="Dutch self-supervised pre-training evaluated on non-Germanic ASR, as an ESPnet recipe",
    packages=find_packages(include=["espnet_ext", "espnet_ext.*"]),
    python_requires=">=3.11,<3.13",
    install_requires=[
        "espnet==202511",
        "torch==2.8.0",
        # s3prl 0.4.18's hub imports torchaudio.set_audio_backend, removed in torchaudio 2.9.
        "torchaudio==2.8.0",
        "s3prl==0.4.18",
        "sentencepiece==0.2.0",
        "jiwer==4.0.0",
        "kaldiio==2.18.1",
        "soundfile==0.14.0",
        "numpy==2.4.6",
        "scipy==1.17.1",
        # The phone probe's classifier (LogisticRegression); librosa needs it too.
        "scikit-learn==1.9.1",
        "PyYAML==6.0.4",
        "tqdm==4.70.1",
        "matplotlib==3.11.2",
        # ESPnet trainer logs (--use_tensorboard true in pre-training).
        "tensorboard==2.21.0",
    ],
    # hypothesis (property-based tests, tests/test_properties.py) needs Python >= 3.11.
    extras_require={"test": ["pytest==9.2.0", "pytest-timeout==2.4.0", "hypothesis==6.170.15"]},
)
