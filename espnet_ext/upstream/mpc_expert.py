"""The s3prl ``UpstreamExpert`` of our masked-prediction (``mpc``) exports: s3prl's kaldi feature
extracter and its Mockingjay/TERA ``TransformerModel`` running our weights, on log-mel frames
stacked ``input_stack`` at a time.

s3prl's own mockingjay expert runs the same checkpoint format but reports a fixed downsample
rate of 160 samples and cannot stack frames, so an encoder at 20 or 40 ms (BEST-RQ's rate, and
4-16x less attention than at 10 ms: what lets pre-training finish on a CPU) needs this wrapper.
Exports with ``input_stack: 1`` still load with s3prl's ``tera_local``/``mockingjay_local`` and
give the same hidden states. The training model (:mod:`espnet_ext.pretrain.mpc`) computes its
input with :func:`stack_frames` and :func:`sinusoid_table` from here, so what pre-training
optimised is what the downstream sees.
"""

import copy
from typing import Dict, List, Tuple

import torch
import torch.nn.functional as F
from s3prl.upstream.interfaces import UpstreamBase
from torch.nn.utils.rnn import pad_sequence

SAMPLE_RATE = 16000
# s3prl's position table covers this many frames (mockingjay builder's MAX_SEQLEN).
MAX_FRAMES = 24000


def sinusoid_table(num_frames: int, dim: int) -> torch.Tensor:
    """The sinusoidal position table of s3prl's mockingjay builder, computed in torch (its own
    builds 24000 x dim entries in Python: seconds per process)."""
    pos = torch.arange(num_frames, dtype=torch.float64)[:, None]
    idx = torch.arange(dim, dtype=torch.float64)[None, :]
    angle = pos / torch.pow(10000.0, 2 * torch.div(idx, 2, rounding_mode="floor") / dim)
    table = angle.clone()
    table[:, 0::2] = torch.sin(angle[:, 0::2])
    table[:, 1::2] = torch.cos(angle[:, 1::2])
    return table.float()


def stack_frames(feats: torch.Tensor, k: int) -> torch.Tensor:
    """(T, D) -> (ceil(T / k), k * D): each row is ``k`` consecutive frames, the last group
    zero-padded (s3prl counts ceil(samples / rate) frames per utterance)."""
    if k == 1:
        return feats
    pad = -len(feats) % k
    return F.pad(feats, (0, 0, 0, pad)).reshape(-1, k * feats.size(1))


def encoder_input(extracter, wavs: List[torch.Tensor], k: int
                  ) -> Tuple[torch.Tensor, torch.Tensor]:
    """Per-utterance log-mel (+CMVN) of ``wavs``, stacked by ``k``, padded: (B, T, k*D), lengths."""
    with torch.no_grad():
        feats = [stack_frames(extracter(w.float()), k) for w in wavs]
    lengths = torch.tensor([len(f) for f in feats], dtype=torch.long)
    return pad_sequence(feats, batch_first=True), lengths


def valid_and_positions(x: torch.Tensor, lengths: torch.Tensor, dim: int
                        ) -> Tuple[torch.Tensor, torch.Tensor]:
    """(B, T) 1/0 mask of real frames, and the (T, dim) position rows this batch needs (s3prl's
    table has MAX_FRAMES rows; the values agree)."""
    valid = (torch.arange(x.size(1), device=x.device)[None, :]
             < lengths.to(x.device)[:, None]).to(x.dtype)
    return valid, sinusoid_table(x.size(1), dim).to(x)


def run_encoder(model, x: torch.Tensor, lengths: torch.Tensor, all_layers: bool = True):
    """s3prl's ``TransformerModel`` on a padded batch: the padding masked out of attention."""
    if x.size(1) > MAX_FRAMES:
        raise ValueError(f"an input of {x.size(1)} frames exceeds the {MAX_FRAMES} frames "
                         "s3prl's position table covers")
    valid, positions = valid_and_positions(x, lengths, model.config.hidden_size)
    return model(x, positions.expand(x.size(0), -1, -1), valid,
                 output_all_encoded_layers=all_layers)


class UpstreamExpert(UpstreamBase):
    """Reads a weights-only ``{"Config": {transformer, audio, input_stack}, "Transformer": state}``
    checkpoint (verified by the ``xling_mpc`` hub entry before it gets here)."""

    def __init__(self, ckpt: str, **kwargs):
        super().__init__(**kwargs)
        from s3prl.upstream.baseline.extracter import get_extracter
        from s3prl.upstream.mockingjay.model import TransformerConfig, TransformerModel

        state = torch.load(ckpt, map_location="cpu", weights_only=True)
        config = state["Config"]
        self.input_stack = int(config.get("input_stack", 1))
        # get_extracter mutates its argument: give it a copy
        self.extracter, feat_dim, _ = get_extracter(copy.deepcopy(config["audio"]))
        kaldi = config["audio"]["kaldi"]
        self.hop = int(round(SAMPLE_RATE * kaldi[kaldi["feat_type"]]["frame_shift"] / 1000))
        self.model = TransformerModel(TransformerConfig(config["transformer"]),
                                      feat_dim * self.input_stack)
        self.model.load_state_dict(state["Transformer"])

    def get_downsample_rates(self, key: str) -> int:
        return self.hop * self.input_stack

    def forward(self, wavs: List[torch.Tensor]) -> Dict:
        x, lengths = encoder_input(self.extracter, wavs, self.input_stack)
        layers = run_encoder(self.model, x.to(wavs[0].device), lengths)
        return {"last_hidden_state": layers[-1], "hidden_states": layers}
