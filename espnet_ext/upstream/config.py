"""Upstream configs: one small YAML per upstream under ``conf/upstream/``.

A config names an s3prl upstream: a hub name as s3prl spells it (``wavlm_base_plus``: its
checkpoint comes from s3prl's download cache, offline-first, :mod:`.download`), an entry that
reads a local checkpoint (``*_local`` with ``path``, or one of ours), or the special value
``fbank``; the layers to use, and whether the upstream is frozen. A ``path`` always means that
file: given with a hub name, the entry's local counterpart reads it (``hubert_base`` ->
``hubert_local``), never a download. Defaults live in :class:`UpstreamConfig`; the YAML only
overrides them and unknown keys are an error. ``--upstreams`` also takes a bare hub name.

``config_hash`` keys the frozen-feature cache on everything that changes the features: the
resolved config and the sha256 of the checkpoint's bytes.
"""

import dataclasses
import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

from espnet_ext.errors import ConfigError
from espnet_ext.fileio import read_yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONF_DIR = REPO_ROOT / "conf" / "upstream"
CKPT_DIR_ENV = "XLING_CKPT_DIR"
FBANK = "fbank"

# ``scheme://`` or s3prl's own test (``ckpt.startswith("http")`` triggers a download there).
_URL_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://|https?:)")
_VAR_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


@dataclass
class UpstreamConfig:
    """One upstream to compare.

    Attributes:
        name: config stem (``conf/upstream/<name>.yaml``); the row label in results.
        upstream: s3prl hub entry, e.g. ``wav2vec2_local``, or ``fbank`` (no checkpoint).
        path: checkpoint file; ``${VAR}`` is expanded, a relative path is taken against
            ``$XLING_CKPT_DIR`` when set. Resolved to an absolute path by the loader.
        layers: ``"all"`` = learned softmax-weighted sum of every layer; a list of layer
            indices = weighted sum over those; a one-element list = that layer alone.
        frozen: the upstream is not updated (features may then be cached).
        freeze_steps: when fine-tuning (``frozen: false``), keep the upstream frozen for the
            first N steps.
        published: where such a checkpoint is published (plain text for error messages).
        options: extra keyword arguments for the s3prl upstream entry.
    """

    name: str
    upstream: str
    path: Optional[str] = None
    layers: Union[str, List[int]] = "all"
    frozen: bool = True
    freeze_steps: int = 0
    published: str = ""
    options: Dict = field(default_factory=dict)


logger = logging.getLogger(__name__)

_FIELDS = {f.name: f for f in dataclasses.fields(UpstreamConfig)}
# What does not change the extracted features, hence not part of the cache key.
_NOT_HASHED = ("name", "published")


def _type_ok(key: str, value) -> bool:
    if key in ("name", "upstream", "published"):
        return isinstance(value, str)
    if key == "path":
        return value is None or isinstance(value, str)
    if key == "layers":
        return value == "all" or (
            isinstance(value, list) and len(value) > 0
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value))
    if key == "frozen":
        return isinstance(value, bool)
    if key == "freeze_steps":
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0
    if key == "options":
        return isinstance(value, dict)
    raise AssertionError(key)


_TYPE_DOC = {
    "name": "a string", "upstream": "a string", "published": "a string",
    "path": "a string or null", "layers": '"all" or a non-empty list of layer indices (ints)',
    "frozen": "true or false", "freeze_steps": "an integer >= 0", "options": "a mapping",
}


def is_url(path: str) -> bool:
    """True if ``path`` looks like a URL (which we never download)."""
    return bool(_URL_RE.match(path.strip()))


def _expand(path: str, where: str, published: str) -> str:
    def sub(m: "re.Match") -> str:
        var = m.group(1) or m.group(2)
        if var not in os.environ:
            raise ConfigError(
                f"{where}: path {path!r} uses ${{{var}}}, which is not set; expected "
                f"{Path(path).name!r} there: set {var} to the directory holding it"
                + (f" (published as: {published})" if published else ""))
        return os.environ[var]

    return os.path.expanduser(_VAR_RE.sub(sub, path))


def resolve_checkpoint(cfg: UpstreamConfig, where: str = "", must_exist: bool = True
                       ) -> Optional[Path]:
    """The absolute checkpoint path of ``cfg`` (None for ``fbank``).

    Args:
        cfg: the config; ``cfg.path`` may hold ``${VAR}`` or be relative to ``$XLING_CKPT_DIR``.
        where: the config file, for messages.
        must_exist: raise if the file is missing.

    Raises:
        ConfigError: URL path, unset variable, missing path for a checkpoint upstream, or a
            missing file (naming the file expected, from which variable/config, and where such
            checkpoints are published).
    """
    where = where or f"upstream config {cfg.name!r}"
    if cfg.upstream == FBANK:
        return None
    if not cfg.path:
        from espnet_ext.upstream.download import takes_path

        if not takes_path(cfg.upstream):
            return None  # a hub name: s3prl's download cache holds its checkpoint
        raise ConfigError(
            f"{where}: upstream {cfg.upstream!r} needs 'path: <local checkpoint>' (or use the "
            f"s3prl hub name without a path)")
    if is_url(cfg.path):
        raise ConfigError(
            f"{where}: path {cfg.path!r} is a URL; nothing is downloaded at run time: fetch the "
            f"file yourself and give its local path"
            + (f" (published as: {cfg.published})" if cfg.published else ""))
    p = Path(_expand(cfg.path, where, cfg.published))
    from_env = ""
    if not p.is_absolute():
        if os.environ.get(CKPT_DIR_ENV):
            p = Path(os.environ[CKPT_DIR_ENV]) / p
            from_env = f" (relative path taken under ${CKPT_DIR_ENV}={os.environ[CKPT_DIR_ENV]})"
        else:
            p = Path.cwd() / p
            from_env = f" (relative path taken under the working directory; ${CKPT_DIR_ENV} unset)"
    if must_exist and not p.is_file():
        raise ConfigError(
            f"{where}: checkpoint {str(p)!r} not found: expected the file {p.name!r} "
            f"from config path {cfg.path!r}{from_env}. Put the checkpoint there or point "
            f"${CKPT_DIR_ENV} at the directory holding it"
            + (f"; such checkpoints are published as: {cfg.published}" if cfg.published else ""))
    return p.resolve() if p.exists() else p


def load_upstream_config(name_or_path: Union[str, Path], conf_dir: Union[str, Path, None] = None,
                         require_checkpoint: bool = True) -> UpstreamConfig:
    """Read and check one upstream config.

    Args:
        name_or_path: a config stem (``wav2vec2_base`` -> ``<conf_dir>/wav2vec2_base.yaml``) or a
            YAML file path.
        conf_dir: where stems are looked up; default ``<repo>/conf/upstream``.
        require_checkpoint: fail if the checkpoint file is missing (off for dry-runs).

    Returns:
        The config, with ``path`` resolved to an absolute path (None for ``fbank``).

    Raises:
        ConfigError: unknown config name (lists the available ones), unreadable YAML, unknown
            keys (lists the valid ones), a wrongly typed value (names the key), a URL path, or a
            missing checkpoint.
    """
    conf_dir = Path(conf_dir) if conf_dir is not None else DEFAULT_CONF_DIR
    s = str(name_or_path)
    if s.endswith((".yaml", ".yml")) or os.sep in s:
        file = Path(s)
    else:
        file = conf_dir / f"{s}.yaml"
    if not file.is_file() and file == conf_dir / f"{s}.yaml" and s != FBANK:
        from espnet_ext.upstream.download import is_hub_name

        if is_hub_name(s):  # a bare s3prl hub name: its defaults, no YAML needed
            return UpstreamConfig(name=s, upstream=s)
    if not file.is_file():
        avail = sorted(p.stem for p in conf_dir.glob("*.yaml")) if conf_dir.is_dir() else []
        raise ConfigError(f"upstream config {str(file)!r} not found; available in {conf_dir}: "
                          f"{', '.join(avail) or '(none)'}; or an s3prl hub name (python -m "
                          "espnet_ext.bin.list_upstreams lists them)")
    raw = read_yaml(file)
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise ConfigError(f"{file}: expected a mapping of keys, got {type(raw).__name__}")
    # YAML keys need not be strings (``1: x``, ``null: y``): order them by their repr.
    unknown = sorted((k for k in raw if k not in _FIELDS), key=repr)
    if unknown:
        raise ConfigError(f"{file}: unknown key(s) {', '.join(map(repr, unknown))}; valid keys: "
                          f"{', '.join(_FIELDS)}")
    raw.setdefault("name", file.stem)
    if "upstream" not in raw:
        raise ConfigError(f"{file}: missing key 'upstream' (an s3prl entry such as "
                          f"'wav2vec2_local', or 'fbank')")
    for key, value in raw.items():
        if not _type_ok(key, value):
            raise ConfigError(f"{file}: key {key!r} must be {_TYPE_DOC[key]}, got {value!r}")
    cfg = UpstreamConfig(**raw)
    if cfg.upstream == FBANK and cfg.path:
        raise ConfigError(f"{file}: upstream 'fbank' takes no checkpoint; remove 'path'")
    if cfg.upstream == FBANK:
        cfg.path = None  # `path: ""` means none too (config_hash hashes a non-None path's file)
    else:
        path = resolve_checkpoint(cfg, str(file), must_exist=require_checkpoint)
        cfg.path = None if path is None else str(path)
    if cfg.options:
        _check_options(cfg, file)
    return cfg


def _check_options(cfg: UpstreamConfig, file: Path) -> None:
    """``options`` keys must be ones the s3prl entry uses: its ``**kwargs`` drop any other."""
    if cfg.upstream == FBANK:  # ESPnet's default frontend: nothing would read them
        raise ConfigError(f"{file}: upstream 'fbank' takes no options; remove 'options'")
    odd = sorted((k for k in cfg.options if not isinstance(k, str)), key=repr)
    if odd:
        raise ConfigError(f"{file}: options key {odd[0]!r} is not a name; options are keyword "
                          "arguments of the s3prl entry")
    from espnet_ext.upstream.download import _hub, entry_for
    from espnet_ext.upstream.hub import accepted_options

    try:
        entry = entry_for(cfg.upstream, cfg.path)
    except ConfigError:
        return  # reported where the upstream is built
    if not callable(getattr(_hub(), entry, None)):
        return  # an unknown entry: reported where the upstream is built
    accepted = accepted_options(entry)
    if accepted is None:
        logger.warning("%s: options of s3prl's %r are unchecked (its entry reads keyword "
                       "arguments that its signatures do not show): %s", file, entry,
                       ", ".join(cfg.options))
        return
    unknown = sorted(set(cfg.options) - accepted)
    if unknown:
        raise ConfigError(f"{file}: options key {unknown[0]!r} is not used by s3prl's {entry!r} "
                          f"(it would be ignored); accepted keys: "
                          f"{', '.join(sorted(accepted)) or '(none)'}")


_DIGESTS: Dict[Tuple[str, int, int], str] = {}


def file_sha256(path: Union[str, Path]) -> str:
    """sha256 of a file's bytes, cached in-process by (path, size, mtime)."""
    st = os.stat(path)
    key = (str(Path(path).resolve()), st.st_size, st.st_mtime_ns)
    if key not in _DIGESTS:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        _DIGESTS[key] = h.hexdigest()
    return _DIGESTS[key]


def config_hash(cfg: UpstreamConfig) -> str:
    """Key of everything that determines an upstream's features.

    Args:
        cfg: a config from :func:`load_upstream_config` (``path`` resolved).

    Returns:
        Hex sha256 over the config (without ``name``, ``published`` and the checkpoint's
        location) and the checkpoint's sha256, so a changed value or changed checkpoint bytes give a new key.

    Raises:
        ConfigError: the checkpoint file is missing.
    """
    d = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in _NOT_HASHED}
    if cfg.path is not None:
        # The bytes, not the location, determine the features: a moved checkpoint keeps its key.
        d.pop("path")
        d["checkpoint_sha256"] = file_sha256(resolve_checkpoint(cfg))
    elif cfg.upstream != FBANK:  # a hub name: the file in the download cache (fetched if allowed)
        from espnet_ext.upstream.download import ensure_checkpoint

        ckpt = ensure_checkpoint(cfg.upstream)
        if ckpt is not None:
            d["checkpoint_sha256"] = file_sha256(ckpt)
    blob = json.dumps(d, sort_keys=True, default=str).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()
