"""Build a char or BPE token list for one language from its training text."""

import argparse

from espnet_ext.bin import run_main
from espnet_ext.text.tokens import TOKEN_TYPES, build_token_list


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--text", required=True, help="Kaldi text file of the training set")
    parser.add_argument("--out_dir", required=True)
    parser.add_argument("--token_type", choices=TOKEN_TYPES, default="char")
    parser.add_argument("--nbpe", type=int, default=100)
    return parser


def main() -> None:
    args = get_parser().parse_args()
    build_token_list(args.text, args.out_dir, args.token_type, args.nbpe)


if __name__ == "__main__":
    run_main(main)
