"""The downstream ASR: ESPnet's ASR task with our frontend, trainer and decoding options.

- :mod:`espnet_ext.asr.inputs`: the ``asr_train``/``asr_inference`` arguments that feed one
  upstream into the downstream (frontend, speech data, encoder input layer).
- :mod:`espnet_ext.asr.frontend`: ``cached_layers``, the weighted layer sum over cached features.
- :mod:`espnet_ext.asr.task`: ESPnet's ``ASRTask`` with that frontend, our upstreams in the s3prl
  hub and the crash-safe trainer.
- :mod:`espnet_ext.asr.inference`: ESPnet's inference over several test sets in one process,
  CTC best path, weights-only model loading.
"""
