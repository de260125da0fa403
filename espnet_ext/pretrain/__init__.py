"""Self-supervised pre-training on the recipe's Dutch audio (ESPnet task, models, export).

Families: ``apc`` (:mod:`.apc`, filterbank prediction) and ``wav2vec2`` (:mod:`.wav2vec2`,
masked contrastive prediction). Training runs through :class:`.task.PretrainTask` (ESPnet's
trainer); :func:`.export.export_upstream` turns a run into an s3prl upstream.
"""
