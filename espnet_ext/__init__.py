"""xling-ssl: cross-lingual evaluation of self-supervised speech pre-training, as an ESPnet recipe extension."""

__version__ = "0.1.0"
