"""s3prl hub names (``wav2vec2``, ``hubert_base``, ``wavlm_base_plus`` ...), offline-first.

s3prl's own mechanism stays: a hub entry downloads its checkpoint once into s3prl's download cache
(``<cache dir>/<sha256 of the URL>.<file name>``, ``s3prl.util.download``) and reads it from there
afterwards. We wrap the one function of that module that fetches (``_download``), so that in our
processes:

- a checkpoint already in the cache is used without any request (as s3prl does without
  ``refresh``), and is checked to be plain data before s3prl unpickles it;
- a missing one is downloaded when the machine may go online, and otherwise (``HF_HUB_OFFLINE=1``
  or ``XLING_OFFLINE=1``) is one :class:`~espnet_ext.errors.ConfigError` line at once naming the
  upstream, the cache dir and the two ways out; a failed download is the same one line (no
  second attempt, no traceback).

The cache dir is s3prl's (``~/.cache/s3prl/download``) unless ``XLING_HUB_CACHE`` names another.
Entries that take a path (``*_local``, ``*_custom``, ``*_url``, our ``xling_*``) never download.
"""

import contextlib
import contextvars
import os
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Tuple

from espnet_ext.errors import ConfigError

OFFLINE_ENVS = ("HF_HUB_OFFLINE", "XLING_OFFLINE")
CACHE_ENV = "XLING_HUB_CACHE"
PATH_ENTRY_SUFFIXES = ("_local", "_custom", "_url")

# The upstream being built, for messages (the download function only sees a URL).
_building: contextvars.ContextVar[str] = contextvars.ContextVar("building", default="")


def is_offline() -> bool:
    return any(os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on")
               for v in OFFLINE_ENVS)


def takes_path(entry: str) -> bool:
    """True for entries that read a given checkpoint and never download (no s3prl import)."""
    return entry.startswith("xling_") or entry.endswith(PATH_ENTRY_SUFFIXES)


def cache_dir() -> Path:
    """s3prl's download dir (``XLING_HUB_CACHE`` when set), created if missing."""
    from s3prl.util import download

    if os.environ.get(CACHE_ENV):
        download.set_dir(os.environ[CACHE_ENV])
    return download.get_dir()


def _hub():
    from s3prl import hub

    from espnet_ext.upstream.hub import register

    register()  # also installs the offline-first download
    return hub


def hub_names() -> List[str]:
    """Every s3prl hub entry that downloads its own checkpoint (no path needed)."""
    import inspect

    hub = _hub()
    return sorted(n for n in dir(hub) if not n.startswith("_")
                  and inspect.isfunction(getattr(hub, n)) and not takes_path(n))


def is_hub_name(name: str) -> bool:
    return not takes_path(name) and callable(getattr(_hub(), name, None))


def local_counterpart(name: str) -> Optional[str]:
    """The entry that reads a local checkpoint of the same format as hub entry ``name``:
    ``<name>_local``, else the ``<family>_local`` / ``<family>_custom`` of the s3prl upstream
    package the entry lives in (``hubert_base`` -> ``hubert_local``); None if there is none."""
    hub = _hub()
    family = getattr(getattr(hub, name, None), "__module__", "").split(".")
    candidates = [f"{name}_local"]
    if len(family) >= 2 and family[-1] == "hubconf":
        candidates += [f"{family[-2]}_local", f"{family[-2]}_custom"]
    return next((c for c in candidates if callable(getattr(hub, c, None))), None)


class _Named(Exception):
    def __init__(self, filepath: Path, url: str):
        super().__init__(str(filepath))
        self.filepath, self.url = filepath, url


def checkpoint_source(name: str) -> Optional[Tuple[Path, str]]:
    """The cache file hub entry ``name`` downloads its checkpoint to, and from where (nothing is
    requested); None for an entry that needs no checkpoint (s3prl's ``fbank``, ``mfcc``...).

    Raises:
        ConfigError: the entry does not download through s3prl's cache.
    """
    from s3prl.util import download

    hub = _hub()
    cache_dir()

    def record(filepath, url, refresh=False, new_enough_secs=2.0):
        raise _Named(Path(filepath), url)

    real, download._download = download._download, record
    try:
        getattr(hub, name)()
    except _Named as found:
        return found.filepath, found.url
    except Exception as e:  # an entry that fails before naming a file (needs arguments, ...)
        raise ConfigError(f"s3prl upstream {name!r} does not download a checkpoint through "
                          f"s3prl's cache ({type(e).__name__}: {e}); use a local checkpoint "
                          "with its *_local entry and 'path:'") from None
    finally:
        download._download = real
    return None  # built without downloading anything


def missing_message(name: str, filepath: Path, reason: str) -> str:
    counterpart = local_counterpart(name) if name else None
    local = f"`upstream: {counterpart}` with `path:`" if counterpart else "a *_local entry with `path:`"
    return (f"s3prl upstream {name or '?'!r}: checkpoint {filepath.name} is not in the download "
            f"cache {filepath.parent} and {reason}. Either run the same on a machine with "
            f"network (it downloads into that cache) and copy {filepath.name} into "
            f"{filepath.parent} here ({CACHE_ENV} sets another cache dir), or use a local "
            f"checkpoint: {local}")


def _offline_first(real: Callable) -> Callable:
    def fetch(filepath, url, refresh=False, new_enough_secs=2.0):
        from espnet_ext.upstream import verify_checkpoint

        filepath = Path(filepath)
        name = _building.get()
        if not filepath.is_file():
            if is_offline():
                raise ConfigError(missing_message(
                    name, filepath, f"downloads are off ({'/'.join(OFFLINE_ENVS)} set)"))
            try:
                real(filepath, url, refresh=False)
            except Exception as e:  # one line, no second attempt
                raise ConfigError(missing_message(
                    name, filepath, f"could not be downloaded ({type(e).__name__}: "
                    f"{' '.join(str(e).split())[:200]})")) from None
        verify_checkpoint(filepath)  # plain data only, before s3prl unpickles it

    fetch.offline_first = True
    return fetch


def install() -> None:
    """Route every s3prl download of this process through the offline-first fetch (idempotent)."""
    from s3prl.util import download

    cache_dir()
    if not getattr(download._download, "offline_first", False):
        download._download = _offline_first(download._download)


@contextlib.contextmanager
def building(name: str) -> Iterator[None]:
    """``with building(name):`` names the upstream in the download messages of the block."""
    token = _building.set(name)
    try:
        yield
    finally:
        _building.reset(token)


def ensure_checkpoint(name: str) -> Optional[Path]:
    """The cached checkpoint of hub entry ``name``, downloaded first when allowed (None: the
    entry needs no checkpoint).

    Raises:
        ConfigError: not cached and offline, or the download failed (one line); not plain data.
    """
    from s3prl.util import download

    source = checkpoint_source(name)
    if source is None:
        return None
    filepath, url = source
    install()
    with building(name):
        download._download(filepath, url)  # the offline-first fetch: cached, fetched or refused
    return filepath


def entry_for(upstream: str, path: Optional[str]) -> str:
    """The s3prl entry that loads ``upstream`` with ``path``: a path always means that file, so a
    hub name given a path becomes its local counterpart (:func:`local_counterpart`).

    Raises:
        ConfigError: a hub name with a path and no counterpart that reads local files.
    """
    if not path or takes_path(upstream) or upstream == "fbank":
        return upstream
    counterpart = local_counterpart(upstream)
    if counterpart is None:
        raise ConfigError(f"upstream {upstream!r} downloads its own checkpoint and s3prl has no "
                          f"entry that reads a local one of its format, so 'path: {path}' cannot "
                          "be honoured; drop 'path' (s3prl's download cache) or name the entry "
                          "that reads your file")
    return counterpart
