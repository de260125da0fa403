"""Weights-only checkpoint loading: a checkpoint is data, never code.

``torch.load`` unpickles, and a pickle can run arbitrary code. Exp dirs and checkpoints get shared
(copied from a colleague, a cluster scratch, an archive), so every checkpoint that espnet_ext, or
the ESPnet and s3prl code it calls, reads is loaded weights-only: tensors, containers and the few
plain classes listed here. ESPnet itself passes ``weights_only=False`` (trainer resume, model
averaging, model loading for inference) and so do some s3prl loaders; within
:func:`weights_only_loads` torch's ``TORCH_FORCE_WEIGHTS_ONLY_LOAD`` overrides that.
"""

import argparse
import contextlib
import datetime
import os
import pickle
import re
from pathlib import Path
from typing import Any, Iterator, List, Sequence, Union

import numpy as np

from espnet_ext.errors import ConfigError

# Published upstream checkpoints (fairseq-/s3prl-style ``args`` / ``Args``).
UPSTREAM_GLOBALS: List[type] = [argparse.Namespace]
# ESPnet's checkpoint.pth besides tensors: the reporter's numpy scalars with their dtypes, and each
# epoch's elapsed time.
TRAINING_STATE_GLOBALS: List[type] = [
    np._core.multiarray.scalar, np.dtype, datetime.timedelta,
    *(type(np.dtype(t)) for t in ("float64", "float32", "float16", "int64", "int32", "bool")),
]


@contextlib.contextmanager
def weights_only_loads(allowed: Sequence[type] = ()) -> Iterator[None]:
    """Within the block every ``torch.load`` is weights-only (even one passing
    ``weights_only=False``), with ``allowed`` classes besides tensors and containers."""
    import torch

    saved = {k: os.environ.get(k) for k in ("TORCH_FORCE_WEIGHTS_ONLY_LOAD",
                                            "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD")}
    os.environ["TORCH_FORCE_WEIGHTS_ONLY_LOAD"] = "1"
    os.environ.pop("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", None)
    try:
        with torch.serialization.safe_globals(list(allowed)):
            yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def unsafe_globals(path: Union[str, Path], message: str, allowed: Sequence[type]) -> List[str]:
    """The globals (``module.name``) a refused checkpoint pickles, other than ``allowed``."""
    import torch

    try:
        found = list(torch.serialization.get_unsafe_globals_in_checkpoint(str(path)))
    except Exception:  # noqa: BLE001 - not a zip checkpoint (legacy or raw pickle): use the message
        found = re.findall(r"unsupported GLOBAL (\S+)", message)
    names = {f"{c.__module__}.{c.__qualname__}" for c in allowed}
    return [g for g in found if g not in names]


def torch_error_reason(message: str) -> str:
    """The informative line of a torch.load error (its weights-only errors are paragraphs)."""
    m = re.search(r"(WeightsUnpickler error: [^\n]*|Trying to load [^\n]*)", message)
    line = m.group(1) if m else (message.strip().splitlines() or [""])[0]
    return line if len(line) <= 200 else line[:200] + "..."


def load_checkpoint(path: Union[str, Path], allowed: Sequence[type] = ()) -> Any:
    """``torch.load`` of ``path`` on the CPU as plain data (tensors, containers, ``allowed``).

    Raises:
        ConfigError: the file pickles other objects (whose loading could run arbitrary code),
            naming them, or is not a torch checkpoint at all (missing, corrupt, truncated); the
            message names the file. Nothing in the file is executed either way.
    """
    import torch

    try:
        with weights_only_loads(allowed):
            return torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        # The weights-only unpickler refuses both code (a GLOBAL it does not allow) and bytes it
        # cannot parse; only the first is "arbitrary code", the second a corrupt file.
        bad = unsafe_globals(path, str(e), allowed)
        if bad:
            raise ConfigError(
                f"checkpoint {str(path)!r} pickles objects other than tensors and plain data"
                f" ({', '.join(bad)}); loading it could run arbitrary code, so it is refused. "
                "Re-save only its weights and config as plain dicts/tensors (torch.save({...})) "
                "in a trusted environment.") from None
        raise ConfigError(
            f"checkpoint {str(path)!r} does not load as plain data with weights-only "
            f"unpickling ({torch_error_reason(str(e))}): it is corrupt, truncated or not written "
            "by torch.save, and is refused; re-save or re-export it") from None
    except OSError as e:
        raise ConfigError(f"checkpoint {str(path)!r} cannot be read: {e}") from None
    except Exception as e:  # noqa: BLE001 - torch's readers raise IndexError, KeyError,
        # struct.error, EOFError, RuntimeError, ... on corrupt or truncated input
        raise ConfigError(f"checkpoint {str(path)!r} is not a readable torch checkpoint "
                          f"(corrupt, truncated or not written by torch.save): "
                          f"{type(e).__name__}: {torch_error_reason(str(e))}") from None
