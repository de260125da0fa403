"""Phone recognition on real speech (SUPERB PR style): how much of a language's phonetics a frozen
upstream's features carry, read by the weakest head that can transcribe.

For each upstream and evaluation language: the real recordings of the language's training set,
labelled with espeak-ng phones of their transcripts; the upstream's frozen layers, combined by a
learned softmax weighting (as s3prl's featurizer and ESPnet's ``frontend: s3prl`` do); a linear
layer onto the phones and blank, trained with CTC for a fixed number of updates; phone error rate
(PER) of its best path on the language's test set.

The frame-level probe of :mod:`.probe` runs on espeak-ng's own speech, which is also part of the
pre-training audio and the source of the text arms' phone targets: it is in-domain for upstreams
pre-trained that way. This probe reads only real speech, so it is the fairer of the two when the
pre-training used espeak-ng.

Chance and control: a head that outputs only blanks has PER 100; fbank (one layer of 80 log-mels)
and the random-init control are read by the same head.
"""

import dataclasses
import functools
import hashlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Sequence, Tuple, Union

import numpy as np
import torch

from espnet_ext.errors import ConfigError, DataDirError
from espnet_ext.faults import fail_point
from espnet_ext.fileio import PathLike, atomic_write_text
from espnet_ext.steps import DONE_FILE, is_done, mark_done, seeded_shuffle
from espnet_ext.versioning import PHONE_RECOGNITION

logger = logging.getLogger(__name__)

RESULT_FILE = "result.json"


@dataclass
class PhoneRecognitionOptions:
    """Args:
        max_train_utts: training utterances at most (a seeded choice; features are held in memory).
        updates: CTC updates of the head (batch ``batch_size`` utterances), learning rate
            rising over the first tenth, then falling linearly to 0.
        lr: peak learning rate (Adam).
        seed: utterance choice, initialisation and batch order.
        device: torch device of the upstream and the head.
    """

    max_train_utts: int = 400
    updates: int = 600
    batch_size: int = 8
    lr: float = 5e-3
    seed: int = 1
    device: str = "cpu"

    def check(self) -> None:
        for name in ("max_train_utts", "updates", "batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"phone recognition: {name} must be >= 1, got "
                                  f"{getattr(self, name)}")
        if not self.lr > 0:
            raise ConfigError(f"phone recognition: lr must be > 0, got {self.lr}")


def _digest(data_dir: Path) -> str:
    """sha1 of a data dir's ``wav.scp`` and ``text``: what the probe reads of it."""
    return hashlib.sha1(b"".join((data_dir / n).read_bytes()
                                 for n in ("wav.scp", "text"))).hexdigest()


@functools.lru_cache(maxsize=8)
def _phone_data(data_dir: Path, lang: str, max_utts: int, seed: int, sha1: str
                ) -> Tuple[Tuple[str, str, Tuple[str, ...]], ...]:
    """(utt, wav, phones) of up to ``max_utts`` utterances of ``data_dir`` with any phone.

    Cached per process (the CLI reads every upstream of a language in one process, and
    phonemising is the same for all of them); ``sha1``, the dir's :func:`_digest`, keys the cache
    to the dir's content.
    """
    from espnet_ext.data.kaldi import read_data_dir
    from espnet_ext.text.phonemes import phonemize

    utts = read_data_dir(data_dir)
    if not utts:
        raise DataDirError(f"{data_dir}: no utterances")
    utts = sorted(seeded_shuffle(utts, seed)[:max_utts], key=lambda u: u.utt_id)
    phones = phonemize([u.text for u in utts], lang=lang, mode="ipa")
    kept = tuple((u.utt_id, u.wav_path, tuple(p)) for u, p in zip(utts, phones) if p)
    if not kept:
        raise DataDirError(f"{data_dir}/text: no transcript gives a phone (language '{lang}')")
    return kept


def _features(source, data: Sequence[Tuple[str, str, List[str]]], desc: str, progress: bool
              ) -> List[np.ndarray]:
    """One (layers, T, D) float16 array per utterance: the layers of the upstream's most common
    shape (layers of another frame rate or width cannot be summed with them)."""
    from tqdm import tqdm

    from espnet_ext.data.audio import read_audio, to_mono_16k

    out = []
    for utt, wav, _ in tqdm(data, desc=desc, unit="utt", disable=not progress):
        try:
            samples = to_mono_16k(*read_audio(wav))
        except Exception as e:  # noqa: BLE001 - soundfile/pipe errors vary; name the utterance
            raise DataDirError(f"utterance '{utt}' ({wav}): unreadable audio ({e})") from None
        layers = source(torch.from_numpy(np.ascontiguousarray(samples))[None])
        dims = [x.shape[1] for x in layers]
        dim = max(set(dims), key=dims.count)
        same = [x for x in layers if x.shape[1] == dim]
        frames = min(x.shape[0] for x in same)
        out.append(np.stack([x[:frames] for x in same]).astype(np.float16))
    return out


class LinearCTCHead(torch.nn.Module):
    """Softmax weights over layers, a per-frame layer norm (no affine), one linear layer."""

    def __init__(self, num_layers: int, dim: int, vocab: int):
        super().__init__()
        self.layer_weights = torch.nn.Parameter(torch.zeros(num_layers))
        self.linear = torch.nn.Linear(dim, vocab)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        """(B, layers, T, D) -> (B, T, vocab) log-probabilities."""
        x = torch.nn.functional.layer_norm(feats, feats.shape[-1:])
        w = torch.softmax(self.layer_weights, 0)
        return self.linear((w[None, :, None, None] * x).sum(1)).log_softmax(-1)


def _batch(feats: Sequence[np.ndarray], device: str):
    lens = torch.tensor([f.shape[1] for f in feats])
    x = torch.zeros(len(feats), feats[0].shape[0], int(lens.max()), feats[0].shape[2])
    for i, f in enumerate(feats):
        x[i, :, :f.shape[1]] = torch.from_numpy(f.astype(np.float32))
    return x.to(device), lens


def train_head(feats: Sequence[np.ndarray], targets: Sequence[List[int]], vocab: int,
               options: PhoneRecognitionOptions, progress: bool = True):
    """CTC training of a :class:`LinearCTCHead`; returns it with the mean loss of the first and
    the last tenth of the updates (did it learn?)."""
    from tqdm import tqdm

    torch.manual_seed(options.seed)
    head = LinearCTCHead(feats[0].shape[0], feats[0].shape[2], vocab).to(options.device)
    opt = torch.optim.Adam(head.parameters(), lr=options.lr)
    warm = max(1, options.updates // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(  # linear warm-up, then linear decay to 0
        opt, lambda i: (i + 1) / warm if i < warm else (options.updates - i) / (options.updates
                                                                                - warm + 1))
    ctc = torch.nn.CTCLoss(blank=0, zero_infinity=True)
    order: List[int] = []
    losses = []
    epoch = 0
    for _ in tqdm(range(options.updates), desc="phone recognition head", unit="update",
                  disable=not progress):
        if len(order) < options.batch_size:
            order += seeded_shuffle(range(len(feats)), options.seed + epoch)
            epoch += 1
        idx, order = order[:options.batch_size], order[options.batch_size:]
        x, lens = _batch([feats[i] for i in idx], options.device)
        y = [torch.tensor(targets[i]) for i in idx]
        logp = head(x).transpose(0, 1)  # (T, B, vocab)
        loss = ctc(logp, torch.cat(y), lens, torch.tensor([len(t) for t in y]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss))
    tenth = max(1, len(losses) // 10)
    return head.eval(), float(np.mean(losses[:tenth])), float(np.mean(losses[-tenth:]))


def best_path(head, feats: np.ndarray, device: str) -> List[int]:
    """Greedy CTC output of one utterance: repeats merged, blanks (0) dropped."""
    from espnet_ext.evaluation.decoding import ctc_best_path

    with torch.no_grad():
        return ctc_best_path(head(_batch([feats], device)[0])[0], blank=0)


def phone_error_rate(refs: Sequence[Sequence[str]], hyps: Sequence[Sequence[str]]) -> float:
    """PER in %: phone edits over reference phones, summed over utterances."""
    import editdistance

    edits = sum(editdistance.eval(list(r), list(h)) for r, h in zip(refs, hyps))
    return 100.0 * edits / max(1, sum(len(r) for r in refs))


def phone_recognition(upstream: Union[str, Path], lang: str, train_dir: PathLike,
                      test_dir: PathLike, out_dir: PathLike,
                      options: PhoneRecognitionOptions = None, force: bool = False,
                      progress: bool = True) -> Path:
    """Train the linear CTC phone head on ``train_dir`` and write ``<out_dir>/result.json`` with
    the PER on ``test_dir``.

    Idempotent: ``<out_dir>/.done`` (written last) records the inputs (upstream config and
    checkpoint hash, data dirs' transcripts and audio lists, options); the same inputs do nothing.

    Returns:
        The result path. Content: ``{"upstream", "lang", "per", "num_phones", "train_utts",
        "test_utts", "test_phones", "oov_test_phones", "loss_first", "loss_last",
        "layer_weights", "options"}``.

    Raises:
        ConfigError: bad upstream config or options.
        DataDirError: unreadable data dir or audio (names the utterance).
    """
    from espnet_ext.analysis.probe import build_layer_source
    from espnet_ext.upstream import config_hash, load_upstream_config

    options = options or PhoneRecognitionOptions()
    options.check()
    out_dir, train_dir, test_dir = Path(out_dir), Path(train_dir), Path(test_dir)
    cfg = load_upstream_config(upstream)

    inputs = {"version": PHONE_RECOGNITION.current, "upstream": cfg.name,
              "upstream_key": config_hash(cfg), "lang": lang,
              "train": str(train_dir.resolve()), "train_sha1": _digest(train_dir),
              "test": str(test_dir.resolve()), "test_sha1": _digest(test_dir),
              "options": {k: v for k, v in dataclasses.asdict(options).items() if k != "device"}}
    result_file, done = out_dir / RESULT_FILE, out_dir / DONE_FILE
    if is_done(done, inputs, force=force, outputs=[result_file]):
        logger.info("%s is up to date (same upstream, data and options)", result_file)
        return result_file

    start = time.time()
    train = _phone_data(train_dir.resolve(), lang, options.max_train_utts, options.seed,
                        inputs["train_sha1"])
    test = _phone_data(test_dir.resolve(), lang, 10 ** 9, options.seed, inputs["test_sha1"])
    phones = sorted({p for _, _, ps in train for p in ps})
    index: Dict[str, int] = {p: i + 1 for i, p in enumerate(phones)}  # 0 = blank
    source = build_layer_source(cfg, options.device)
    train_feats = _features(source, train, f"{cfg.name} {lang} train", progress)
    test_feats = _features(source, test, f"{cfg.name} {lang} test", progress)
    del source
    # train phones are in the inventory by construction
    head, loss_first, loss_last = train_head(
        train_feats, [[index[p] for p in ps] for _, _, ps in train], len(phones) + 1, options,
        progress)
    inverse = {i: p for p, i in index.items()}
    hyps = [[inverse[i] for i in best_path(head, f, options.device)] for f in test_feats]
    refs = [ps for _, _, ps in test]
    result = {
        "upstream": cfg.name, "lang": lang,
        "per": round(phone_error_rate(refs, hyps), 2),
        "num_phones": len(phones),
        "train_utts": len(train), "test_utts": len(test),
        "test_phones": sum(len(r) for r in refs),
        # test phones never seen in training cannot be recognised (counted as errors)
        "oov_test_phones": sum(p not in index for r in refs for p in r),
        "loss_first": round(loss_first, 4), "loss_last": round(loss_last, 4),
        "layer_weights": [round(float(w), 4) for w in
                          head.layer_weights.detach().softmax(0).cpu().tolist()],
        "options": inputs["options"],
    }  # no timings: a rerun gives this file byte for byte
    logger.info("%s %s: PER %.1f (%d phones, CTC loss %.2f -> %.2f), %.1f s", cfg.name, lang,
                result["per"], len(phones), loss_first, loss_last, time.time() - start)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(result_file, json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    fail_point("phone_recognition")
    mark_done(done, inputs)
    return result_file
