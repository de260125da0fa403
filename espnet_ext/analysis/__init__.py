"""Analyses of upstream representations (not part of the ASR pipeline).

- ``probe_speech.py``: synthetic probe sets with exact phone timings (espeak-ng's phoneme
  events, :mod:`espnet_ext.text.espeak`): sentences of a language -> 16 kHz WAVs +
  ``phones.ctm``.
- ``probe.py``: linear phone-separability probe per upstream layer (the seed paper's analysis):
  multinomial logistic regression on frame-level phone labels, trained on some utterances and
  scored on the others. CLI: ``python -m espnet_ext.bin.phone_probe``.
"""
