"""ESPnet ASR decoding (same CLI as ``espnet2.bin.asr_inference``) with espnet_ext's frontends.

The model is rebuilt from its ``config.yaml``, which may name ``frontend: cached_layers``, so the
frontend is registered before ESPnet reads that file.
"""

from typing import List, Optional

from espnet_ext.bin.asr_train import register_frontends


def main(cmd: Optional[List[str]] = None) -> None:
    register_frontends()
    from espnet2.bin.asr_inference import main as espnet_main

    espnet_main(cmd)


if __name__ == "__main__":
    main()
