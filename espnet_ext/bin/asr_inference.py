"""ESPnet ASR decoding (same CLI as ``espnet2.bin.asr_inference``) with espnet_ext's frontends.

Adds ``--sets_file FILE`` (several test sets in one process), ``ctc_greedy: true`` in the decode
config (CTC best path) and weights-only model loading (:mod:`espnet_ext.asr.inference`).
"""

import sys

from espnet_ext.asr.inference import decode
from espnet_ext.bin import exit_on_user_error


def main() -> None:
    with exit_on_user_error():
        decode(sys.argv[1:])


if __name__ == "__main__":
    main()
