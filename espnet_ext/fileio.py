"""Atomic file output: a file either has its complete new content or its previous one.

Every writer in espnet_ext goes through here, so a killed stage never leaves a truncated file that
a rerun would take as complete.
"""

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator, TextIO, Union

from espnet_ext.faults import fail_point

PathLike = Union[str, Path]


@contextlib.contextmanager
def atomic_open(path: PathLike, mode: str = "w", encoding: str = "utf-8") -> Iterator[TextIO]:
    """Open a temporary file beside ``path``; rename it onto ``path`` only if the block succeeds.

    Args:
        path: final destination; its parent directory is created if needed.
        mode: "w" (text) or "wb" (binary).
        encoding: text encoding, ignored for binary mode.

    Yields:
        The open temporary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": encoding})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_open(path, "w") as f:
        f.write(text)


@contextlib.contextmanager
def atomic_torch_saves() -> Iterator[None]:
    """Within the block, ``torch.save`` to a path writes a temporary file and renames it.

    For code we do not own that saves in place (ESPnet's ``Trainer.run`` writes checkpoint.pth
    and ``<N>epoch.pth`` directly); saves to open file objects are passed through unchanged.
    """
    import torch

    original = torch.save

    def save(obj, f, *args, **kwargs):
        if not isinstance(f, (str, os.PathLike)):
            return original(obj, f, *args, **kwargs)
        with atomic_open(f, "wb") as tmp:
            original(obj, tmp, *args, **kwargs)
            fail_point(f"saving_{Path(f).name}")

    torch.save = save
    try:
        yield
    finally:
        torch.save = original


def read_yaml(path: PathLike, where: str = "") -> Any:
    """The YAML document in ``path``.

    Raises:
        ConfigError: the file is not UTF-8 or not YAML: one line starting with ``where`` (default
            the path), saying where in the file and what is wrong.
    """
    import yaml

    from espnet_ext.errors import ConfigError

    where = where or str(path)
    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise ConfigError(f"{where}: not valid UTF-8 ({e.reason} at byte {e.start}); save it as "
                          "UTF-8") from None
    except yaml.YAMLError as e:
        # one line: line and column, and what, without PyYAML's source excerpt
        mark = getattr(e, "problem_mark", None)
        at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        what = ": ".join(str(p) for p in (getattr(e, "context", None),
                                          getattr(e, "problem", None)) if p)
        raise ConfigError(f"{where}: not valid YAML: {at}{what or ' '.join(str(e).split())}") \
            from None
