"""Pre-training throughput: our wav2vec 2.0 (espnet_ext.pretrain) vs ESPnet's ``ssl_train`` HuBERT
at equal model size, measured side by side in one run (alternating rounds on the same batches).

    tools/venv/bin/python benchmarks/pretrain_throughput.py --size tiny            # 2 CPU cores
    tools/venv/bin/python benchmarks/pretrain_throughput.py --size base --device cuda --amp

Both models: the same 7-layer CNN waveform encoder (channels by --size), a Transformer of the
same depth/width/heads/FFN, masked prediction with mask_prob 0.65 / length 10; ours adds the
Gumbel quantiser + contrastive loss (its cost is the point of the comparison), ESPnet's HuBERT
predicts random frame labels (100 classes; k-means targets cost nothing at train time). A step
is forward + backward + Adam update. Printed: parameters, audio seconds per wall second of each,
the ratio ours / ESPnet, and peak GPU memory on CUDA.
"""

import argparse
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("NLTK_DATA", str(REPO / "tools" / "nltk_data"))

import torch  # noqa: E402
import yaml  # noqa: E402

from benchmarks.side_by_side import alternate_rounds  # noqa: E402

SIZES = {  # channels, layers, dim, ffn, heads, final_dim, codebook entries per group
    "tiny": (128, 4, 256, 1024, 4, 128, 64),
    "base": (512, 12, 768, 3072, 12, 256, 320),
}


def conv_shapes(channels: int):
    return [[channels, 10, 5]] + [[channels, 3, 2]] * 4 + [[channels, 2, 2]] * 2


def build_ours(size: str):
    from espnet_ext.pretrain.wav2vec2 import Wav2Vec2PretrainModel

    c, layers, dim, ffn, heads, final_dim, latent_vars = SIZES[size]
    return Wav2Vec2PretrainModel(model={
        "conv_feature_layers": f"[({c}, 10, 5)] + [({c}, 3, 2)] * 4 + [({c}, 2, 2)] * 2",
        "encoder_layers": layers, "encoder_embed_dim": dim, "encoder_ffn_embed_dim": ffn,
        "encoder_attention_heads": heads, "final_dim": final_dim, "latent_vars": latent_vars,
        "num_negatives": 100 if size == "base" else 50})


def build_espnet_hubert(size: str, tmp: Path):
    """ESPnet's SSL task model (``espnet2.bin.ssl_train``) with the HuBERT loss."""
    from espnet2.tasks.ssl import SSLTask

    c, layers, dim, ffn, heads, final_dim, _ = SIZES[size]
    config = {
        "frontend": "wav2vec_cnn",
        "frontend_conf": {"norm_mode": "group_norm", "conv_mode": "standard", "bias": False,
                          "shapes": conv_shapes(c)},
        "normalize": None,
        "preencoder": "linear",
        "preencoder_conf": {"output_size": dim},
        "encoder": "transformer",
        "encoder_conf": {"output_size": dim, "attention_heads": heads, "linear_units": ffn,
                         "num_blocks": layers, "dropout_rate": 0.1, "input_layer": None,
                         "normalize_before": False},
        "loss": [{"name": "hubert", "conf": {"num_classes": 100, "final_dim": final_dim}}],
        "util": [{"name": "mask", "conf": {"mask_prob": 0.65, "mask_length": 10}}],
        "token_list": [str(i) for i in range(100)],
    }
    path = tmp / "ssl.yaml"
    path.write_text(yaml.safe_dump(config))
    args = SSLTask.get_parser().parse_args(["--config", str(path)])
    return SSLTask.build_model(args)


def frames_of(samples: int, shapes) -> int:
    for _, k, s in shapes:
        samples = (samples - k) // s + 1
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=sorted(SIZES), default="tiny")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--amp", action="store_true", help="bf16 autocast (CUDA)")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=4.0, help="audio per utterance")
    parser.add_argument("--rounds", type=int, default=3, help="alternating measurement rounds")
    parser.add_argument("--steps", type=int, default=3, help="steps per model per round")
    args = parser.parse_args()

    torch.manual_seed(0)
    device = torch.device(args.device)
    samples = int(16000 * args.seconds)
    speech = (0.1 * torch.randn(args.batch, samples)).to(device)
    lengths = torch.full((args.batch,), samples, dtype=torch.long, device=device)
    n_frames = frames_of(samples, conv_shapes(SIZES[args.size][0]))
    labels = torch.randint(0, 100, (args.batch, n_frames), device=device)
    label_lengths = torch.full((args.batch,), n_frames, dtype=torch.long, device=device)

    with tempfile.TemporaryDirectory() as tmp:
        models = {"ours wav2vec2": build_ours(args.size),
                  "ESPnet HuBERT": build_espnet_hubert(args.size, Path(tmp))}
    inputs = {"ours wav2vec2": dict(speech=speech, speech_lengths=lengths),
              "ESPnet HuBERT": dict(speech=speech, speech_lengths=lengths, text=labels,
                                    text_lengths=label_lengths)}
    optims = {}
    for name, model in models.items():
        model.to(device).train()
        optims[name] = torch.optim.Adam(model.parameters(), lr=1e-4)
        n = sum(p.numel() for p in model.parameters())
        print(f"{name}: {n / 1e6:.2f} M parameters")

    def step(name):
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.amp):
            loss, _, _ = models[name](**inputs[name])
        optims[name].zero_grad(set_to_none=True)
        loss.backward()
        optims[name].step()

    elapsed, peak = alternate_rounds(step, models, device, args.rounds, args.steps)
    audio = args.rounds * args.steps * args.batch * args.seconds
    speed = {name: audio / t for name, t in elapsed.items()}
    dev = torch.cuda.get_device_name() if device.type == "cuda" else \
        f"CPU, {torch.get_num_threads()} threads"
    print(f"device: {dev}; size {args.size}; batch {args.batch} x {args.seconds} s; "
          f"{args.rounds} rounds x {args.steps} steps each{'; bf16 autocast' if args.amp else ''}")
    for name in models:
        mem = f", peak GPU memory {peak[name] / 2**30:.2f} GiB" if name in peak else ""
        print(f"  {name}: {speed[name]:.1f} audio-s per wall-s{mem}")
    print(f"ratio ours / ESPnet HuBERT: {speed['ours wav2vec2'] / speed['ESPnet HuBERT']:.2f}x")


if __name__ == "__main__":
    main()
