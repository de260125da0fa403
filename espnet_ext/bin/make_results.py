"""Collect every scored set under an exp dir into RESULTS.md, results.csv and results.json."""

import argparse

from espnet_ext.bin import run_main
from espnet_ext.evaluation.results import write_results


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--exp_dir", required=True)
    parser.add_argument("--out_dir", required=True)
    parser.add_argument("--title", default="Results")
    return parser


def main() -> None:
    args = get_parser().parse_args()
    print(write_results(args.exp_dir, args.out_dir, args.title).read_text(encoding="utf-8"))


if __name__ == "__main__":
    run_main(main)
