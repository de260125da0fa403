"""Split Kaldi scp files into N contiguous parts for parallel jobs (PREFIX.1.scp ... PREFIX.N.scp).

Usage: split_keys --num_splits N SCP PREFIX [SCP PREFIX ...]
"""

import argparse

from espnet_ext.bin import run_main
from espnet_ext.data.kaldi import read_kaldi_map
from espnet_ext.errors import DataDirError
from espnet_ext.fileio import atomic_write_text


def split_scp(scp: str, prefix: str, num_splits: int) -> None:
    """Write ``prefix.<i>.scp`` for i in 1..num_splits; parts differ in size by at most one line."""
    entries = list(read_kaldi_map(scp).items())
    if len(entries) < num_splits:
        raise DataDirError(f"{scp}: {len(entries)} entries cannot be split into {num_splits} parts")
    base, extra = divmod(len(entries), num_splits)
    start = 0
    for i in range(num_splits):
        end = start + base + (1 if i < extra else 0)
        atomic_write_text(f"{prefix}.{i + 1}.scp", "".join(f"{k} {v}\n" for k, v in entries[start:end]))
        start = end


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--num_splits", type=int, required=True)
    parser.add_argument("pairs", nargs="+", help="SCP PREFIX pairs")
    args = parser.parse_args()
    if len(args.pairs) % 2:
        parser.error("expected SCP PREFIX pairs")
    for scp, prefix in zip(args.pairs[::2], args.pairs[1::2]):
        split_scp(scp, prefix, args.num_splits)


if __name__ == "__main__":
    run_main(main)
