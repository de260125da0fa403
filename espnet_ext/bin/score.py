"""Score ASR hypotheses (Kaldi text) against references: WER and CER with jiwer."""

import argparse

from espnet_ext.bin import run_main
from espnet_ext.evaluation.scoring import NORMALIZATIONS, score_files


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ref", required=True, help="reference Kaldi text file")
    parser.add_argument("--hyp", required=True, help="hypothesis Kaldi text file")
    parser.add_argument("--lang", required=True, help="language code (for text normalisation)")
    parser.add_argument("--out_dir", required=True,
                        help="gets summary.json, per_utt.tsv and alignments.txt")
    parser.add_argument(
        "--normalize", default="default", choices=sorted(NORMALIZATIONS),
        help="text normalisation before scoring (recorded in summary.json): "
        + "; ".join(f"{k}: {v}" for k, v in NORMALIZATIONS.items()),
    )
    parser.add_argument(
        "--meta", action="append", default=[], metavar="KEY=VALUE",
        help="stored in summary.json for the results table (upstream=..., test_set=...)",
    )
    return parser


def main() -> None:
    parser = get_parser()
    args = parser.parse_args()
    bad = [m for m in args.meta if "=" not in m]
    if bad:
        parser.error(f"--meta needs KEY=VALUE, got {bad}")
    meta = dict(m.split("=", 1) for m in args.meta)
    score_files(args.ref, args.hyp, args.lang, args.out_dir, meta, args.normalize)


if __name__ == "__main__":
    run_main(main)
