"""Downstream training epoch time: cached frozen-upstream features vs ESPnet's on-the-fly
``frontend: s3prl`` with the same frozen upstream, with fbank beside them, measured side by side
in one run, plus a loss-equality check of the two upstream paths.

    tools/venv/bin/python benchmarks/cache_vs_onthefly.py \
        --data_dir egs2/offline_mini/xling1/data/train_es --num_utts 60

The upstream is a randomly initialised wav2vec 2.0 BASE (7 conv + 12 x 768 Transformer, s3prl's
converted-checkpoint format): the ratio depends on upstream size, not on its weights.
The downstream is conf/asr/train_asr_conformer.yaml for all three inputs. Printed: seconds per
epoch of each, the on-the-fly / cached ratio (target >= 5x on CPU for BASE), cached / fbank
(bar: <= 1.2x), the one-time extraction cost, and the loss difference of the two paths in eval
mode on the same weights.
"""

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("NLTK_DATA", str(REPO / "tools" / "nltk_data"))

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
import torch  # noqa: E402


def build_base_checkpoint(path: Path) -> None:
    """A random wav2vec 2.0 BASE in the format s3prl's wav2vec2_local reads."""
    from s3prl.upstream.wav2vec2.wav2vec2_model import Wav2Vec2Config, Wav2Vec2Model

    torch.manual_seed(0)
    model_cfg = {"quantize_targets": True, "final_dim": 256, "encoder_layerdrop": 0.0}
    model = Wav2Vec2Model(Wav2Vec2Config(**model_cfg))
    torch.save({"task_cfg": {"sample_rate": 16000, "normalize": False},
                "model_cfg": model_cfg, "model_weight": model.state_dict()}, path)


def build_asr(frontend_args: list, token_list: Path, asr_config: Path, stats: Path = None):
    """An ESPnet ASR model from our downstream config + the given frontend arguments."""
    from espnet2.tasks.asr import ASRTask

    from espnet_ext.asr.task import register_frontends

    register_frontends()
    parser = ASRTask.get_parser()
    args = parser.parse_args([
        "--config", str(asr_config), "--token_list", str(token_list), "--token_type", "char",
        "--output_dir", "/tmp/unused", *frontend_args,
    ])
    torch.manual_seed(1)
    return ASRTask.build_model(args)


def batches(waves: list, seconds: float):
    """Length-sorted batches (lists of utterance ids) of about ``seconds`` of audio, as ESPnet's
    numel batching. Made once from the waveforms and used by every input path, so all three
    train on the same batches (cached features have 50 frames per second, not 16000 samples:
    measuring them by their own length would put the whole set in one padded batch)."""
    items = sorted(waves, key=lambda x: len(x[1]))
    out, cur, dur = [], [], 0.0
    for key, wave in items:
        cur.append(key)
        dur += len(wave) / 16000
        if dur >= seconds:
            out.append(cur)
            cur, dur = [], 0.0
    return out + ([cur] if cur else [])


def pad(seqs):
    lens = torch.tensor([len(s) for s in seqs])
    x = torch.zeros((len(seqs), int(lens.max())) + tuple(seqs[0].shape[1:]))
    for i, s in enumerate(seqs):
        x[i, : len(s)] = torch.as_tensor(s)
    return x, lens


def run_epoch(model, data, text_ids, epoch_batches) -> float:
    """One training epoch (forward, backward, Adam step) over ``epoch_batches``; seconds."""
    model.train()  # what ESPnet's trainer does every epoch, frozen upstream included
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=1e-4)
    inputs = dict(data)
    t0 = time.perf_counter()
    for keys in epoch_batches:
        x, xl = pad([inputs[k] for k in keys])
        y, yl = pad([text_ids[k] for k in keys])
        loss, _, _ = model(x, xl, y.long(), yl)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data_dir", required=True, help="Kaldi data dir (16 kHz wav.scp + text)")
    ap.add_argument("--num_utts", type=int, default=60)
    ap.add_argument("--batch_seconds", type=float, default=25.0)
    ap.add_argument("--asr_config", default=str(REPO / "conf/asr/train_asr_conformer.yaml"))
    args = ap.parse_args()
    torch.set_num_threads(max(1, os.cpu_count() or 1))

    import kaldiio

    from espnet_ext.data.kaldi import read_kaldi_map, write_kaldi_map
    from espnet_ext.features.extract import extract_features, read_cache_info
    from espnet_ext.text.tokens import build_token_list
    from espnet_ext.upstream import load_upstream
    from espnet_ext.upstream.config import load_upstream_config
    from espnet_ext.asr.inputs import cache_key, frontend_args

    tmp = Path(tempfile.mkdtemp(prefix="xling_bench_"))
    src = Path(args.data_dir)
    wavs = read_kaldi_map(src / "wav.scp")
    texts = read_kaldi_map(src / "text")
    keys = sorted(wavs)[: args.num_utts]
    sub = tmp / "data"
    sub.mkdir()
    write_kaldi_map(sub / "wav.scp", {k: wavs[k] for k in keys})
    write_kaldi_map(sub / "text", {k: texts[k] for k in keys})
    write_kaldi_map(sub / "utt2spk", {k: k for k in keys})
    tokens = build_token_list(sub / "text", tmp / "tokens", "char")
    vocab = {t: i for i, t in enumerate(tokens.read_text(encoding="utf-8").split())}
    text_ids = {k: torch.tensor([vocab.get("<space>" if c == " " else c, 1) for c in texts[k]])
                for k in keys}
    waves = [(k, sf.read(wavs[k], dtype="float32")[0]) for k in keys]
    audio_s = sum(len(w) for _, w in waves) / 16000

    ckpt_dir = tmp / "ckpt"
    ckpt_dir.mkdir()
    build_base_checkpoint(ckpt_dir / "wav2vec_small.pt")
    os.environ["XLING_CKPT_DIR"] = str(ckpt_dir)
    cfg = load_upstream_config("wav2vec2_base")
    fbank_cfg = load_upstream_config("fbank")

    # One-time extraction into the cache (eval mode, batch 1).
    upstream, _ = load_upstream(cfg)
    t0 = time.perf_counter()
    cache = extract_features(upstream, sub, tmp / "cache", cache_key=cache_key(cfg, sub, "float32"),
                             upstream_name=cfg.name, progress=False)
    extract_s = time.perf_counter() - t0
    info = read_cache_info(cache)
    feats = dict(kaldiio.load_scp(str(cache / "feats.scp")))
    cached_data = [(k, np.asarray(feats[k], dtype=np.float32)) for k in keys]
    del upstream

    # ESPnet's frozen on-the-fly path: frontend s3prl, upstream parameters not trained.
    onthefly = build_asr(frontend_args(dataclasses.replace(cfg, frozen=False)), tokens,
                         Path(args.asr_config))
    for p in onthefly.frontend.upstream.parameters():  # ESPnet's --freeze_param frontend.upstream
        p.requires_grad_(False)
    cached = build_asr(frontend_args(cfg, cache), tokens, Path(args.asr_config))
    fbank = build_asr(frontend_args(fbank_cfg), tokens, Path(args.asr_config))

    # Same downstream weights and layer weights: the two paths must agree in eval mode.
    state = {k: v for k, v in onthefly.state_dict().items() if not k.startswith("frontend.")}
    cached.load_state_dict({**cached.state_dict(), **state})
    cached.frontend.weights.data.copy_(onthefly.frontend.featurizer.weights.data)
    onthefly.eval()
    cached.eval()
    k, w = waves[0]
    y = text_ids[k][None]
    with torch.no_grad():
        l1 = onthefly(torch.tensor(w)[None], torch.tensor([len(w)]), y, torch.tensor([y.shape[1]]))[0]
        f = torch.tensor(cached_data[0][1])[None]
        l2 = cached(f, torch.tensor([f.shape[1]]), y, torch.tensor([y.shape[1]]))[0]

    epoch_batches = batches(waves, args.batch_seconds)
    t_fly = run_epoch(onthefly, waves, text_ids, epoch_batches)
    t_cache = run_epoch(cached, cached_data, text_ids, epoch_batches)
    t_fbank = run_epoch(fbank, waves, text_ids, epoch_batches)

    print(f"# {len(keys)} utterances, {audio_s:.0f} s of audio from {src}; "
          f"{torch.get_num_threads()} threads; upstream: random wav2vec 2.0 BASE "
          f"({info['num_layers']} x {info['dim']})")
    print(f"one-time extraction:            {extract_s:8.1f} s  ({audio_s / extract_s:.1f}x real time)")
    print(f"epoch, on-the-fly s3prl:        {t_fly:8.1f} s")
    print(f"epoch, cached weighted sum:     {t_cache:8.1f} s")
    print(f"epoch, fbank:                   {t_fbank:8.1f} s")
    print(f"ratio on-the-fly / cached:      {t_fly / t_cache:8.2f} x   (target >= 5)")
    print(f"ratio cached / fbank:           {t_cache / t_fbank:8.2f} x   (bar <= 1.2)")
    print(f"loss on-the-fly vs cached (eval, same weights): {l1.item():.6f} vs {l2.item():.6f} "
          f"(|diff| {abs(l1.item() - l2.item()):.2e})")


if __name__ == "__main__":
    main()
