"""Print, one per line, the ESPnet arguments that feed an upstream into asr_train/asr_inference.

  upstream_asr_args --upstream wav2vec2_base --cache_root dump/feats --train D --valid D \
      [--encoder_frame_ms 40]
  upstream_asr_args --upstream wav2vec2_base --cache_root dump/feats --test D1 [--test D2 ...]

With several --test, the two lines of each test set follow in the order given (one process for
all the test sets of a decoding job: each process pays the imports).
"""

import argparse
import contextlib
import sys

from espnet_ext.bin import run_main
from espnet_ext.errors import ConfigError
from espnet_ext.features.extract import DTYPES
from espnet_ext.upstream.config import load_upstream_config
from espnet_ext.upstream.espnet_args import (
    DEFAULT_ENCODER_FRAME_MS,
    decode_args,
    parse_encoder_frame_ms,
    train_args,
)


def _frame_ms(parser: argparse.ArgumentParser, value: str):
    try:
        return parse_encoder_frame_ms(value)
    except ConfigError as e:
        parser.error(str(e))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--upstream", required=True, help="conf/upstream name or YAML path")
    parser.add_argument("--cache_root", required=True, help="feature caches of this upstream")
    parser.add_argument("--dtype", default="float32", choices=DTYPES)
    parser.add_argument("--train", help="training data dir")
    parser.add_argument("--valid", help="validation data dir")
    parser.add_argument("--test", action="append", default=[],
                        help="data dir to decode (repeatable)")
    parser.add_argument("--encoder_frame_ms", default=str(DEFAULT_ENCODER_FRAME_MS),
                        help="frame rate every upstream reaches the encoder at (the input layer "
                             "is chosen from the upstream's frame shift); \"\" keeps the ASR "
                             "config's input_layer")
    args = parser.parse_args()
    if not args.test and not (args.train and args.valid):
        parser.error("give --train and --valid, or --test")
    # stdout carries only the arguments: imports of s3prl/espnet print notices there.
    with contextlib.redirect_stdout(sys.stderr):
        cfg = load_upstream_config(args.upstream)
        if args.test:
            out = [line for test in args.test
                   for line in decode_args(cfg, test, args.cache_root, args.dtype)]
        else:
            frame_ms = _frame_ms(parser, args.encoder_frame_ms)
            out = train_args(cfg, args.train, args.valid, args.cache_root, args.dtype, frame_ms)
    print("\n".join(out))


if __name__ == "__main__":
    run_main(main)
