"""Phones of each utterance's transcript and of an unpaired corpus sentence (joint model data).

    python -m espnet_ext.bin.prepare_phones --data_dir data/pretrain_nl \\
        --corpus data/pretrain_text_nl/sentences.txt --token_list data/token_list/nl_phones/tokens.txt
"""

import argparse
from pathlib import Path

from espnet_ext.bin import run_main


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_dir", type=Path, required=True, action="append",
                        help="speech data dir with transcripts (repeatable)")
    parser.add_argument("--corpus", type=Path, required=True, help="text corpus, one sentence per line")
    parser.add_argument("--token_list", type=Path, default=None,
                        help="phone token list to write (from the first --data_dir)")
    parser.add_argument("--durations", type=Path, default=None,
                        help="also write espeak-ng's phone durations (JSON, 10 ms frames) here")
    parser.add_argument("--lang", default="nl")
    parser.add_argument("--mode", default="ipa", choices=["ipa", "grapheme"])
    parser.add_argument("--seed", type=int, default=1)
    return parser


def main() -> None:
    args = get_parser().parse_args()
    from espnet_ext.pretrain.text_data import measure_phone_durations, prepare_phone_data

    for i, data_dir in enumerate(args.data_dir):
        prepare_phone_data(data_dir, args.corpus, args.lang, args.mode, args.seed,
                           token_list=args.token_list if i == 0 else None)
    if args.durations is not None:
        measure_phone_durations(args.corpus, args.durations, args.lang, args.seed)


if __name__ == "__main__":
    run_main(main)
