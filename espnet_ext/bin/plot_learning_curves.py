"""Learning curves of ESPnet trainings side by side: a validation (or training) metric after every
epoch, against updates, read from each exp dir's ``train.log`` (ESPnet's "<N>epoch results" lines)
and ``config.yaml`` (updates per epoch). Writes a PNG and the numbers as CSV.

    python -m espnet_ext.bin.plot_learning_curves --metric cer_ctc --out_png curves.png \\
        --out_csv curves.csv exp/asr_fbank_cs exp/asr_fbank_cs_train_asr_ctc_head

Used to size a downstream's update budget: the budget is enough where the curve has flattened.
"""

import argparse
import csv
import io
import re
from pathlib import Path
from typing import Dict, List, Tuple

from espnet_ext.bin import run_main
from espnet_ext.errors import XlingError
from espnet_ext.fileio import PathLike, atomic_write_text, read_yaml

_EPOCH = re.compile(r"(\d+)epoch results: (.*)$")
_SECTION = re.compile(r"\[(\w+)\] ")


def read_curve(exp_dir: PathLike, metric: str, split: str = "valid") -> List[Tuple[int, float]]:
    """(updates, value) after each epoch of the training in ``exp_dir``; the last report of an
    epoch wins (a resumed training logs an epoch again).

    Raises:
        XlingError: no ``train.log``, or no epoch reports ``split``'s ``metric``.
    """
    exp_dir = Path(exp_dir)
    log = exp_dir / "train.log"
    if not log.is_file():
        raise XlingError(f"{log}: not found; is {exp_dir} an ESPnet training dir?")
    conf = read_yaml(exp_dir / "config.yaml") if (exp_dir / "config.yaml").is_file() else {}
    per_epoch = (conf or {}).get("num_iters_per_epoch")
    values: Dict[int, float] = {}
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        m = _EPOCH.search(line)
        if not m:
            continue
        parts = _SECTION.split(m.group(2))  # ["", "train", "k=v, ...", "valid", "k=v, ...", ...]
        sections = dict(zip(parts[1::2], parts[2::2]))
        for item in sections.get(split, "").split(", "):
            key, _, value = item.partition("=")
            if key == metric:
                try:
                    values[int(m.group(1))] = float(value.rstrip(", "))
                except ValueError:
                    pass
    if not values:
        raise XlingError(f"{log}: no epoch reports [{split}] {metric}; metrics are named as in "
                         "ESPnet's epoch results (e.g. cer_ctc, acc, loss)")
    # updates per epoch: the fixed count when set, else the epoch number (x axis in epochs)
    return [(e * per_epoch if per_epoch else e, v) for e, v in sorted(values.items())]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("exp_dirs", nargs="+", type=Path, help="ESPnet training dirs")
    parser.add_argument("--metric", default="cer_ctc", help="e.g. cer_ctc, acc, loss")
    parser.add_argument("--split", default="valid", choices=["train", "valid"])
    parser.add_argument("--out_png", type=Path, required=True)
    parser.add_argument("--out_csv", type=Path, default=None)
    args = parser.parse_args()

    curves = {str(d): read_curve(d, args.metric, args.split) for d in args.exp_dirs}
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for name, curve in curves.items():
        ax.plot([x for x, _ in curve], [y for _, y in curve], marker="o", label=Path(name).name)
    ax.set_xlabel("updates (epochs where the config has no fixed count)")
    ax.set_ylabel(f"{args.split} {args.metric}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    args.out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out_png, dpi=120)
    if args.out_csv:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["exp_dir", "updates", f"{args.split}_{args.metric}"])
        for name, curve in curves.items():
            writer.writerows([name, x, y] for x, y in curve)
        atomic_write_text(args.out_csv, buf.getvalue())
    for name, curve in curves.items():
        print(f"{name}: " + " ".join(f"{x}:{y:.3f}" for x, y in curve))


if __name__ == "__main__":
    run_main(main)
