"""Build the offline pre-training material: a text corpus from Debian packages and synthetic speech.

Steps (each skipped when its ``.done`` marker records the same options, unless ``--force``):
1. ``--text_out``: sentences of ``--lang`` from installed Debian packages, minus every sentence of
   the ``--exclude_text`` transcripts (``espnet_ext.text.corpus.build_text_corpus``).
2. ``--synth_hours`` > 0: espeak-ng speech for the first sentences of that text, as the data dir
   ``--out_dir`` with audio under ``--audio_dir``
   (``espnet_ext.data.corpora.synthetic.prepare_synthetic_speech``); ``--subset_hours`` then
   writes nested prefix subsets ``<out_dir>_<h>h`` (``subset_by_hours``).

Example:
    python -m espnet_ext.bin.prepare_pretrain_data --text_out data/pretrain_text_nl/text.txt \\
        --exclude_text data/dev_nl/text --exclude_text data/test_nl/text \\
        --synth_hours 2 --subset_hours 0.5 1 --out_dir data/pretrain_synth_nl \\
        --audio_dir downloads/synth_nl --nj 2
"""

import argparse
import logging
import time
from pathlib import Path

from espnet_ext.bin import run_main
from espnet_ext.errors import ConfigError


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lang", default="nl", help="ISO 639-1 language code")
    parser.add_argument("--text_out", type=Path, required=True,
                        help="text corpus file (built if needed; the input of synthesis)")
    parser.add_argument("--exclude_text", type=Path, action="append", default=[],
                        help="Kaldi text file whose sentences must not be used (repeatable)")
    parser.add_argument("--text_sources", nargs="*", default=None,
                        help="Debian packages to read (default: all known for --lang)")
    parser.add_argument("--max_sentences", type=int, default=None,
                        help="cap on corpus sentences after shuffling")
    parser.add_argument("--synth_hours", type=float, default=0.0,
                        help="hours of espeak-ng speech to synthesise (0: none)")
    parser.add_argument("--subset_hours", type=float, nargs="*", default=[],
                        help="nested prefix subsets of the synthetic set, e.g. 0.5 1")
    parser.add_argument("--voices", nargs="*", default=None,
                        help="espeak-ng voices lang+variant (default: 15 variants of --lang)")
    parser.add_argument("--out_dir", type=Path, help="synthetic speech data dir")
    parser.add_argument("--audio_dir", type=Path, help="where synthetic WAV files go")
    parser.add_argument("--nj", type=int, default=2, help="synthesis processes")
    parser.add_argument("--seed", type=int, default=0, help="shuffle/voice seed")
    parser.add_argument("--force", action="store_true", help="redo finished steps")
    return parser


def main() -> None:
    args = get_parser().parse_args()
    from espnet_ext.data.corpora.synthetic import prepare_synthetic_speech
    from espnet_ext.data.subset import subset_by_hours
    from espnet_ext.text.corpus import build_text_corpus

    log = logging.getLogger("espnet_ext")
    t0 = time.time()
    stats = build_text_corpus(
        args.text_out, lang=args.lang, sources=args.text_sources,
        exclude_text_files=args.exclude_text, max_sentences=args.max_sentences, seed=args.seed,
        force=args.force,
    )
    if not stats.skipped:
        for s in stats.sources:
            log.info("  %-22s %6d sentences (%d candidates, %d duplicates, %d excluded)",
                     s.package, s.kept, s.candidates, s.duplicates, s.excluded)
    log.info("text corpus %s: %d sentences (%.1f s)", args.text_out, stats.num_sentences,
             time.time() - t0)
    if args.synth_hours <= 0:
        if args.subset_hours:
            raise ConfigError("--subset_hours needs --synth_hours > 0")
        return
    if args.out_dir is None or args.audio_dir is None:
        raise ConfigError("--synth_hours needs --out_dir and --audio_dir")
    bad = [h for h in args.subset_hours if not 0 < h <= args.synth_hours]
    if bad:
        raise ConfigError(f"--subset_hours {bad}: each must be in (0, --synth_hours]")
    t1 = time.time()
    prepare_synthetic_speech(
        args.text_out, args.out_dir, args.audio_dir, lang=args.lang, hours=args.synth_hours,
        voices=args.voices, seed=args.seed, nj=args.nj, force=args.force,
    )
    log.info("synthetic speech %s done (%.1f s)", args.out_dir, time.time() - t1)
    for h in args.subset_hours:
        sub = args.out_dir.with_name(f"{args.out_dir.name}_{h:g}h")
        subset_by_hours(args.out_dir, sub, h, force=args.force)


if __name__ == "__main__":
    run_main(main)
