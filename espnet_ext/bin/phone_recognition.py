"""Phone recognition on real speech: a linear CTC head on each upstream's frozen layers, trained
on espeak-ng phones of a language's training transcripts, PER on its test set (stage 9).

    python -m espnet_ext.bin.phone_recognition --lang es \\
        --train_dir data/train_es --test_dir data/test_es \\
        --upstream fbank --out_dir exp/phone_recognition/fbank/es \\
        --upstream exp/upstreams/xling_apc_tiny_2h.yaml \\
        --out_dir exp/phone_recognition/xling_apc_tiny_2h/es

One process reads every upstream in turn (imports cost more than a head's training).
"""

import argparse

from espnet_ext.bin import run_main, upstream_out_dirs


def get_parser() -> argparse.ArgumentParser:
    from espnet_ext.analysis.phone_recognition import PhoneRecognitionOptions

    d = PhoneRecognitionOptions()
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--upstream", required=True, action="append",
                        help="conf/upstream name, upstream YAML or fbank (repeat)")
    parser.add_argument("--out_dir", required=True, action="append",
                        help="result dir, one per --upstream, in the same order")
    parser.add_argument("--lang", required=True, help="ISO 639-1 code (espeak-ng voice)")
    parser.add_argument("--train_dir", required=True, help="Kaldi data dir the head trains on")
    parser.add_argument("--test_dir", required=True, help="Kaldi data dir scored (PER)")
    parser.add_argument("--max_train_utts", type=int, default=d.max_train_utts)
    parser.add_argument("--updates", type=int, default=d.updates)
    parser.add_argument("--batch_size", type=int, default=d.batch_size)
    parser.add_argument("--lr", type=float, default=d.lr)
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--device", default=d.device, help="torch device (cpu, cuda)")
    parser.add_argument("--force", action="store_true", help="redo finished results")
    return parser


def main() -> None:
    parser = get_parser()
    args = parser.parse_args()
    pairs = upstream_out_dirs(parser, args)
    from espnet_ext.analysis.phone_recognition import (
        PhoneRecognitionOptions,
        phone_recognition,
    )

    options = PhoneRecognitionOptions(
        max_train_utts=args.max_train_utts, updates=args.updates, batch_size=args.batch_size,
        lr=args.lr, seed=args.seed, device=args.device)
    for upstream, out_dir in pairs:
        print(phone_recognition(upstream, args.lang, args.train_dir, args.test_dir, out_dir,
                                options, force=args.force), flush=True)


if __name__ == "__main__":
    run_main(main)
