"""Which espnet_ext wrote a file that a later stage (or a later version) reads back.

Three kinds of output outlive the code that wrote them: score summaries (``summary.json``,
stage 8), feature caches (``cache.json``, stage 5) and exported upstream checkpoints (the
``xling`` block, stage 4). Each carries a stamp, :func:`stamp`: the writing ``espnet_ext``
version and the format number of that kind of file. A reader calls :func:`check`, which accepts
the formats this version can read (:attr:`Format.readable`) and refuses any other one, newer or
older, with a message naming the version that wrote the file and the stage that rewrites it.

Bump a :class:`Format`'s ``current`` (and decide what stays in ``readable``) whenever the
layout or the meaning of its fields changes; the version alone is for messages.

The ``.done`` markers of some steps (:mod:`espnet_ext.steps`) carry a format number too, as the
``version`` among the options they record (:data:`STEP_MARKERS`). A marker of another version
records other options, so the step is redone (or, for the corpus preparers, refused until
``--force``); bump one when the step's output changes for the same options.
"""

from dataclasses import dataclass
from typing import Dict, Mapping, Optional, Tuple, Type

from espnet_ext import __version__
from espnet_ext.errors import XlingError
from espnet_ext.fileio import PathLike

VERSION_KEY = "espnet_ext_version"


@dataclass(frozen=True)
class Format:
    """One kind of stamped file.

    Attributes:
        what: the kind, for messages (``"score summary"``).
        current: the format this version writes.
        readable: the formats this version reads (``current`` and older ones still understood).
        rerun: the step that rewrites such a file with this version, for messages.
        key: the field holding the format number.
        label: what the number is called in messages.
        unstamped: the format of a file without ``key`` (written before stamping), or None when
            such a file is refused.
    """

    what: str
    current: int
    readable: Tuple[int, ...]
    rerun: str
    key: str = "format"
    label: str = "format"
    unstamped: Optional[int] = None


# summary.json: format 1 is the layout since scoring existed; files from before the stamp was
# added (no "format" field) have the same layout and are format 1 too.
SCORE_SUMMARY = Format("score summary", 1, (1,), "rerun stage 8 (scoring)", unstamped=1)
# cache.json has held "format" since the cache existed (one without it, e.g. written by hand,
# has the only layout there has been: format 1). The format is also part of the cache key, so a
# cache of another format lives in another directory and is rebuilt, not misread.
FEATURE_CACHE = Format("feature cache", 1, (1,), "rerun stage 5 (feature extraction)",
                       unstamped=1)
# The ``xling`` block of an exported checkpoint has held "format_version" since the first export.
EXPORTED_UPSTREAM = Format("exported upstream checkpoint", 1, (1,),
                           "re-export it with stage 4 (./run.sh --stage 4 --stop_stage 4)",
                           key="format_version", label="export format")

# Step markers: "version" is one of the recorded options.
# <out_dir>/.corpus_<lang>.done of the preparers of corpora with their own split (common_voice,
# fleurs, mls).
CORPUS_SPLITS = Format("corpus preparation marker", 1, (1,),
                       "rerun the corpus preparation (stage 1) with --force", key="version",
                       label="marker version")
# <data_dir>/.cgn_<lang>.done of the CGN recipe data.
CGN_RECIPE = Format("CGN preparation marker", 1, (1,),
                    "rerun the CGN preparation (stage 1) with --force", key="version",
                    label="marker version")
# <data>/.offline_corpus.done. 2: the shared options and per-language records (incremental
# builds); 1 recorded all options, the language list included, and is still read: a version 1
# marker with the same shared options has its languages rebuilt, not refused.
OFFLINE_CORPUS = Format("offline corpus marker", 2, (1, 2),
                        "rerun the offline corpus preparation (stage 1) with --force",
                        key="version", label="marker version")
# <out_dir>/.done of a pool of data dirs (combine_data_dirs).
POOLED_DATA_DIR = Format("pooled data dir marker", 1, (1,), "rerun stage 1 (it is redone)",
                         key="version", label="marker version")
# <out_dir>/.done of a degraded test set; bump when a change to the signal code changes the WAVs.
DEGRADED_SET = Format("degraded test set marker", 1, (1,), "rerun stage 1 (it is redone)",
                      key="version", label="marker version")
# <synth_dir>/.done of a probe set; bump when the synthesis or the label derivation changes.
PROBE_SET = Format("probe set marker", 1, (1,), "rerun stage 9 (it is redone)", key="version",
                   label="marker version")
# <out_dir>/.done of a phone probe; bump when the frame labelling, the split or the classifier
# changes. 2: scikit-learn's LogisticRegression (1: a torch L-BFGS fit of the same objective,
# stopped at 200 iterations; its accuracies may differ slightly, so its results are redone).
# 3: min_count counts 10 ms of speech, not frames (the same classes at every frame rate).
PROBE_RESULT = Format("phone probe marker", 3, (3,), "rerun stage 9 (it is redone)",
                      key="version", label="marker version")
# <out_dir>/.done of a phone recognition head (stage 9); bump when the phones, the head or its
# training change.
PHONE_RECOGNITION = Format("phone recognition marker", 1, (1,), "rerun stage 9 (it is redone)",
                           key="version", label="marker version")
STEP_MARKERS = (CORPUS_SPLITS, CGN_RECIPE, OFFLINE_CORPUS, POOLED_DATA_DIR, DEGRADED_SET,
                PROBE_SET, PROBE_RESULT, PHONE_RECOGNITION)


def stamp(fmt: Format) -> Dict:
    """The fields to add to a file of kind ``fmt``: ``{"espnet_ext_version": ..., <key>: N}``."""
    return {VERSION_KEY: __version__, fmt.key: fmt.current}


def check(found: Mapping, fmt: Format, path: PathLike,
          error: Type[XlingError] = XlingError) -> int:
    """The format of a stamped file read back, if this version can read it.

    Args:
        found: the file's top-level mapping (the summary, ``cache.json``, the ``xling`` block).
        fmt: what kind of file it is.
        path: the file, for messages.
        error: the exception type to raise (the caller's usual one for that file).

    Returns:
        The file's format number (one of ``fmt.readable``).

    Raises:
        XlingError (``error``): the format is newer, older than this version still reads,
            missing (where ``fmt.unstamped`` is None) or not an integer; the message names the
            version that wrote the file and what to do.
    """
    if not isinstance(found, Mapping):
        raise error(f"{path}: not a {fmt.what} (expected a mapping, got "
                    f"{type(found).__name__}); {fmt.rerun}")
    version = found.get(VERSION_KEY)
    writer = (f"espnet_ext {version}" if isinstance(version, str) and version
              else "an unknown espnet_ext version")
    readable = ", ".join(map(str, fmt.readable))
    if fmt.key not in found:
        if fmt.unstamped is not None:
            return fmt.unstamped
        raise error(f"{path}: {fmt.what} without a format stamp ('{fmt.key}'), written by "
                    f"{writer}; this is espnet_ext {__version__}, which reads {fmt.label}s "
                    f"{readable}: {fmt.rerun} with this version")
    number = found[fmt.key]
    if isinstance(number, bool) or not isinstance(number, int):
        raise error(f"{path}: {fmt.what} has {fmt.label} {number!r} (expected an integer), "
                    f"written by {writer}; {fmt.rerun} with this version")
    if number in fmt.readable:
        return number
    newer = number > fmt.current
    raise error(f"{path}: {fmt.what} written by {writer} ({fmt.label} {number}); this is "
                f"espnet_ext {__version__}, which reads {fmt.label}s {readable}: "
                + (f"upgrade espnet_ext to read it, or {fmt.rerun} with this version" if newer
                   else f"{fmt.rerun} with this version"))
