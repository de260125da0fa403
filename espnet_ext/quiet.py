"""Known harmless third-party notices, filtered so a recipe log shows our lines and real warnings.

:func:`install` runs when ``espnet_ext`` is imported, which every
``python -m espnet_ext.bin.<step>`` does before its own code (and so before s3prl, torchaudio or
ESPnet are imported), also in the processes ESPnet's launcher starts. Each filter names one
message (a regex from its start), its category and, where it is stable, the module the warning
is attributed to; anything else, our own warnings included, is shown as before.
``XLING_SHOW_ALL_WARNINGS=1`` turns the filters off.

An ESPnet module that ignores a whole warning category for the rest of the process when it is
imported (:data:`BLANKET_IGNORES`) has that filter taken out again, so real warnings show in
decoding too.
"""

import io
import os
import re
import sys
import warnings
from contextlib import redirect_stdout
from importlib.abc import MetaPathFinder
from typing import List, Mapping, Optional, Pattern, Sequence, Tuple, Type

SHOW_ALL_ENV = "XLING_SHOW_ALL_WARNINGS"

# (message regex, category, module regex): each matched against the start of the warning's text
# and of the name of the module it is attributed to.
KNOWN_WARNINGS: List[Tuple[str, Type[Warning], str]] = [
    # s3prl's byol_s entry calls torchaudio.set_audio_backend("sox_io") when s3prl.hub is
    # imported; with torchaudio's dispatcher the call is a no-op, and no byol_s model is used.
    (r"torchaudio\._backend\.set_audio_backend has been deprecated", UserWarning,
     r"s3prl\.upstream\.byol_s\."),
    # The same call, reported a second time by torchaudio's deprecation wrapper ("this function
    # is no-op"): nothing changes whichever backend is asked for.
    (r"torchaudio\._backend\.set_audio_backend has been deprecated\. With dispatcher enabled",
     UserWarning, r"torchaudio\._internal\.module_utils$"),
    # ESPnet's own code (espnet2.enh decorators at import, the trainer and ASR model every step)
    # uses torch.cuda.amp.autocast, which still works and is the same as torch.amp.autocast("cuda").
    (r"`torch\.cuda\.amp\.autocast\(args\.\.\.\)` is deprecated", FutureWarning, r"espnet2\."),
    # s3prl's wav2vec2 model (our wav2vec2 pre-training and its upstream) builds its positional
    # convolution with the old weight_norm, which still works; the new one would rename the
    # checkpoint's weight_g/weight_v keys, so s3prl (and we) keep the old one.
    (r"`torch\.nn\.utils\.weight_norm` is deprecated in favor of "
     r"`torch\.nn\.utils\.parametrizations\.weight_norm`", FutureWarning,
     r"torch\.nn\.utils\.weight_norm$"),
]

# Lines third-party modules print to stdout when they are imported: (module, line regex, full
# match). ESPnet's attention module prints this one in every ESPnet process when the optional
# flash_attn package is not installed; ESPnet then uses its own attention, as intended here.
# Any other line that import prints (a flash_attn that is installed but broken, say) is kept.
KNOWN_IMPORT_PRINTS: List[Tuple[str, str]] = [
    ("espnet.nets.pytorch_backend.transformer.attention",
     r"Failed to import Flash Attention, using ESPnet default: No module named 'flash_attn'"),
]

# Modules that blanket-ignore a whole warning category at import: (module, category). The filter
# each adds is taken out again right after its import, also under XLING_SHOW_ALL_WARNINGS.
# espnet2.bin.asr_inference imports this one, which ignores every UserWarning of the process
# (ours and PyTorch's included) for the rest of decoding.
BLANKET_IGNORES: List[Tuple[str, Type[Warning]]] = [
    ("espnet2.asr.partially_AR_model", UserWarning),
]


def show_all(env: Optional[Mapping[str, str]] = None) -> bool:
    """``XLING_SHOW_ALL_WARNINGS`` set to anything but empty or ``0``: filter nothing."""
    return (os.environ if env is None else env).get(SHOW_ALL_ENV, "").strip() not in ("", "0")


class _ImportHook(MetaPathFinder):
    """Runs one module's import with stdout captured, then prints what it printed less the
    ``drop`` lines, and takes out an ``ignore`` filter for a whole ``undo_ignore`` category
    that the import added. Finds nothing itself: it wraps the spec the other finders return."""

    def __init__(self, module: str, drop: Sequence[Pattern[str]] = (),
                 undo_ignore: Sequence[Type[Warning]] = ()):
        self.module = module
        self.drop = list(drop)
        self.undo_ignore = tuple(undo_ignore)

    def find_spec(self, fullname, path, target=None):
        if fullname != self.module:
            return None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if isinstance(finder, _ImportHook) or find is None:
                continue
            spec = find(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        exec_module = loader.exec_module

        def hooked_exec_module(module):
            before = list(warnings.filters)
            out = io.StringIO()
            try:
                with redirect_stdout(out):
                    exec_module(module)
            finally:
                kept = [line for line in out.getvalue().splitlines(keepends=True)
                        if not any(p.fullmatch(line.rstrip("\n")) for p in self.drop)]
                sys.stdout.write("".join(kept))
                self._undo_blanket_ignores(before)

        loader.exec_module = hooked_exec_module  # this spec's loader only, not its class
        return spec

    def _undo_blanket_ignores(self, before: list) -> None:
        added = [f for f in warnings.filters if f not in before]
        for f in added:
            action, message, category, module, lineno = f
            if (action == "ignore" and message is None and module is None and lineno == 0
                    and category in self.undo_ignore):
                warnings.filters.remove(f)
        if added:
            getattr(warnings, "_filters_mutated", lambda: None)()  # drop cached decisions


def _add_hook(module: str, **kwargs) -> None:
    if module in sys.modules:  # already imported: too late, and its notice is already out
        return
    for f in sys.meta_path:
        if isinstance(f, _ImportHook) and f.module == module:
            return
    sys.meta_path.insert(0, _ImportHook(module, **kwargs))


def install(env: Optional[Mapping[str, str]] = None) -> bool:
    """Add the filters (idempotent). Returns False, filtering nothing (ESPnet's blanket ignores
    are still taken out), when ``XLING_SHOW_ALL_WARNINGS`` asks to see everything."""
    for module, category in BLANKET_IGNORES:
        _add_hook(module, undo_ignore=[category])
    if show_all(env):
        return False
    for message, category, module in KNOWN_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category, module=module)
    for module, line in KNOWN_IMPORT_PRINTS:
        _add_hook(module, drop=[re.compile(line)])
    return True
