"""Linear phone-separability probe of every layer of one or more upstreams, on one language.

Synthesises ``--num_utts`` sentences of ``--text`` with espeak-ng (exact phone timings; cached
in ``--synth_dir``, which several upstreams can share), runs the upstream over them, trains a
multinomial logistic regression per layer on 70% of the utterances and scores it on the rest.
Writes ``<out_dir>/probe.json`` and then ``<out_dir>/.done``; a rerun with the same inputs does
nothing. Several ``--upstream U --out_dir D`` pairs probe each upstream in turn in one process
(the imports cost more than a small probe). See ``espnet_ext/analysis/probe.py`` for the method.

Example::

    python -m espnet_ext.bin.phone_probe --upstream exp/upstreams/xling_apc_tiny_2h.yaml \\
        --lang cs --text data/test_cs/text --num_utts 60 --synth_dir exp/probe/synth_cs \\
        --out_dir exp/probe/xling_apc_tiny_2h/cs
"""

import argparse

from espnet_ext.analysis.probe import SILENCE_MODES, ProbeOptions, phone_probe
from espnet_ext.bin import run_main, upstream_out_dirs


def get_parser() -> argparse.ArgumentParser:
    d = ProbeOptions()
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--upstream", required=True, action="append",
                        help="conf/upstream name (e.g. fbank, wav2vec2_base) or upstream YAML "
                             "(repeatable, one --out_dir each)")
    parser.add_argument("--lang", required=True, help="ISO 639-1 code of the sentences")
    parser.add_argument("--text", required=True, help="Kaldi text file (utt transcript)")
    parser.add_argument("--out_dir", required=True, action="append",
                        help="where probe.json goes (one per --upstream, in the same order)")
    parser.add_argument("--num_utts", type=int, default=60,
                        help="sentences to synthesise (first after a seeded shuffle)")
    parser.add_argument("--voice", action="append", default=None,
                        help="espeak-ng voice, e.g. nl or nl+f2 (repeatable or comma-separated; "
                             "each utterance gets one, seeded); default: --lang")
    parser.add_argument("--synth_dir", default=None,
                        help="probe-set directory, shareable between upstreams "
                             "(default: <out_dir>/synth)")
    parser.add_argument("--seed", type=int, default=d.seed,
                        help="seeds sentence choice, voices and the utterance split")
    parser.add_argument("--train_fraction", type=float, default=d.train_fraction)
    parser.add_argument("--min_count", type=int, default=d.min_count,
                        help="drop phones with less training speech than this many 10 ms")
    parser.add_argument("--silence", choices=SILENCE_MODES, default=d.silence,
                        help="drop pause frames, or label them 'sil'")
    parser.add_argument("--C", type=float, default=d.C,
                        help="inverse L2 strength (sklearn LogisticRegression's C)")
    parser.add_argument("--max_iter", type=int, default=d.max_iter, help="lbfgs iterations at most")
    parser.add_argument("--device", default=d.device, help="torch device of the upstream (cpu, cuda)")
    parser.add_argument("--force", action="store_true",
                        help="probe again even if .done matches (the probe set is reused)")
    return parser


def main() -> None:
    parser = get_parser()
    args = parser.parse_args()
    pairs = upstream_out_dirs(parser, args)
    voices = [v for arg in (args.voice or []) for v in arg.split(",") if v] or None
    options = ProbeOptions(seed=args.seed, train_fraction=args.train_fraction,
                           min_count=args.min_count, silence=args.silence, C=args.C,
                           max_iter=args.max_iter, device=args.device)
    for upstream, out_dir in pairs:
        result = phone_probe(upstream, args.lang, args.text, out_dir, num_utts=args.num_utts,
                             voices=voices, synth_dir=args.synth_dir, options=options,
                             force=args.force)
        print(result, flush=True)


if __name__ == "__main__":
    run_main(main)
