"""Cost per training step of a text config's arms (joint, paired-only, audio-only twin), side by side.

    tools/venv/bin/python benchmarks/joint_vs_twin.py                       # conf/pretrain/mpc_tiny.yaml, CPU
    tools/venv/bin/python benchmarks/joint_vs_twin.py --config conf/pretrain/joint_tiny.yaml
    tools/venv/bin/python benchmarks/joint_vs_twin.py --device cuda --batch 8 --seconds 10

The three arms are built from the same config (paired: text_weight 0; twin: both text weights 0)
and trained on the same batch: speech, the phones of its transcript (random ids of a realistic
length: ~12 phones per second of speech) and unpaired phones of the same length (mpc: durations
of 3-15 frames, as espeak-ng's). Steps (forward + backward + Adam) alternate between the arms in
rounds; printed: seconds per step of each, the ratio joint / twin (target <= 1.5x), and the peak
memory of each (GPU: allocator peak; CPU: peak RSS of a child process that trains only that arm).
"""

import argparse
import copy
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("NLTK_DATA", str(REPO / "tools" / "nltk_data"))

import torch  # noqa: E402
import yaml  # noqa: E402

from benchmarks.side_by_side import alternate_rounds  # noqa: E402

PHONES = ["<blank>", "<unk>"] + [f"p{i}" for i in range(48)]


ARMS = {"joint": {}, "paired": {"text_weight": 0.0},
        "twin": {"text_weight": 0.0, "paired_weight": 0.0}}


def build(config: Path, arm: str):
    from espnet_ext.pretrain.task import PretrainTask

    raw = yaml.safe_load(config.read_text())
    conf = {**copy.deepcopy(raw["model_conf"]), "phone_list": PHONES, **ARMS[arm]}
    if raw["model"] == "mpc":
        conf["phone_durations"] = {p: list(range(3, 16)) for p in PHONES[2:]}
    torch.manual_seed(0)
    return PretrainTask.build_model(argparse.Namespace(model=raw["model"], model_conf=conf))


def batch(args, device):
    g = torch.Generator().manual_seed(0)
    samples = int(16000 * args.seconds)
    n_phones = int(12 * args.seconds)
    return dict(
        speech=(0.1 * torch.randn(args.batch, samples, generator=g)).to(device),
        speech_lengths=torch.full((args.batch,), samples, dtype=torch.long, device=device),
        text=torch.randint(2, len(PHONES), (args.batch, n_phones), generator=g).to(device),
        text_lengths=torch.full((args.batch,), n_phones, dtype=torch.long, device=device),
        unpaired=torch.randint(2, len(PHONES), (args.batch, n_phones), generator=g).to(device),
        unpaired_lengths=torch.full((args.batch,), n_phones, dtype=torch.long, device=device))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=REPO / "conf/pretrain/mpc_tiny.yaml")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--only", choices=list(ARMS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    device = torch.device(args.device)
    inputs = batch(args, device)
    names = [args.only] if args.only else list(ARMS)
    models = {n: build(args.config, n).to(device).train() for n in names}
    optims = {n: torch.optim.Adam(m.parameters(), lr=1e-4) for n, m in models.items()}

    def step(name):
        loss, _, _ = models[name](**inputs)
        optims[name].zero_grad(set_to_none=True)
        loss.backward()
        optims[name].step()

    elapsed, peak_bytes = alternate_rounds(step, names, device, args.rounds, args.steps)
    peak = {n: b / 2**30 for n, b in peak_bytes.items()}
    if args.only:  # child: report this model's peak RSS
        print(json.dumps({"peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                          / 2**20}))
        return
    if device.type == "cpu":
        for n in names:
            out = subprocess.run([sys.executable, __file__, "--only", n, "--config",
                                  str(args.config), "--batch", str(args.batch), "--seconds",
                                  str(args.seconds), "--rounds", "1", "--steps", "2"],
                                 capture_output=True, text=True, check=True).stdout
            peak[n] = json.loads(out.strip().splitlines()[-1])["peak_rss_gib"]
    per_step = {n: elapsed[n] / (args.rounds * args.steps) for n in names}
    dev = torch.cuda.get_device_name() if device.type == "cuda" else \
        f"CPU, {torch.get_num_threads()} threads"
    kind = "peak GPU memory" if device.type == "cuda" else "peak RSS (own process)"
    print(f"device: {dev}; {args.config.name}; batch {args.batch} x {args.seconds} s speech + "
          f"{int(12 * args.seconds)} phones paired and unpaired; {args.rounds} rounds x "
          f"{args.steps} steps each")
    for n in names:
        print(f"  {n}: {per_step[n]:.3f} s per step, {kind} {peak[n]:.2f} GiB")
    print(f"ratio joint / twin: {per_step['joint'] / per_step['twin']:.2f}x (target <= 1.5x); "
          f"paired / twin: {per_step['paired'] / per_step['twin']:.2f}x")


if __name__ == "__main__":
    main()
