"""ESPnet ASR training (same CLI as ``espnet2.bin.asr_train``) with espnet_ext's frontends.

Adds ``--frontend cached_layers`` (:class:`espnet_ext.features.frontend.CachedLayersFrontend`)
to ESPnet's ASR task and our pre-trained upstreams (``xling_*``) to the s3prl hub that ESPnet's
``frontend: s3prl`` reads, before the command line is parsed; then runs ``ASRTask.main`` with
:class:`espnet_ext.trainer.CrashSafeTrainer` (atomic checkpoints, a resume that survives kills).
"""

from typing import List, Optional

from espnet_ext.bin import exit_on_user_error


def register_frontends() -> None:
    """Add ``cached_layers`` to ESPnet's ASR frontends and ``xling_*`` to s3prl's hub (idempotent)."""
    from espnet2.tasks.asr import frontend_choices

    from espnet_ext.features.frontend import CachedLayersFrontend
    from espnet_ext.upstream.hub import register

    frontend_choices.classes["cached_layers"] = CachedLayersFrontend
    register()


def main(cmd: Optional[List[str]] = None) -> None:
    register_frontends()
    from espnet2.tasks.asr import ASRTask

    from espnet_ext.trainer import CrashSafeTrainer

    ASRTask.trainer = CrashSafeTrainer
    with exit_on_user_error():
        ASRTask.main(cmd=cmd)


if __name__ == "__main__":
    main()
