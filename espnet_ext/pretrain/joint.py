"""Joint text-audio pre-training: one shared Transformer, a speech branch and a phone branch.

Design (after SLAM/mSLAM and Maestro: one encoder for both modalities, masked prediction on each,
a paired loss tying them; written here, their code was not used):

- **Speech branch** = our wav2vec 2.0 (:class:`~espnet_ext.pretrain.wav2vec2.Wav2Vec2PretrainModel`:
  CNN, masking, quantiser, contrastive + diversity loss), unchanged. It is built first and run
  first, so with every text weight at 0 the model, its initialisation, its random numbers and
  its gradients are exactly those of the audio-only model: that is the audio-only twin.
- **Text branch**: phones (espeak-ng IPA, :mod:`espnet_ext.text.phonemes`) -> embeddings ->
  upsampled to the speech frame rate by a *fixed* ``frames_per_phone`` (4 frames of 20 ms = 80 ms,
  about the mean Dutch phone duration; fixed rather than random or learned durations so the
  branch needs no aligner and stays deterministic) -> spans masked with a learned embedding ->
  the *same* Transformer encoder (its convolutional position embedding included) -> a linear
  head predicting the phone of every masked frame (masked-token cross-entropy).
- **Paired loss**: CTC from the speech branch's encoder output onto the utterance's phones
  (the paired Dutch set: every pre-training utterance has its transcript). It reuses the
  encoder output of the masked speech pass (masking as in wav2vec 2.0 fine-tuning), so it costs
  no second speech pass.

Loss = speech loss + ``text_weight`` x masked-phone loss + ``paired_weight`` x CTC.
Inference (the exported upstream) is the speech branch alone: the checkpoint is a wav2vec 2.0
checkpoint, read by s3prl's wav2vec2 expert through our ``xling_joint`` hub entry.
"""

import math
from typing import Dict, List, Optional, Tuple, Union

import torch
import torch.nn.functional as F

from espnet_ext.pretrain.base import PretrainModel
from espnet_ext.pretrain.wav2vec2 import Wav2Vec2PretrainModel

BLANK, UNK = "<blank>", "<unk>"


def read_phone_list(phone_list: Union[List[str], str]) -> List[str]:
    """A phone token list given as a list, or as a file with one phone per line."""
    if isinstance(phone_list, str):
        with open(phone_list, encoding="utf-8") as f:
            return [line.rstrip("\n") for line in f if line.strip()]
    return list(phone_list)


class JointPretrainModel(PretrainModel):
    """Speech (wav2vec 2.0) + phone branch through one encoder; text weights 0 = audio-only twin.

    Args:
        phone_list: token list; index 0 must be ``<blank>`` (CTC) and it must hold ``<unk>``.
        speech: keyword arguments of :class:`Wav2Vec2PretrainModel` (``model``, ``normalize``,
            ``diversity_weight``, ``feature_pen_weight``).
        text_weight: weight of the masked-phone loss on unpaired text (0: off).
        paired_weight: weight of the CTC loss on paired speech (0: off).
        frames_per_phone: fixed upsampling of phones to encoder frames.
        text_mask_prob / text_mask_length: span masking of the phone frames (wav2vec 2.0 style).
        text_batch_fraction: share of a batch's unpaired sentences that go through the encoder
            (the text pass costs about as much as the speech encoder per frame; this and
            ``frames_per_phone`` set the joint model's extra cost per step).
    """

    def __init__(self, phone_list: Union[List[str], str], speech: Optional[Dict] = None,
                 text_weight: float = 1.0, paired_weight: float = 1.0,
                 frames_per_phone: int = 4, text_mask_prob: float = 0.4,
                 text_mask_length: int = 8, text_batch_fraction: float = 1.0):
        super().__init__()
        phone_list = read_phone_list(phone_list)
        if not phone_list or phone_list[0] != BLANK or UNK not in phone_list:
            raise ValueError(f"phone_list must start with {BLANK!r} and contain {UNK!r}")
        if text_weight < 0 or paired_weight < 0 or frames_per_phone < 1:
            raise ValueError("text_weight and paired_weight must be >= 0, frames_per_phone >= 1")
        if not 0 < text_batch_fraction <= 1:
            raise ValueError(f"text_batch_fraction must be in (0, 1], got {text_batch_fraction}")
        # Speech first: everything the twin has is created before (and independent of) text.
        self.speech = Wav2Vec2PretrainModel(**(speech or {}))
        dim = self.speech.model_cfg["encoder_embed_dim"]
        self.phone_list = list(phone_list)
        self.text_weight, self.paired_weight = text_weight, paired_weight
        self.frames_per_phone = frames_per_phone
        self.text_mask_prob, self.text_mask_length = text_mask_prob, text_mask_length
        self.text_batch_fraction = text_batch_fraction
        self.text_embed = torch.nn.Embedding(len(phone_list), dim)
        self.text_norm = torch.nn.LayerNorm(dim)
        self.text_mask_emb = torch.nn.Parameter(torch.empty(dim).uniform_())
        self.text_head = torch.nn.Linear(dim, len(phone_list))
        self.ctc_head = torch.nn.Linear(dim, len(phone_list))
        self._capture = False
        self._encoder_out: Optional[torch.Tensor] = None
        self.speech.wav2vec2.encoder.register_forward_hook(self._keep_encoder_output)

    def _keep_encoder_output(self, module, inputs, output):
        # Only the speech pass's output, and only when the paired loss will use it.
        if self._capture:
            self._encoder_out = output[0]

    def masked_phone_loss(self, phones: torch.Tensor, phone_lengths: torch.Tensor
                          ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Masked-token loss of the text branch; returns (loss, accuracy on masked frames)."""
        from s3prl.upstream.wav2vec2.wav2vec2_model import compute_mask_indices

        r = self.frames_per_phone
        ids = phones.clamp(min=0).repeat_interleave(r, dim=1)  # (B, T*r); -1 padding -> 0
        lengths = phone_lengths * r
        pad = torch.arange(ids.size(1), device=ids.device)[None, :] >= lengths[:, None]
        x = self.text_norm(self.text_embed(ids))
        mask = torch.from_numpy(compute_mask_indices(
            (ids.size(0), ids.size(1)), pad.cpu(), self.text_mask_prob, self.text_mask_length,
            min_masks=1)).to(ids.device) & ~pad
        x = torch.where(mask.unsqueeze(-1), self.text_mask_emb.to(x.dtype), x)
        y, _ = self.speech.wav2vec2.encoder(x, padding_mask=pad if pad.any() else None)
        logits = self.text_head(y[mask]).float()
        loss = F.cross_entropy(logits, ids[mask])
        acc = (logits.argmax(-1) == ids[mask]).float().mean()
        return loss, acc

    def paired_ctc_loss(self, speech_lengths: torch.Tensor, phones: torch.Tensor,
                        phone_lengths: torch.Tensor) -> torch.Tensor:
        """CTC of the speech encoder output (kept by the hook) onto the utterance's phones."""
        enc = self._encoder_out
        self._encoder_out = None
        frames = self.speech.wav2vec2._get_feat_extract_output_lengths(speech_lengths)
        frames = frames.clamp(max=enc.size(1)).long()
        log_probs = self.ctc_head(enc).float().log_softmax(-1).transpose(0, 1)
        return F.ctc_loss(log_probs, phones.clamp(min=0), frames, phone_lengths,
                          blank=0, reduction="mean", zero_infinity=True)

    def forward(self, speech: torch.Tensor, speech_lengths: torch.Tensor,
                text: Optional[torch.Tensor] = None, text_lengths: Optional[torch.Tensor] = None,
                unpaired: Optional[torch.Tensor] = None,
                unpaired_lengths: Optional[torch.Tensor] = None, **kwargs
                ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor], torch.Tensor]:
        self._capture = self.paired_weight > 0
        try:
            loss, stats, weight = self.speech(speech, speech_lengths)
        finally:
            self._capture = False
        stats = {f"speech_{k}" if k == "loss" else k: v for k, v in stats.items()}
        if self.paired_weight > 0:
            if text is None:
                raise ValueError("paired_weight > 0 needs the 'text' (phones) data field")
            ctc = self.paired_ctc_loss(speech_lengths, text, text_lengths)
            loss = loss + self.paired_weight * ctc
            stats["loss_paired_ctc"] = ctc.detach()
        if self.text_weight > 0:
            if unpaired is None:
                raise ValueError("text_weight > 0 needs the 'unpaired' (phones) data field")
            n = max(1, math.ceil(self.text_batch_fraction * unpaired.size(0)))
            mlm, acc = self.masked_phone_loss(unpaired[:n], unpaired_lengths[:n])
            loss = loss + self.text_weight * mlm
            stats["loss_text_mlm"], stats["acc_text_mlm"] = mlm.detach(), acc.detach()
        stats["loss"] = loss.detach()
        return loss, stats, weight

    def export_state(self) -> Dict:
        """The speech branch as a wav2vec 2.0 checkpoint (inference takes audio only)."""
        return self.speech.export_state()

    def export_info(self) -> Dict:
        return {"text_weight": self.text_weight, "paired_weight": self.paired_weight,
                "audio_only_twin": self.text_weight == 0 and self.paired_weight == 0,
                "frames_per_phone": self.frames_per_phone, "num_phones": len(self.phone_list)}
