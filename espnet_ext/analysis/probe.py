"""Linear phone-separability probe: how linearly decodable phones are from each upstream layer.

The seed paper's analysis. For one upstream and one language:

1. **Probe set** (:mod:`espnet_ext.analysis.probe_speech`): sentences of the language read by
   espeak-ng, with the exact time of every phone it synthesised.
2. **Frames and labels**: the upstream runs over each utterance (eval mode, no grad, batch 1, as
   in feature extraction) and every hidden state is kept. Frame ``i`` of a layer with
   downsample rate ``s`` covers samples ``[i*s, (i+1)*s)`` (the s3prl convention; the real
   receptive fields are centred a few ms later, at most 7.5 ms for the kaldi-fbank upstreams)
   and is labelled with the phone covering its centre. The ``fbank`` baseline is ESPnet's
   default frontend as the fbank ASR runs use it (80 log-mel, 25 ms window, 10 ms hop); its
   STFT is centred, so frame ``i`` is centred at ``i*160``: one "layer 0".
   Frames in pauses are dropped by default (``silence="drop"``): the probe is about phones,
   and pauses, being near-silent, are trivially separable and vary with punctuation;
   ``silence="label"`` keeps them as class ``sil``.
3. **Split by utterance** (seeded): ``train_fraction`` of the utterances train the classifier,
   the others test it, so no test frame has a neighbouring frame of the same phone token in
   training.
4. **Classes**: phones with less than ``min_count`` x 10 ms of training speech (frames x frame
   shift) are dropped from both splits (counted in ``dropped_frames.rare``): a class seen a
   handful of times measures nothing, and merging them into one ``other`` class would make a
   class that is not a phone. Counting time, not frames, keeps the classes the same for a
   10 ms and a 40 ms upstream, so their accuracies compare.
5. **Classifier**: scikit-learn's multinomial ``LogisticRegression`` (lbfgs, ``C=1.0``:
   cross-entropy summed over frames + ||W||^2 / 2C, bias not penalised) on features
   standardised with the training split's mean and std. Deterministic given the data: lbfgs
   starts from zero weights and uses no randomness (``random_state`` is fixed all the same).
6. **Scores** per layer: frame accuracy on the test split and the majority-class rate (the
   share of test frames carrying the training split's most frequent class = chance).
"""

import dataclasses
import hashlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from espnet_ext.analysis.probe_speech import prepare_probe_set, read_probe_set
from espnet_ext.errors import ConfigError, DataDirError
from espnet_ext.faults import fail_point
from espnet_ext.fileio import PathLike, atomic_write_text
from espnet_ext.steps import DONE_FILE, is_done, mark_done, read_marker, seeded_shuffle
from espnet_ext.text.espeak import SIL, PhoneSegment
from espnet_ext.versioning import PROBE_RESULT

logger = logging.getLogger(__name__)

PROBE_VERSION = PROBE_RESULT.current
SILENCE_MODES = ("drop", "label")
SAMPLE_RATE = 16000


@dataclass
class ProbeOptions:
    """Everything but the data and the upstream that determines a probe's result.

    Attributes:
        seed: seeds the utterance split.
        train_fraction: share of utterances that train the classifier (at least one each side).
        min_count: phones with less training speech than this many 10 ms frames are dropped.
        silence: "drop" pause frames, or "label" them ``sil``.
        C: inverse L2 strength of sklearn's ``LogisticRegression``.
        max_iter: lbfgs iterations at most (on the probe sets measured it converged in 130-420;
            accuracy moved < 0.1% after 200).
        device: torch device of the upstream (the classifier runs on the CPU).
    """

    seed: int = 1
    train_fraction: float = 0.7
    min_count: int = 20
    silence: str = "drop"
    C: float = 1.0
    max_iter: int = 500
    device: str = "cpu"

    def check(self) -> None:
        """Raises ConfigError naming the bad option."""
        if self.silence not in SILENCE_MODES:
            raise ConfigError(f"silence must be one of {SILENCE_MODES}, got {self.silence!r}")
        if not 0.0 < self.train_fraction < 1.0:
            raise ConfigError(f"train_fraction must be in (0, 1), got {self.train_fraction}")
        if self.min_count < 1 or self.max_iter < 1 or self.C <= 0:
            raise ConfigError(f"need min_count >= 1, max_iter >= 1, C > 0; got "
                              f"{self.min_count}, {self.max_iter}, {self.C}")


# ----------------------------------------------------------------------------- features


class UpstreamLayers:
    """Every hidden state of an s3prl upstream, frame ``i`` covering ``[i*s, (i+1)*s)``."""

    centre = 0.5  # frame centre, in units of the layer's stride from i*stride

    def __init__(self, upstream, device: str = "cpu"):
        self.upstream = upstream.to(device).eval()
        self.device = device
        self.num_layers = upstream.num_layers
        self.strides = [int(r) for r in upstream.downsample_rates]

    def __call__(self, wav) -> List[np.ndarray]:
        """wav (1, S) float32 16 kHz -> one (T_l, D_l) float32 array per layer."""
        import torch

        from espnet_ext.features.extract import forward_layers

        with torch.no_grad():
            return [h.float().cpu().numpy() for h in forward_layers(self.upstream,
                                                                     wav.to(self.device))]


class FbankLayers:
    """ESPnet's default frontend with the fbank baseline's settings: one layer of 80 log-mels."""

    centre = 0.0  # centred STFT: frame i is centred at i * hop

    def __init__(self, device: str = "cpu"):
        from espnet2.asr.frontend.default import DefaultFrontend

        from espnet_ext.asr.inputs import FBANK_FRONTEND_CONF

        self.frontend = DefaultFrontend(fs=SAMPLE_RATE, **FBANK_FRONTEND_CONF).to(device).eval()
        self.device = device
        self.num_layers = 1
        self.strides = [FBANK_FRONTEND_CONF["hop_length"]]

    def __call__(self, wav) -> List[np.ndarray]:
        import torch

        with torch.no_grad():
            feats, lens = self.frontend(wav.to(self.device),
                                        torch.LongTensor([wav.size(1)]).to(self.device))
        return [feats[0, :int(lens[0])].float().cpu().numpy()]


def build_layer_source(cfg, device: str = "cpu"):
    """The per-layer feature function of an upstream config (fbank or an s3prl upstream).

    Raises:
        ConfigError: as :func:`espnet_ext.upstream.load_upstream`.
    """
    from espnet_ext.upstream import load_upstream
    from espnet_ext.upstream.config import FBANK

    if cfg.upstream == FBANK:
        return FbankLayers(device)
    upstream, _ = load_upstream(cfg)
    return UpstreamLayers(upstream, device)


def frame_labels(segments: Sequence[PhoneSegment], num_frames: int, stride: int,
                 centre: float = 0.5) -> List[Optional[str]]:
    """The phone covering each frame's centre.

    Args:
        segments: phone segments tiling the utterance (16 kHz samples, in time order).
        num_frames: frames of the layer.
        stride: samples per frame (the layer's downsample rate).
        centre: frame ``i``'s centre is at ``(i + centre) * stride`` samples.

    Returns:
        One label per frame; None where the centre lies outside the segments (past the audio).
    """
    starts = np.array([s.start for s in segments], dtype=np.float64)
    centres = (np.arange(num_frames, dtype=np.float64) + centre) * stride
    idx = np.searchsorted(starts, centres, side="right") - 1
    end = segments[-1].end if segments else 0
    return [segments[j].phone if j >= 0 and c < end else None
            for j, c in zip(idx.tolist(), centres.tolist())]


@dataclass
class LayerFrames:
    """Labelled frames of one layer, per utterance (features stored as float16 to halve memory)."""

    stride: int
    feats: Dict[str, np.ndarray] = dataclasses.field(default_factory=dict)  # utt -> (T, D)
    labels: Dict[str, np.ndarray] = dataclasses.field(default_factory=dict)  # utt -> (T,) str
    silence: int = 0  # pause frames dropped
    outside: int = 0  # frames past the end of the audio


def collect_frames(source, probe_set: Sequence[Tuple[str, str, List[PhoneSegment]]],
                   silence: str = "drop", progress: bool = True,
                   wav_scp: PathLike = "wav.scp") -> List[LayerFrames]:
    """Run ``source`` over every utterance and label the frames of each layer.

    Args:
        source: :class:`UpstreamLayers` / :class:`FbankLayers` (``num_layers``, ``strides``,
            ``centre``, ``__call__(wav (1, S)) -> [(T_l, D_l)]``).
        probe_set: ``[(utt, wav path, segments)]`` (:func:`read_probe_set`).
        silence: "drop" or "label" (see the module docstring).
        progress: tqdm bar over utterances.
        wav_scp: where the paths come from (for messages).

    Returns:
        One :class:`LayerFrames` per layer.

    Raises:
        DataDirError: unreadable or non-16 kHz audio (names the utterance).
    """
    from tqdm import tqdm

    from espnet_ext.features.extract import load_wave

    layers = [LayerFrames(stride) for stride in source.strides]
    for utt, path, segments in tqdm(probe_set, desc="probe features", unit="utt",
                                    disable=not progress, mininterval=5.0):
        wav = load_wave(utt, path, Path(wav_scp))
        hs = source(wav)
        if len(hs) != len(layers):
            raise AssertionError(f"{len(hs)} hidden states, expected {len(layers)}")
        for lf, h in zip(layers, hs):
            labels = frame_labels(segments, h.shape[0], lf.stride, source.centre)
            keep = [lab is not None and (silence == "label" or lab != SIL) for lab in labels]
            lf.outside += sum(lab is None for lab in labels)
            lf.silence += sum(lab == SIL for lab in labels) if silence == "drop" else 0
            keep = np.array(keep, dtype=bool)
            lf.feats[utt] = h[keep].astype(np.float16)
            lf.labels[utt] = np.array([lab for lab, k in zip(labels, keep) if k], dtype=object)
    return layers


# ----------------------------------------------------------------------------- classifier


def split_utterances(utts: Sequence[str], train_fraction: float, seed: int
                     ) -> Tuple[List[str], List[str]]:
    """Seeded split of utterance ids into (train, test), each non-empty.

    Raises:
        ConfigError: fewer than 2 utterances.
    """
    utts = sorted(utts)
    if len(utts) < 2:
        raise ConfigError(f"the probe needs at least 2 utterances (train and test), got "
                          f"{len(utts)}; raise --num_utts")
    utts = seeded_shuffle(utts, seed)
    n_train = min(len(utts) - 1, max(1, int(round(train_fraction * len(utts)))))
    return sorted(utts[:n_train]), sorted(utts[n_train:])


def fit_logistic_regression(x: np.ndarray, y: np.ndarray, C: float = 1.0,
                            max_iter: int = 500):
    """scikit-learn's multinomial logistic regression (lbfgs) on ``x`` (standardise it first).

    Args:
        x: (N, D) features; y: (N,) class indices.
        C: inverse regularisation strength; max_iter: lbfgs iterations at most.

    Returns:
        ``(fitted LogisticRegression, iterations)``; not converging within ``max_iter`` is
        logged, not raised (the fit so far is used).
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=C, solver="lbfgs", max_iter=max_iter, random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        clf.fit(x, y)
    iters = int(np.max(clf.n_iter_))
    if any(issubclass(w.category, ConvergenceWarning) for w in caught):
        logger.warning("logistic regression did not converge in %d lbfgs iterations; raise "
                       "--max_iter", iters)
    return clf, iters


def probe_frames(x_train: np.ndarray, y_train: Sequence[str], x_test: np.ndarray,
                 y_test: Sequence[str], min_count: int = 20, C: float = 1.0,
                 max_iter: int = 500, frame_weight: float = 1.0) -> Dict:
    """Train the linear probe on one split and score it on the other.

    Args:
        x_train, x_test: (N, D) features; y_train, y_test: their labels (strings).
        min_count: labels with fewer training frames (each counting ``frame_weight``) are
            dropped from both splits.
        C, max_iter: see :func:`fit_logistic_regression`.

    Returns:
        ``{"accuracy", "chance", "num_classes", "train_frames", "test_frames", "rare_frames",
        "iterations", "classes"}``: accuracy on the kept test frames, the share of them with
        the most frequent training class, and the frame counts after dropping.

    Raises:
        ConfigError: fewer than 2 classes with ``min_count`` training frames, or no test frame
            of those classes.
    """
    y_train, y_test = np.asarray(y_train, dtype=object), np.asarray(y_test, dtype=object)
    names, counts = np.unique(y_train.astype(str), return_counts=True)
    classes = sorted(n for n, c in zip(names.tolist(), counts.tolist())
                     if c * frame_weight >= min_count - 1e-9)
    if len(classes) < 2:
        raise ConfigError(f"only {len(classes)} phone class(es) have >= {min_count} training "
                          f"frames ({len(y_train)} frames in all); raise --num_utts or lower "
                          "--min_count")
    index = {c: i for i, c in enumerate(classes)}
    tr = np.array([lab in index for lab in y_train], dtype=bool)
    te = np.array([lab in index for lab in y_test], dtype=bool)
    if not te.any():
        raise ConfigError("no test frame belongs to a class seen >= min_count times in "
                          "training; raise --num_utts or lower --min_count")
    xtr = np.asarray(x_train[tr], dtype=np.float32)
    xte = np.asarray(x_test[te], dtype=np.float32)
    ytr = np.array([index[lab] for lab in y_train[tr]], dtype=np.int64)
    yte = np.array([index[lab] for lab in y_test[te]], dtype=np.int64)
    mean = xtr.mean(axis=0)
    std = xtr.std(axis=0)
    std[std < 1e-6] = 1.0  # constant dimensions carry nothing; avoid dividing by zero
    xtr, xte = (xtr - mean) / std, (xte - mean) / std
    clf, iters = fit_logistic_regression(xtr, ytr, C, max_iter)
    pred = clf.predict(xte)
    majority = int(np.bincount(ytr, minlength=len(classes)).argmax())
    return {
        "accuracy": float(np.mean(pred == yte)),
        "chance": float(np.mean(yte == majority)),
        "num_classes": len(classes),
        "train_frames": int(len(ytr)),
        "test_frames": int(len(yte)),
        "rare_frames": int((~tr).sum() + (~te).sum()),
        "iterations": iters,
        "classes": classes,
    }


def probe_layers(layers: Sequence[LayerFrames], options: ProbeOptions,
                 progress: bool = True) -> Tuple[List[Dict], List[str], List[str]]:
    """Split by utterance and probe every layer.

    Returns:
        ``(per-layer results, train utts, test utts)``; each result has ``layer``,
        ``accuracy``, ``chance``, ``num_classes``, ``train_frames``, ``test_frames``,
        ``frame_shift_ms``, ``dropped_frames`` {silence, rare, outside_audio}, ``iterations``
        and ``classes`` (the phone labels, in class order).
    """
    train, test = split_utterances(list(layers[0].feats), options.train_fraction, options.seed)
    results = []
    for i, lf in enumerate(layers):
        start = time.time()
        cat = (lambda utts, d: np.concatenate([d[u] for u in utts]))  # noqa: E731
        r = probe_frames(cat(train, lf.feats), cat(train, lf.labels), cat(test, lf.feats),
                         cat(test, lf.labels), options.min_count, options.C, options.max_iter,
                         frame_weight=lf.stride / (SAMPLE_RATE / 100))
        results.append({
            "layer": i,
            "accuracy": round(r["accuracy"], 4),
            "chance": round(r["chance"], 4),
            "num_classes": r["num_classes"],
            "train_frames": r["train_frames"],
            "test_frames": r["test_frames"],
            "frame_shift_ms": 1000.0 * lf.stride / SAMPLE_RATE,
            "dropped_frames": {"silence": lf.silence, "rare": r["rare_frames"],
                               "outside_audio": lf.outside},
            "iterations": r["iterations"],
            "classes": r["classes"],
        })
        if progress:
            logger.info("layer %2d: accuracy %.3f (chance %.3f, %d classes, %d/%d frames, "
                        "%d lbfgs iterations, %.1f s)", i, r["accuracy"], r["chance"],
                        r["num_classes"], r["train_frames"], r["test_frames"], r["iterations"],
                        time.time() - start)
    return results, train, test


# ----------------------------------------------------------------------------- the step


def _file_sha1(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def phone_probe(
    upstream: Union[str, Path],
    lang: str,
    text_file: PathLike,
    out_dir: PathLike,
    num_utts: int = 60,
    voices: Optional[Sequence[str]] = None,
    synth_dir: Optional[PathLike] = None,
    options: Optional[ProbeOptions] = None,
    force: bool = False,
    progress: bool = True,
) -> Path:
    """Probe every layer of ``upstream`` for phones of ``lang``; write ``<out_dir>/probe.json``.

    Idempotent: ``<out_dir>/.done`` (written last) records the inputs (upstream config and
    checkpoint hash, probe set, options); a rerun with the same inputs does nothing.

    Args:
        upstream: ``conf/upstream`` name or upstream YAML (e.g. ``exp/upstreams/x.yaml``), or
            ``fbank``.
        lang: ISO 639-1 code of the sentences.
        text_file: Kaldi ``text`` file to take sentences from.
        out_dir: where ``probe.json`` goes.
        num_utts: sentences to synthesise (first after a seeded shuffle).
        voices: espeak-ng voices (default ``[lang]``).
        synth_dir: the probe set's directory, shareable between upstreams (default
            ``<out_dir>/synth``); rebuilt only when its own options change.
        options: :class:`ProbeOptions` (``seed`` also seeds the sentence and voice choice).
        force: probe again even if ``.done`` matches (the probe set is still reused).
        progress: tqdm bars.

    Returns:
        The ``probe.json`` path. Its content: ``{"upstream", "lang", "num_utts", "num_classes",
        "chance", "layers": [{"layer", "accuracy", "chance", "num_classes", "train_frames",
        "test_frames", ...}], "classes", ...}``; the top-level ``num_classes``, ``chance`` and
        ``classes`` are layer 0's (all layers share them unless their frame rates differ).

    Raises:
        ConfigError: bad upstream config or options, unknown voice.
        CorpusError: libespeak-ng missing or failing.
        DataDirError: bad text file.
    """
    from espnet_ext.upstream import config_hash, load_upstream_config

    options = options or ProbeOptions()
    options.check()
    out_dir = Path(out_dir)
    synth_dir = Path(synth_dir) if synth_dir is not None else out_dir / "synth"
    cfg = load_upstream_config(upstream)
    upstream_key = config_hash(cfg)

    prepare_probe_set(text_file, synth_dir, lang, num_utts, voices, seed=options.seed,
                      progress=progress)
    inputs = {
        "version": PROBE_VERSION,
        "upstream": cfg.name,
        "upstream_key": upstream_key,
        "probe_set": str(synth_dir.resolve()),
        "probe_set_options": read_marker(synth_dir / DONE_FILE),
        "phones_sha1": _file_sha1(synth_dir / "phones.ctm"),
        "options": {k: v for k, v in dataclasses.asdict(options).items() if k != "device"},
    }
    result_file, done = out_dir / "probe.json", out_dir / DONE_FILE
    if is_done(done, inputs, force=force, outputs=[result_file]):
        logger.info("%s is up to date (same upstream, probe set and options); use --force "
                    "to redo", result_file)
        return result_file

    start = time.time()
    probe_set = read_probe_set(synth_dir)
    source = build_layer_source(cfg, options.device)
    layers = collect_frames(source, probe_set, options.silence, progress,
                            wav_scp=synth_dir / "wav.scp")
    del source
    results, train, test = probe_layers(layers, options, progress)
    if len({(r["num_classes"], r["chance"]) for r in results}) > 1:
        logger.info("layers differ in frame rate, hence in class count/chance: see each layer")
    report = {
        "upstream": cfg.name,
        "lang": lang,
        "num_utts": len(probe_set),
        "num_classes": results[0]["num_classes"],
        "chance": results[0]["chance"],
        "layers": [{k: v for k, v in r.items() if k != "classes"} for r in results],
        "classes": results[0]["classes"],
        "train_utts": len(train),
        "test_utts": len(test),
        "voices": inputs["probe_set_options"]["voices"],
        "silence": options.silence,
        "min_count": options.min_count,
        "C": options.C,
        "seed": options.seed,
        "probe_set": str(synth_dir.resolve()),
    }  # no timings here: a rerun must give this file byte for byte
    best = max(results, key=lambda r: r["accuracy"])
    logger.info("%s %s: best layer %d, accuracy %.3f (chance %.3f, %d classes), %.1f s", cfg.name,
                lang, best["layer"], best["accuracy"], best["chance"], best["num_classes"],
                time.time() - start)
    atomic_write_text(result_file, json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    fail_point("probe_result")
    mark_done(done, inputs)
    return result_file


def read_probe_result(path: PathLike) -> Dict:
    """A ``probe.json`` whose directory has its ``.done`` marker.

    Raises:
        DataDirError: missing or incomplete result.
    """
    path = Path(path)
    if not (path.parent / DONE_FILE).is_file() or not path.is_file():
        raise DataDirError(f"{path}: no complete probe result (no .done); run "
                           "espnet_ext.bin.phone_probe")
    return json.loads(path.read_text(encoding="utf-8"))
