"""APC (autoregressive predictive coding) pre-training on log-mel filterbanks.

Reused: s3prl's ``APC`` network and its feature transform (``create_transform``), so the model we
train is, weight for weight, the one s3prl's ``apc_local`` upstream (and our ``xling_apc`` hub
entry) runs at inference, with identical features. Written here: the training objective (L1 on
the frame ``n_future`` steps ahead, as in the APC paper and s3prl's pre-train expert, but masked
to real frames: s3prl averages over padding too) and the ESPnet model interface.
"""

import copy
from typing import Dict, Optional, Tuple

import torch
from torch.nn.utils.rnn import pad_sequence

from espnet_ext.pretrain.base import PretrainModel

DEFAULT_AUDIO = {"feat_type": "fbank", "feat_dim": 80, "frame_length": 25, "frame_shift": 10,
                 "dither": 0.0, "cmvn": True}


class APCPretrainModel(PretrainModel):
    """APC: a stack of unidirectional GRUs predicts the log-mel frame ``n_future`` steps ahead.

    Args:
        audio: s3prl APC feature config (``feat_type: fbank``, ``feat_dim``, kaldi fbank
            options, ``cmvn``: per-utterance mean/variance normalisation).
        hidden_size: GRU width.
        num_layers: GRU layers; s3prl's APC upstream exposes 3 hidden states and needs 3.
        dropout: dropout on every GRU output.
        residual: residual connections between GRU layers.
        n_future: how many frames ahead to predict (3 in the APC paper's best setting).
    """

    def __init__(self, audio: Optional[Dict] = None, hidden_size: int = 256,
                 num_layers: int = 3, dropout: float = 0.1, residual: bool = True,
                 n_future: int = 3):
        super().__init__()
        from s3prl.upstream.apc.apc import APC
        from s3prl.upstream.apc.audio import create_transform

        if num_layers != 3:
            raise ValueError(f"num_layers must be 3 (s3prl's APC upstream reads 3 hidden "
                             f"states), got {num_layers}")
        if n_future < 1:
            raise ValueError(f"n_future must be >= 1, got {n_future}")
        self.audio = {**DEFAULT_AUDIO, **(audio or {})}
        self.paras = {"hidden_size": hidden_size, "num_layers": num_layers,
                      "dropout": dropout, "residual": residual}
        self.n_future = n_future
        # create_transform pops keys from its argument: give it a copy.
        self.transform, feat_dim = create_transform(copy.deepcopy(self.audio))
        self.apc = APC(feat_dim, **self.paras)

    def features(self, speech: torch.Tensor, speech_lengths: torch.Tensor
                 ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Per-utterance log-mel (+CMVN) exactly as the s3prl upstream computes it."""
        with torch.no_grad():
            feats = [self.transform(s[:int(n)].unsqueeze(0).float())
                     for s, n in zip(speech, speech_lengths)]
        lengths = torch.tensor([len(f) for f in feats], dtype=torch.long)
        return pad_sequence(feats, batch_first=True), lengths

    def forward(self, speech: torch.Tensor, speech_lengths: torch.Tensor, **kwargs
                ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor], torch.Tensor]:
        feats, lengths = self.features(speech, speech_lengths)
        feats = feats.to(speech.device)
        in_lengths = (lengths - self.n_future).clamp(min=1)
        predicted, _ = self.apc(feats[:, :-self.n_future], in_lengths, testing=False)
        target = feats[:, self.n_future:]
        steps = torch.arange(target.size(1))[None, :] < (lengths - self.n_future)[:, None]
        mask = steps.to(speech.device).unsqueeze(-1).to(target.dtype)
        denom = mask.sum().clamp(min=1.0) * target.size(-1)
        loss = ((predicted - target).abs() * mask).sum() / denom
        stats = {"loss": loss.detach()}
        batch_size = torch.tensor(speech.size(0), device=speech.device)
        return loss, stats, batch_size

    def export_state(self) -> Dict:
        """The checkpoint s3prl's APC upstream reads (``config`` + ``model``)."""
        return {"config": {"data": {"audio": copy.deepcopy(self.audio)},
                           "model": {"paras": dict(self.paras)}},
                "model": {k: v.detach().cpu() for k, v in self.apc.state_dict().items()}}
