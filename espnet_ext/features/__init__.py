"""Frozen-upstream feature cache (kaldiio ark/scp) and the ESPnet frontend that reads it.

``extract.py`` runs a frozen s3prl upstream once per utterance and stores the hidden states of
the selected layers as one ``(T, L*D)`` matrix per utterance; ``frontend.py`` is the ESPnet
frontend (``--frontend cached_layers``) that learns the softmax-weighted layer sum from that cache.
"""
