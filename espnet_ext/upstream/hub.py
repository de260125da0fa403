"""Our pre-trained upstreams as s3prl hub entries: ``xling_apc``, ``xling_wav2vec2``, ``xling_joint``,
``xling_mpc``.

An exported checkpoint (:mod:`espnet_ext.pretrain.export`) is in the format of s3prl's own
``apc_local`` / ``wav2vec2_local`` / ``tera_local`` checkpoints plus an ``xling`` block (project version, method,
pre-training data and run). The ``xling_*`` entries check that block, so a checkpoint of the
wrong family or from an unknown writer is refused with a message instead of failing inside
s3prl, and then build s3prl's own expert: inference code is s3prl's, not a copy (``xling_mpc``:
a small expert around s3prl's Transformer that stacks frames, :mod:`.mpc_expert`).

``register()`` adds the entries to ``s3prl.hub`` (idempotent), after which
``s3prl.nn.S3PRLUpstream("xling_wav2vec2", path_or_url=ckpt)`` and ESPnet's
``frontend: s3prl`` with ``frontend_conf: {frontend_conf: {upstream: xling_wav2vec2,
path_or_url: ckpt}}`` work as for built-in names. ESPnet's trainer does not know our entries:
run it through ``python -m espnet_ext.bin.asr_train`` (which registers them) instead of
``espnet2.bin.asr_train``.
"""

import functools
from pathlib import Path
from typing import Callable, Dict, FrozenSet, Optional, Union

from espnet_ext.errors import ConfigError
from espnet_ext.pretrain.families import FAMILIES
from espnet_ext.versioning import EXPORTED_UPSTREAM, check

# Written into every exported checkpoint; bump it in espnet_ext.versioning when the format changes.
EXPORT_FORMAT_VERSION = EXPORTED_UPSTREAM.current
# hub name -> (pre-training method recorded in the checkpoint, s3prl expert module), from the
# one table of pre-training families
ENTRIES: Dict[str, tuple] = {f.hub_entry: (name, f.expert_module) for name, f in FAMILIES.items()}


def read_export_info(ckpt: Union[str, Path], method: str, entry: str) -> Dict:
    """The ``xling`` block of an exported checkpoint, after weights-only verification.

    Raises:
        ConfigError: the file is missing, not plain data, not written by our exporter, written
            in an export format this version does not read (names the writing version), or
            holds another method than ``entry`` serves.
    """
    import torch

    from espnet_ext.upstream import _weights_only_loading, verify_checkpoint

    if not Path(ckpt).is_file():
        raise ConfigError(f"{entry}: checkpoint {str(ckpt)!r} does not exist; pre-train and "
                          "export it with the recipe's stages 3-4 (./run.sh --stage 3 "
                          "--stop_stage 4)")
    verify_checkpoint(ckpt)
    with _weights_only_loading():
        state = torch.load(str(ckpt), map_location="cpu", weights_only=True)
    info = state.get("xling") if isinstance(state, dict) else None
    if not isinstance(info, dict):
        raise ConfigError(f"{entry}: {str(ckpt)!r} was not exported by espnet_ext (no 'xling' "
                          "block); for s3prl's own checkpoints use the *_local upstream names")
    check(info, EXPORTED_UPSTREAM, f"{entry}: {str(ckpt)!r}", error=ConfigError)
    if info.get("method") != method:
        raise ConfigError(f"{entry}: {str(ckpt)!r} holds a {info.get('method')!r} model, not "
                          f"{method!r}; use the entry "
                          f"{next((n for n, (m, _) in ENTRIES.items() if m == info.get('method')), '?')!r}")
    return info


def _make_entry(name: str, method: str, expert_module: str) -> Callable:
    def entry(ckpt: str, *args, **kwargs):
        import importlib

        read_export_info(ckpt, method, name)
        expert = importlib.import_module(expert_module).UpstreamExpert
        return expert(str(ckpt), *args, **kwargs)

    entry.__name__ = name
    entry.__doc__ = f"espnet_ext's pre-trained {method} upstream from a local exported checkpoint."
    return entry


def register() -> None:
    """Add the ``xling_*`` entries to ``s3prl.hub`` (listed by ``S3PRLUpstream.available_names``)
    and make s3prl's downloads offline-first (:mod:`espnet_ext.upstream.download`)."""
    from s3prl import hub

    from espnet_ext.upstream.download import install

    install()

    for name, (method, module) in ENTRIES.items():
        if not callable(getattr(hub, name, None)):
            setattr(hub, name, _make_entry(name, method, module))


# Parameters of hub functions and experts that are not ``options``: the loader passes the
# checkpoint and ``refresh`` itself, and UpstreamBase's hooks are callables (no YAML value).
_NOT_OPTIONS = frozenset({"self", "ckpt", "refresh", "hooks", "hook_postprocess"})


def _kwargs_escape(func: Callable, allowed_calls: FrozenSet[str]) -> bool:
    """True if ``func`` reads ``**kwargs`` itself or passes them to a call other than
    ``super().__init__`` or a name in ``allowed_calls``: its accepted names cannot be told from
    signatures."""
    import ast
    import inspect
    import textwrap

    tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    var_kw = {a.kwarg.arg for a in ast.walk(tree)
              if isinstance(a, ast.arguments) and a.kwarg is not None}
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) \
                and isinstance(node.value, ast.Name) and node.value.id in var_kw:
            return True  # kwargs["x"] read
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.value.id in var_kw:
            return True  # kwargs.get/pop/...
        if isinstance(node, ast.Call) and any(
                k.arg is None and isinstance(k.value, ast.Name) and k.value.id in var_kw
                for k in node.keywords):
            f = node.func
            to_super = (isinstance(f, ast.Attribute) and f.attr == "__init__"
                        and isinstance(f.value, ast.Call) and isinstance(f.value.func, ast.Name)
                        and f.value.func.id == "super")
            if not (to_super or (isinstance(f, ast.Name) and f.id in allowed_calls)):
                return True
    return False


@functools.lru_cache(maxsize=None)
def accepted_options(entry: str) -> Optional[FrozenSet[str]]:
    """The ``options`` keys s3prl hub ``entry`` uses (``**kwargs`` of s3prl's entries would take
    and silently drop any other): the named parameters of the hub functions of the entry's s3prl
    family and of the ``__init__`` of its expert classes (and their bases up to UpstreamBase).

    Returns:
        The names, or None when they cannot be told reliably: an unknown entry, no expert class
        found, or a function that reads ``**kwargs`` itself or passes them elsewhere.
    """
    import importlib
    import inspect
    import sys

    from s3prl.upstream.interfaces import UpstreamBase

    from espnet_ext.upstream.download import _hub

    fn = getattr(_hub(), entry, None)
    if not inspect.isfunction(fn):
        return None
    try:
        if entry in ENTRIES:  # ours: the entry passes everything on to s3prl's expert
            funcs, experts = [], [importlib.import_module(ENTRIES[entry][1]).UpstreamExpert]
            names = {}
        else:  # s3prl.upstream.<family>.hubconf: functions that call each other and the experts
            names = vars(sys.modules[fn.__module__])
            funcs = [f for f in names.values()
                     if inspect.isfunction(f) and f.__module__ == fn.__module__]
            experts = [c for c in names.values() if inspect.isclass(c)
                       and issubclass(c, UpstreamBase) and c is not UpstreamBase]
        if not experts:
            return None
        inits = [k.__dict__["__init__"] for c in experts for k in c.__mro__
                 if "__init__" in k.__dict__ and issubclass(k, UpstreamBase)
                 and k is not UpstreamBase]
        allowed = frozenset(n for n, v in names.items() if v in funcs or v in experts)
        accepted = set()
        for func in funcs + inits:
            if _kwargs_escape(func, allowed):
                return None
            accepted |= {p.name for p in inspect.signature(func).parameters.values()
                         if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    except (OSError, TypeError, ValueError, ImportError, SyntaxError):
        return None  # no source or signature to read
    return frozenset(accepted - _NOT_OPTIONS)
