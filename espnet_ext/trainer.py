"""ESPnet's trainer, made safe against ``kill -9``: every task of espnet_ext trains with it.

ESPnet's ``Trainer.run`` saves ``checkpoint.pth`` and then ``<N>epoch.pth`` in place, so a kill
during a save leaves a truncated checkpoint that the rerun's ``--resume true`` cannot load
(``EOFError``), and a kill between the two saves leaves a resumable run whose end-of-training
averaging misses ``<N>epoch.pth``. Here saves are atomic, and a resume repairs both cases.

ESPnet also loads its checkpoints with ``weights_only=False`` (resume, end-of-training averaging):
a crafted ``checkpoint.pth`` in a shared exp dir would run code. Here every load during training
is weights-only, and a checkpoint that is more than training state is refused, naming the file.
"""

import logging
import pickle
from pathlib import Path
from typing import Optional, Sequence, Union
import zipfile

import torch
from espnet2.train.reporter import Reporter
from espnet2.train.trainer import Trainer

from espnet_ext.errors import ConfigError
from espnet_ext.fileio import atomic_open, atomic_torch_saves
from espnet_ext.safe_load import TRAINING_STATE_GLOBALS, unsafe_globals, weights_only_loads


class CrashSafeTrainer(Trainer):
    """``espnet2.train.trainer.Trainer`` with atomic saves, weights-only loads and a resume that
    survives kills."""

    @classmethod
    def run(cls, *args, **kwargs) -> None:
        with atomic_torch_saves(), weights_only_loads(TRAINING_STATE_GLOBALS):
            super().run(*args, **kwargs)

    @staticmethod
    def resume(checkpoint: Union[str, Path], model: torch.nn.Module, reporter: Reporter,
               optimizers: Sequence[torch.optim.Optimizer], schedulers: Sequence[Optional[object]],
               scaler: Optional[object], ngpu: int = 0, strict: bool = True) -> None:
        checkpoint = Path(checkpoint)
        # torch.save writes a zip archive whose directory is at its end: a truncated one is no zip
        if not zipfile.is_zipfile(checkpoint):
            kept = checkpoint.with_name(checkpoint.name + ".truncated")
            checkpoint.replace(kept)
            logging.warning(f"{checkpoint} is truncated (a save was killed, by a version before "
                            f"saves were atomic); kept as {kept.name}, training restarts at epoch 1")
            return
        try:
            with weights_only_loads(TRAINING_STATE_GLOBALS):
                Trainer.resume(checkpoint, model, reporter, optimizers, schedulers, scaler,
                               ngpu=ngpu, strict=strict)
        except pickle.UnpicklingError as e:
            bad = unsafe_globals(checkpoint, str(e), TRAINING_STATE_GLOBALS)
            raise ConfigError(
                f"{checkpoint}: refusing to resume from it: it pickles objects other than "
                f"tensors and training state ({', '.join(bad) or 'unreadable pickle'}), and "
                "loading it could run arbitrary code. If this exp dir is not your own, move the "
                "file away (training then restarts at epoch 1) or rerun with --force true.") from None
        # checkpoint.pth is saved before <N>epoch.pth: a kill between them loses the latter
        epoch = reporter.get_epoch()
        epoch_model = checkpoint.parent / f"{epoch}epoch.pth"
        if epoch > 0 and not epoch_model.exists():
            with atomic_open(epoch_model, "wb") as f:
                torch.save(model.state_dict(), f)
            logging.warning(f"restored {epoch_model} from {checkpoint.name} (its save was killed)")
