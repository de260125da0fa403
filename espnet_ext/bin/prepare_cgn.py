"""Prepare a local copy of CGN (Corpus Gesproken Nederlands) for the study recipe.

Writes <out_dir>/pretrain_<lang> (pre-training pool), dev_<lang> (its validation set),
train_<lang>, test_<lang> and pretrain_text_<lang>/sentences.txt (transcripts of held-out train
speakers), with CGN's own data dirs and cut audio under <out_dir>/local
(espnet_ext.data.corpora.cgn_recipe.prepare_cgn_recipe). Nothing is downloaded: --root is the CGN
release on disk (the directory holding data/). A finished run leaves <out_dir>/.cgn_<lang>.done
with its options; the same options again do nothing, other options need --force.

Example: ``python -m espnet_ext.bin.prepare_cgn --root /corpora/CGN_2.0.3 --out_dir data
--components a b f g h i j k l o --regions vl``
"""

import argparse
import re
from typing import List, Optional

from espnet_ext.bin import run_main
from espnet_ext.data.corpora.cgn_recipe import prepare_cgn_recipe


def _letters(values: Optional[List[str]]) -> Optional[List[str]]:
    # "a b f", "a,b,f" and a b f (separate arguments) all mean the same components.
    if values is None:
        return None
    return [v for value in values for v in re.split(r"[,\s]+", value) if v]


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", required=True,
                        help="the CGN release on local disk (the directory holding data/)")
    parser.add_argument("--out_dir", required=True, help="the recipe's data dir, e.g. data")
    parser.add_argument("--lang", default="nl", help="language code of the dir names and text")
    parser.add_argument("--regions", nargs="+", default=["vl"],
                        help="vl (Flanders), nl (the Netherlands), or both")
    parser.add_argument("--components", nargs="+", default=None,
                        help="component letters a-o, space- or comma-separated (default: all "
                             "present)")
    parser.add_argument("--max_hours", type=float, default=None,
                        help="keep at most this much CGN speech (seeded choice of recordings)")
    parser.add_argument("--text_ratio", type=float, default=0.1,
                        help="share of the train speakers' duration held out as text only")
    parser.add_argument("--dev_max_hours", type=float, default=None,
                        help="cap of dev_<lang> (pre-training validation runs every epoch)")
    parser.add_argument("--dev_ratio", type=float, default=0.1,
                        help="share of the duration in the dev speakers")
    parser.add_argument("--test_ratio", type=float, default=0.1,
                        help="share of the duration in the test speakers")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--nj", type=int, default=2, help="processes cutting audio")
    parser.add_argument("--force", action="store_true",
                        help="rebuild even if a run with other options finished")
    return parser


def main() -> None:
    args = get_parser().parse_args()
    prepare_cgn_recipe(
        args.root, args.out_dir, lang=args.lang, regions=_letters(args.regions),
        components=_letters(args.components), max_hours=args.max_hours,
        text_ratio=args.text_ratio, dev_max_hours=args.dev_max_hours,
        dev_ratio=args.dev_ratio, test_ratio=args.test_ratio, nj=args.nj, seed=args.seed,
        force=args.force)


if __name__ == "__main__":
    run_main(main)
