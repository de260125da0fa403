"""Prepare a local copy of a public corpus as data dirs <out_dir>/{train,dev,test}_<lang>.

Nothing is downloaded: --root is the corpus folder on disk (layouts in the docstrings of
espnet_ext/data/corpora/<corpus>.py). A finished run leaves <out_dir>/.corpus_<lang>.done with
its options; the same options again do nothing, other options need --force.

Example: ``python -m espnet_ext.bin.prepare_corpus --corpus common_voice
--root /corpora/cv-corpus-17.0-2024-03-15/nl --lang nl --out_dir data --max_utts 200``
"""

import argparse
from pathlib import Path
from typing import Callable, Dict

from espnet_ext.bin import run_main
from espnet_ext.data.corpora import common_voice, fleurs, kaldi_dirs, mls

# One entry per corpus. Each preparer is called with the keywords root, out_dir, lang,
# max_utts, seed, nj and force, and returns {split: data dir}.
CORPORA: Dict[str, Callable[..., Dict[str, Path]]] = {
    "common_voice": common_voice.prepare_common_voice,
    "fleurs": fleurs.prepare_fleurs,
    "kaldi": kaldi_dirs.prepare_kaldi_dirs,  # a new language from plain Kaldi data dirs
    "mls": mls.prepare_mls,
}


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--corpus", required=True, choices=sorted(CORPORA))
    parser.add_argument("--root", required=True,
                        help="the corpus folder on local disk (one language)")
    parser.add_argument("--lang", required=True,
                        help="language code: names the data dirs and selects the normaliser")
    parser.add_argument("--out_dir", required=True, help="data root, e.g. data")
    parser.add_argument("--max_utts", type=int, default=None,
                        help="at most this many utterances per split (seeded; fast runs)")
    parser.add_argument("--seed", type=int, default=777, help="seed of the max_utts subset")
    parser.add_argument("--nj", type=int, default=2, help="audio conversion processes")
    parser.add_argument("--force", action="store_true",
                        help="rebuild even if a run with other options finished")
    return parser


def main() -> None:
    args = get_parser().parse_args()
    CORPORA[args.corpus](root=args.root, out_dir=args.out_dir, lang=args.lang,
                         max_utts=args.max_utts, seed=args.seed, nj=args.nj, force=args.force)


if __name__ == "__main__":
    run_main(main)
