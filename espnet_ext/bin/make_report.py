"""Build the report of a recipe run from its exp dir alone: RESULTS.md with bootstrap intervals
and paired significance tests, CSV/JSON of every number, and PNG plots."""

import argparse

from espnet_ext.bin import run_main
from espnet_ext.evaluation.report import write_report


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--exp_dir", required=True)
    parser.add_argument("--out_dir", required=True)
    parser.add_argument("--decode", default=None,
                        help="decode tag to report (e.g. decode_ctc_greedy); default: the only one")
    parser.add_argument("--compare", action="append", default=[], metavar="BASELINE:SYSTEM",
                        help="an upstream pair to test besides twin-vs-model and each-vs-fbank")
    parser.add_argument("--n_resamples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--title", default="Results")
    return parser


def main() -> None:
    parser = get_parser()
    args = parser.parse_args()
    bad = [c for c in args.compare if c.count(":") != 1]
    if bad:
        parser.error(f"--compare needs BASELINE:SYSTEM, got {bad}")
    pairs = [tuple(c.split(":")) for c in args.compare]
    md = write_report(args.exp_dir, args.out_dir, args.decode, pairs, args.n_resamples,
                      args.seed, args.title)
    print(md.read_text(encoding="utf-8"))


if __name__ == "__main__":
    run_main(main)
