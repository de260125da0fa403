"""Paired bootstrap comparison of two scored decodes of the same test set (per_utt.tsv of each);
with several dirs per side, one per training seed in the same seed order, over seeds as well."""

import argparse
import json

from espnet_ext.bin import run_main
from espnet_ext.evaluation.significance import METRIC_COLUMNS, compare_systems
from espnet_ext.fileio import atomic_write_text


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--a", required=True, nargs="+",
                        help="score dir of system A (the baseline), or one per training seed")
    parser.add_argument("--b", required=True, nargs="+",
                        help="score dir of system B, or one per training seed in A's seed order")
    parser.add_argument("--metric", default="cer", choices=sorted(METRIC_COLUMNS))
    parser.add_argument("--n_resamples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--alpha", type=float, default=0.05,
                        help="1 - confidence level of the intervals")
    parser.add_argument("--out_json", default=None, help="also write the result row here")
    return parser


def main() -> None:
    parser = get_parser()
    args = parser.parse_args()
    if args.n_resamples < 1:
        parser.error(f"--n_resamples must be >= 1, got {args.n_resamples}")
    if not 0 < args.alpha < 1:
        parser.error(f"--alpha must be in (0, 1), got {args.alpha}")
    if len(args.a) != len(args.b):
        parser.error(f"--a has {len(args.a)} dirs, --b {len(args.b)}: give one per seed on both")
    # One dir per side: the plain single-run comparison (and its JSON row) as before seeds.
    a, b = (args.a[0], args.b[0]) if len(args.a) == 1 else (args.a, args.b)
    r = compare_systems(a, b, args.metric, args.n_resamples, args.seed, args.alpha)
    seeds = f" x {r['n_seeds']} seeds" if r["n_seeds"] > 1 else ""
    level = round(100 * (1 - args.alpha), 2)
    print(f"{args.metric.upper()} A {r['rate_a']:.2f} [{r['a_ci_low']:.2f}, {r['a_ci_high']:.2f}]"
          f" B {r['rate_b']:.2f} [{r['b_ci_low']:.2f}, {r['b_ci_high']:.2f}]"
          f" B-A {r['diff']:+.2f} [{r['ci_low']:+.2f}, {r['ci_high']:+.2f}]"
          f" ({level:g}% CI, {r['n_utts']} utts{seeds}, {r['n_resamples']} paired resamples,"
          f" p={r['p_value']:.3f}): {'significant' if r['significant'] else 'not significant'}")
    if args.out_json:
        atomic_write_text(args.out_json, json.dumps(r, indent=2) + "\n")


if __name__ == "__main__":
    run_main(main)
