"""Self-supervised pre-training on the recipe's Dutch audio (ESPnet task, models, export).

Families: ``apc`` (:mod:`.apc`, filterbank prediction), ``wav2vec2`` (:mod:`.wav2vec2`,
masked contrastive prediction), ``joint`` (:mod:`.joint`, wav2vec 2.0 with text) and ``mpc``
(:mod:`.mpc`, masked prediction of random-projection codes on log-mel, with its text arms). Training runs through :class:`.task.PretrainTask` (ESPnet's
trainer); :func:`.export.export_upstream` turns a run into an s3prl upstream.
"""
