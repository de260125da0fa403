"""Build the offline labelled corpus (train/dev/test per language) from installed Debian packages.

Example: ``python -m espnet_ext.bin.prepare_offline_corpus --out_root . --languages "nl cs es"``
"""

import argparse

from espnet_ext.bin import run_main
from espnet_ext.data.corpora import asterisk, festvox_ru, fillets
from espnet_ext.data.corpora.offline import DEFAULT_LANGUAGES, prepare_offline_corpus


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--out_root", required=True, help="recipe dir; writes <out_root>/<data_dir>")
    parser.add_argument("--data_dir", default="data", help="name of the data dir root")
    parser.add_argument("--languages", default=" ".join(DEFAULT_LANGUAGES),
                        help="space- or comma-separated language codes")
    parser.add_argument("--seed", type=int, default=777, help="split/subsampling seed")
    parser.add_argument("--dev_ratio", type=float, default=0.1)
    parser.add_argument("--test_ratio", type=float, default=0.1)
    parser.add_argument("--max_utts_per_lang", type=int, default=None,
                        help="keep at most this many utterances per language (fast/CI runs)")
    parser.add_argument("--nj", type=int, default=2, help="audio conversion processes")
    parser.add_argument("--force", action="store_true",
                        help="rebuild even if a run with other options finished")
    parser.add_argument("--game_dir", default=fillets.DEFAULT_GAME_DIR,
                        help="Fish Fillets NG data (fillets-ng-data, -nl, -cs)")
    parser.add_argument("--asterisk_sounds_dir", default=asterisk.DEFAULT_SOUNDS_DIR,
                        help="Asterisk prompts (asterisk-core-sounds-<lang>-wav)")
    parser.add_argument("--doc_dir", default=asterisk.DEFAULT_DOC_DIR,
                        help="/usr/share/doc: Asterisk transcripts and copyright files")
    parser.add_argument("--festvox_dir", default=festvox_ru.DEFAULT_VOICE_DIR,
                        help="festvox-ru voice dir")
    return parser


def main() -> None:
    args = get_parser().parse_args()
    prepare_offline_corpus(
        out_root=args.out_root,
        languages=args.languages.replace(",", " ").split(),
        data_dir=args.data_dir,
        seed=args.seed,
        dev_ratio=args.dev_ratio,
        test_ratio=args.test_ratio,
        max_utts_per_lang=args.max_utts_per_lang,
        nj=args.nj,
        force=args.force,
        game_dir=args.game_dir,
        asterisk_sounds_dir=args.asterisk_sounds_dir,
        doc_dir=args.doc_dir,
        festvox_dir=args.festvox_dir,
    )


if __name__ == "__main__":
    run_main(main)
