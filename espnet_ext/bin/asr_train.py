"""ESPnet ASR training (same CLI as ``espnet2.bin.asr_train``) with espnet_ext's frontends.

Adds ``--frontend cached_layers`` and our pre-trained upstreams (``xling_*``) to ESPnet's ASR
task and trains with a crash-safe trainer (:mod:`espnet_ext.asr.task`).
"""

from espnet_ext.asr.task import train
from espnet_ext.bin import exit_on_user_error


def main() -> None:
    with exit_on_user_error():
        train()


if __name__ == "__main__":
    main()
