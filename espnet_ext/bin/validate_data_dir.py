"""Validate Kaldi-style data dirs; exits 2 naming the first bad file/utterance."""

import argparse

from espnet_ext.bin import run_main
from espnet_ext.data.validate import validate_data_dir


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("data_dirs", nargs="+", help="data directories to check")
    parser.add_argument("--no_audio", action="store_true", help="skip opening audio files")
    parser.add_argument("--no_text", action="store_true", help="unlabelled audio: no text file")
    parser.add_argument(
        "--sample_rate", type=int, default=16000, help="required sample rate (0: any)"
    )
    return parser


def main() -> None:
    args = get_parser().parse_args()
    for d in args.data_dirs:
        # validate_data_dir logs what it found (utterances, speakers, hours).
        validate_data_dir(
            d,
            check_audio=not args.no_audio,
            sample_rate=args.sample_rate or None,
            require_text=not args.no_text,
        )


if __name__ == "__main__":
    run_main(main)
