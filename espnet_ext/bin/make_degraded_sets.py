"""Write degraded copies <out_prefix>_<condition> of a test data dir (noise, speed, telephone).

Conditions are named in a YAML config (conf/degrade/default.yaml). Each output dir has the same
utterance ids and transcripts as the clean set, new 16 kHz WAVs in wav/, PROVENANCE.md and a
.done marker: a rerun with the same inputs does nothing, changed inputs are rebuilt. Output is
deterministic (byte-identical WAVs whatever --nj).

Example: ``python -m espnet_ext.bin.make_degraded_sets --config conf/degrade/default.yaml
--data_dir data/test_cs --babble_source data/train_es --babble_source data/dev_nl
--out_prefix data/test_cs --seed 1``; ``--list`` prints the condition names for a shell loop.
"""

import argparse

from espnet_ext.bin import run_main
from espnet_ext.data.degrade import load_degrade_config, make_degraded_sets, select_conditions


def _names(value: str) -> list:
    return [n.strip() for n in value.split(",") if n.strip()]


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--config", required=True, help="conf/degrade/*.yaml")
    parser.add_argument("--data_dir", help="clean test data dir, e.g. data/test_cs")
    parser.add_argument("--out_prefix", default=None,
                        help="outputs are <out_prefix>_<condition> (default: --data_dir)")
    parser.add_argument("--babble_source", action="append", default=[],
                        help="data dir of other-language speech for babble (repeatable)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--conditions", type=_names, default=None,
                        help="comma-separated condition names (default: all of --config)")
    parser.add_argument("--nj", type=int, default=1, help="worker processes")
    parser.add_argument("--force", action="store_true", help="rebuild even if up to date")
    parser.add_argument("--list", action="store_true",
                        help="print the (selected) condition names, one per line, and exit")
    return parser


def main() -> None:
    parser = get_parser()
    args = parser.parse_args()
    if args.list:
        for cond in select_conditions(load_degrade_config(args.config), args.conditions,
                                      args.config):
            print(cond.name)
        return
    if not args.data_dir:
        parser.error("--data_dir is required (unless --list)")
    make_degraded_sets(args.config, args.data_dir, args.out_prefix, args.babble_source,
                       seed=args.seed, conditions=args.conditions, nj=args.nj, force=args.force)


if __name__ == "__main__":
    run_main(main)
