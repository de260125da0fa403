"""Write a duration-limited subset of a data dir (seeded random order, audio shared)."""

import argparse

from espnet_ext.bin import run_main
from espnet_ext.data.subset import subset_by_hours


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("src", help="source data dir")
    parser.add_argument("dst", help="data dir to write")
    parser.add_argument("--max_hours", type=float, required=True,
                        help="cap; a shorter source is kept whole")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--force", action="store_true")
    return parser


def main() -> None:
    args = get_parser().parse_args()
    subset_by_hours(args.src, args.dst, args.max_hours, force=args.force, seed=args.seed,
                    at_most=True)


if __name__ == "__main__":
    run_main(main)
