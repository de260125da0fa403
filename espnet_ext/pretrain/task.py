"""ESPnet task for our self-supervised pre-training: audio in, a self-supervised loss out.

Reusing ESPnet's ``AbsTask`` gives the pre-training stage the same machinery as ESPnet's own
``asr_train``/``ssl_train``: YAML configs, ``--resume`` from ``checkpoint.pth``, ``--ngpu``/DDP/
multi-node via ``espnet2.bin.launch``, ``--accum_grad``, ``--use_amp``, tensorboard, validation
loss, ``--seed`` (re-seeded every epoch), n-best checkpoint averaging. A task only says which
model to build and how to batch the data.

    python -m espnet_ext.bin.pretrain_train --config conf/pretrain/apc_tiny.yaml \\
        --train_data_path_and_name_and_type data/pretrain_nl_1h/wav.scp,speech,sound ...
"""

import argparse
from typing import Callable, Collection, Dict, List, Optional, Tuple

import numpy as np
import torch
from espnet2.tasks.abs_task import AbsTask
from espnet2.train.class_choices import ClassChoices
from espnet2.train.collate_fn import CommonCollateFn

from espnet_ext.pretrain.base import PretrainModel
from espnet_ext.pretrain.families import (
    ALWAYS,
    DEFAULT_FAMILY,
    FAMILIES,
    WEIGHTED,
    family,
    model_class,
)
from espnet_ext.pretrain.joint import UNK, read_phone_list
from espnet_ext.pretrain.mpc import read_phone_durations
from espnet_ext.trainer import CrashSafeTrainer

# --model name -> training model, from the one table of pre-training families
METHODS = {name: model_class(name) for name in FAMILIES}

model_choices = ClassChoices(
    "model",
    classes=METHODS,
    type_check=PretrainModel,
    default=DEFAULT_FAMILY,
)


class PretrainTask(AbsTask):
    num_optimizers: int = 1
    class_choices_list = [model_choices]
    trainer = CrashSafeTrainer

    @classmethod
    def add_task_arguments(cls, parser: argparse.ArgumentParser):
        group = parser.add_argument_group(description="Task related")
        # AbsTask.main reads args.token_list / args.init when present; we have neither tokens
        # nor a second stage, but keep --init so a model can start from another's weights.
        group.add_argument("--init", type=lambda x: None if x in ("none", "None") else x,
                           default=None, help="parameter initialization method")
        group.add_argument("--input_size", type=int, default=None, help="unused (audio in)")
        group = parser.add_argument_group(description="Preprocess related")
        group.add_argument("--use_preprocessor", type=bool, default=False,
                           help="ignored (ESPnet compatibility): the joint model always maps "
                                "its phone fields to ids, the others read audio only")
        for class_choices in cls.class_choices_list:
            class_choices.add_arguments(group)

    @classmethod
    def build_collate_fn(cls, args: argparse.Namespace, train: bool
                         ) -> Callable[[Collection[Tuple[str, Dict[str, np.ndarray]]]],
                                       Tuple[List[str], Dict[str, torch.Tensor]]]:
        return CommonCollateFn(float_pad_value=0.0, int_pad_value=-1)

    @classmethod
    def build_preprocess_fn(cls, args: argparse.Namespace, train: bool
                            ) -> Optional[Callable[[str, Dict[str, np.ndarray]],
                                                   Dict[str, np.ndarray]]]:
        if not _reads_phones(args):
            return None
        return PhonesToIds(_phone_list(args))

    @classmethod
    def required_data_names(cls, train: bool = True, inference: bool = False
                            ) -> Tuple[str, ...]:
        return ("speech",)

    @classmethod
    def optional_data_names(cls, train: bool = True, inference: bool = False
                            ) -> Tuple[str, ...]:
        # joint and text-arm mpc models: "text" = phones of the utterance (paired loss),
        # "unpaired" = phones of a text-corpus sentence (masked-phone loss); Kaldi-style
        # files "utt p1 p2 ...".
        return ("text", "unpaired")

    @classmethod
    def build_model(cls, args: argparse.Namespace) -> PretrainModel:
        if _reads_phones(args):
            # Store the phone list (and durations) themselves in config.yaml (portable, as
            # ESPnet does for token_list), not the paths they were read from.
            args.model_conf = {**args.model_conf, "phone_list": _phone_list(args)}
            if args.model_conf.get("phone_durations") is not None:
                args.model_conf["phone_durations"] = read_phone_durations(
                    args.model_conf["phone_durations"])
        model = model_choices.get_class(args.model)(**args.model_conf)
        if getattr(args, "init", None) is not None:
            from espnet2.torch_utils.initialize import initialize

            initialize(model, args.init)
        return model


def _reads_phones(args: argparse.Namespace) -> bool:
    """A family that always reads text (joint) reads phones; one whose text is optional (mpc)
    when it is given a phone list."""
    text = family(args.model).text
    return text == ALWAYS or (text == WEIGHTED
                              and bool((args.model_conf or {}).get("phone_list")))


def _phone_list(args: argparse.Namespace) -> List[str]:
    phones = read_phone_list(args.model_conf.get("phone_list") or [])
    if not phones:
        raise ValueError(f"the {args.model} model needs model_conf.phone_list (a list or a file)")
    return phones


class PhonesToIds:
    """ESPnet preprocess function: space-separated phone strings -> int64 id arrays."""

    def __init__(self, phone_list: List[str]):
        self.index = {p: i for i, p in enumerate(phone_list)}
        self.unk = self.index[UNK]

    def __call__(self, uid: str, data: Dict) -> Dict:
        for name in ("text", "unpaired"):
            if isinstance(data.get(name), str):
                data[name] = np.array([self.index.get(p, self.unk) for p in data[name].split()],
                                      dtype=np.int64)
        return data
