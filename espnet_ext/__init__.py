"""xling-ssl: cross-lingual evaluation of self-supervised speech pre-training, as an ESPnet recipe extension."""

# The one version source: setup.py reads it, and espnet_ext.versioning stamps it into results,
# feature caches and exported checkpoints.
__version__ = "0.1.0"

import os as _os
from pathlib import Path as _Path

# g2p_en, which every ESPnet process imports, tries to download NLTK data at import time when it
# finds none; tools/install.sh makes empty stand-ins. Point NLTK at them (a checkout install), so
# importing espnet_ext before espnet2 never reaches for the network.
_NLTK_STANDINS = _Path(__file__).resolve().parent.parent / "tools" / "nltk_data"
if _NLTK_STANDINS.is_dir():
    _os.environ.setdefault("NLTK_DATA", str(_NLTK_STANDINS))

# Known harmless third-party warnings and notices are filtered before anything imports s3prl,
# torchaudio or ESPnet (XLING_SHOW_ALL_WARNINGS=1 shows them): see espnet_ext.quiet.
from espnet_ext import quiet as _quiet  # noqa: E402

_quiet.install()
