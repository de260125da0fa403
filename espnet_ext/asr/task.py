"""ESPnet's ASR task as the recipe runs it: ``cached_layers`` among its frontends, ``stack`` and
``conv1d`` among its pre-encoders, our pre-trained
upstreams (``xling_*``) in the s3prl hub that ``frontend: s3prl`` reads, and
:class:`espnet_ext.trainer.CrashSafeTrainer` (atomic checkpoints, a resume that survives kills).
"""

from typing import List, Optional


def register_frontends() -> None:
    """Add ``cached_layers`` to ESPnet's ASR frontends, ``stack`` and ``conv1d`` to its
    pre-encoders and
    ``xling_*`` to s3prl's hub (idempotent).

    Called before ESPnet parses a command line or a ``config.yaml`` that may name them.
    """
    from espnet2.tasks.asr import frontend_choices, preencoder_choices

    from espnet_ext.asr.frontend import CachedLayersFrontend
    from espnet_ext.asr.preencoder import Conv1dPreEncoder, StackPreEncoder
    from espnet_ext.upstream.hub import register

    frontend_choices.classes["cached_layers"] = CachedLayersFrontend
    preencoder_choices.classes["stack"] = StackPreEncoder
    preencoder_choices.classes["conv1d"] = Conv1dPreEncoder
    register()


def train(cmd: Optional[List[str]] = None) -> None:
    """``espnet2.bin.asr_train``'s ``main`` with our frontends and trainer (same command line)."""
    register_frontends()
    from espnet2.tasks.asr import ASRTask

    from espnet_ext.trainer import CrashSafeTrainer

    ASRTask.trainer = CrashSafeTrainer
    ASRTask.main(cmd=cmd)
