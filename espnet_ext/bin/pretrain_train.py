"""Self-supervised pre-training with ESPnet's trainer (same CLI as ``espnet2.bin.ssl_train``).

    python -m espnet_ext.bin.pretrain_train --config conf/pretrain/wav2vec2_tiny.yaml \\
        --train_data_path_and_name_and_type data/pretrain_nl_1h/wav.scp,speech,sound \\
        --valid_data_path_and_name_and_type data/dev_nl/wav.scp,speech,sound \\
        --train_shape_file exp/pretrain/stats/train/speech_shape ... --output_dir exp/pretrain/x

Run it through ``espnet2.bin.launch`` for multi-GPU / multi-node (the recipe's stage 3 does).
"""

from typing import List, Optional

from espnet_ext.bin import exit_on_user_error


def main(cmd: Optional[List[str]] = None) -> None:
    from espnet_ext.pretrain.task import PretrainTask

    with exit_on_user_error():
        PretrainTask.main(cmd=cmd)


if __name__ == "__main__":
    main()
