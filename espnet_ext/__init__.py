"""xling-ssl: cross-lingual evaluation of self-supervised speech pre-training, as an ESPnet recipe extension."""

# The one version source: setup.py reads it, and espnet_ext.versioning stamps it into results,
# feature caches and exported checkpoints.
__version__ = "0.1.0"
