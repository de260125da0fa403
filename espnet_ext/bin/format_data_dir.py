"""Copy a data dir with its audio converted to 16 kHz mono WAV (segments cut, pipes run)."""

import argparse

from espnet_ext.bin import run_main
from espnet_ext.data.format import format_data_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("src", help="source data dir (only read)")
    parser.add_argument("dst", help="new data dir")
    parser.add_argument("--audio_dir", default=None, help="where WAV files go (default dst/wav)")
    parser.add_argument("--lang", default="", help="language code for utt2lang if src has none")
    args = parser.parse_args()
    format_data_dir(args.src, args.dst, args.audio_dir, args.lang)


if __name__ == "__main__":
    run_main(main)
