"""Tiny randomly initialised checkpoints in each family's real on-disk format.

Each ``build_<family>(path)`` writes exactly what s3prl 0.4.18's ``<entry>_local`` loader reads
(see ``s3prl/upstream/<family>/expert.py`` / ``convert.py``) with a few thousand parameters, and
returns the number of hidden states and their size. Formats:

- apc: ``{"config": {"data": {"audio": ...}, "model": {"paras": ...}}, "model": state}``;
  the expert hooks ``rnn_layers[1]``/``[2]``, so exactly 3 GRU layers -> 3 hidden states.
- tera / mockingjay: s3prl pre-training runner's ``states-*.ckpt``: ``{"Upstream_Config":
  {"transformer", "audio", "task"}, "Transformer": state, "SpecHead", "Config", "Step",
  "Args": argparse.Namespace, ...}`` -> num_hidden_layers + 1 hidden states.
- cpc (modified CPC, libri-light layout): ``{"config": dict of CPC args, "weights": state}``
  -> 2 hidden states (encoder, autoregressive net).
- wav2vec / wav2vec2 / hubert: s3prl's *converted* fairseq checkpoints (what ``*_local`` reads
  without the ``fairseq`` option): ``{"task_cfg", "model_cfg", "model_weight"}`` plus
  ``"dictionaries_symbols"`` for HuBERT. wav2vec2/hubert -> encoder_layers + 1 hidden states.
"""

import argparse
from pathlib import Path
from typing import Callable, Dict, Tuple

import torch

Built = Tuple[int, int]  # (number of hidden states, hidden size)


def _seeded(seed: int = 0) -> None:
    torch.manual_seed(seed)


def build_apc(path: Path, dim: int = 8) -> Built:
    from s3prl.upstream.apc.apc import APC

    _seeded()
    audio = {"feat_type": "fbank", "feat_dim": 8, "frame_length": 25, "frame_shift": 10,
             "dither": 0, "cmvn": True}
    paras = {"num_layers": 3, "hidden_size": dim, "dropout": 0.1, "residual": True}
    model = APC(audio["feat_dim"], **paras)
    torch.save({"config": {"data": {"audio": audio}, "model": {"paras": paras}},
                "model": model.state_dict()}, path)
    return 3, dim


def _transformer_ckpt(path: Path, dim: int, layers: int, tera: bool) -> Built:
    from s3prl.upstream.mockingjay.model import TransformerConfig, TransformerModel

    _seeded()
    transformer = {
        "hidden_size": dim, "num_hidden_layers": layers, "num_attention_heads": 2,
        "intermediate_size": 2 * dim, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1, "initializer_range": 0.02, "layer_norm_eps": 1e-12,
        "share_layer": False, "pre_layer_norm": False,
    }
    # Online log-mel features as in s3prl's TERA/Mockingjay pre-training configs.
    audio = {"target_level": -25, "win_ms": 25, "hop_ms": 10, "n_freq": 201, "n_mels": 8,
             "n_mfcc": 13,
             "input": {"feat_type": "mel", "channel": 0, "log": True, "delta": 0, "cmvn": True},
             "target": {"feat_type": "mel", "channel": 0, "log": True, "delta": 0,
                        "cmvn": True}}
    upstream_config = {"transformer": transformer, "audio": audio,
                       "task": {"sequence_length": 0, "loss": "L1",
                                "position_encoding_size": dim}}
    model = TransformerModel(TransformerConfig(transformer), audio["n_mels"])
    torch.save({
        "Transformer": model.state_dict(),
        "SpecHead": {},
        "Upstream_Config": upstream_config,
        "Config": {"runner": {"total_steps": 1}},
        "Step": 1,
        "Optimizer": {},
        # s3prl's runner pickles its argparse namespace; it must stay loadable weights-only.
        "Args": argparse.Namespace(upstream="tera" if tera else "mockingjay", seed=1337),
    }, path)
    return layers + 1, dim


def build_tera(path: Path, dim: int = 8, layers: int = 2) -> Built:
    return _transformer_ckpt(path, dim, layers, tera=True)


def build_mockingjay(path: Path, dim: int = 8, layers: int = 2) -> Built:
    return _transformer_ckpt(path, dim, layers, tera=False)


def build_cpc(path: Path, dim: int = 8) -> Built:
    from s3prl.upstream.cpc.cpc_default_config import get_default_cpc_config
    from s3prl.upstream.cpc.feature_loader import getAR, getEncoder
    from s3prl.upstream.cpc.model import CPCModel

    _seeded()
    args = get_default_cpc_config()
    args.hiddenEncoder = dim
    args.hiddenGar = dim
    model = CPCModel(getEncoder(args), getAR(args))
    torch.save({"config": vars(args), "weights": model.state_dict(), "best": 0.0}, path)
    return 2, dim


def build_wav2vec(path: Path, dim: int = 8) -> Built:
    from s3prl.upstream.wav2vec.wav2vec_model import Wav2VecConfig, Wav2VecModel

    _seeded()
    model_cfg = {
        "infonce": True, "prediction_steps": 2, "num_negatives": 2,
        # total stride 5*4*8 = 160 samples, what the s3prl expert reports
        "conv_feature_layers": f"[({dim}, 10, 5), ({dim}, 8, 4), ({dim}, 8, 8)]",
        "conv_aggregator_layers": f"[({dim}, 2, 1), ({dim}, 3, 1)]",
        "skip_connections_agg": True, "residual_scale": 0.5, "log_compression": True,
    }
    model = Wav2VecModel(Wav2VecConfig(**model_cfg))
    torch.save({"task_cfg": {"sample_rate": 16000, "normalize": False},
                "model_cfg": model_cfg, "model_weight": model.state_dict()}, path)
    # feature_extractor + feature_aggregator + inputs of conv_layers[1:]
    return 3, dim


_CONV = "[({d}, 20, 10), ({d}, 64, 32)]"  # two conv layers, total stride 320 as in fairseq's


def _w2v2_model_cfg(dim: int, layers: int) -> Dict:
    return {
        "extractor_mode": "default", "conv_feature_layers": _CONV.format(d=dim),
        "encoder_layers": layers, "encoder_embed_dim": dim, "encoder_ffn_embed_dim": 2 * dim,
        "encoder_attention_heads": 2, "final_dim": dim, "conv_pos": 16, "conv_pos_groups": 2,
        "encoder_layerdrop": 0.0,
    }


def build_wav2vec2(path: Path, dim: int = 8, layers: int = 2) -> Built:
    from s3prl.upstream.wav2vec2.wav2vec2_model import Wav2Vec2Config, Wav2Vec2Model

    _seeded()
    model_cfg = {**_w2v2_model_cfg(dim, layers), "quantize_targets": True, "latent_vars": 4,
                 "latent_groups": 2}
    model = Wav2Vec2Model(Wav2Vec2Config(**model_cfg))
    torch.save({"task_cfg": {"sample_rate": 16000, "normalize": False},
                "model_cfg": model_cfg, "model_weight": model.state_dict()}, path)
    return layers + 1, dim


def build_hubert(path: Path, dim: int = 8, layers: int = 2) -> Built:
    from s3prl.upstream.hubert.hubert_model import (
        HubertConfig,
        HubertModel,
        HubertPretrainingConfig,
    )

    _seeded()
    model_cfg = {**_w2v2_model_cfg(dim, layers), "label_rate": 50}
    task_cfg = {"sample_rate": 16000, "normalize": False, "label_rate": 50,
                "labels": ["km"]}
    symbols = [["<s>", "<pad>", "</s>", "<unk>"] + [str(i) for i in range(4)]]
    model = HubertModel(HubertConfig(**model_cfg), HubertPretrainingConfig(
        **{k: v for k, v in task_cfg.items() if k != "labels"}), symbols)
    torch.save({"task_cfg": task_cfg, "model_cfg": model_cfg,
                "model_weight": model.state_dict(), "dictionaries_symbols": symbols}, path)
    return layers + 1, dim


# family -> (builder, s3prl entry)
BUILDERS: Dict[str, Tuple[Callable[[Path], Built], str]] = {
    "apc": (build_apc, "apc_local"),
    "tera": (build_tera, "tera_local"),
    "mockingjay": (build_mockingjay, "mockingjay_local"),
    "cpc": (build_cpc, "cpc_local"),
    "wav2vec": (build_wav2vec, "wav2vec_local"),
    "wav2vec2": (build_wav2vec2, "wav2vec2_local"),
    "hubert": (build_hubert, "hubert_local"),
}


class _Evil:
    """Unpickling this runs ``os.system`` (what a malicious checkpoint would do)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def build_malicious(path: Path, marker: Path) -> None:
    """An apc-format checkpoint that also pickles code creating ``marker`` when loaded."""
    build_apc(path)
    state = torch.load(path, weights_only=True)
    state["extra"] = _Evil(marker)
    torch.save(state, path)
