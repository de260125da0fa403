"""wav2vec 2.0 pre-training: masked contrastive prediction of quantised latent speech units.

Reused: the network, masking, Gumbel quantiser and negative sampling of s3prl's
``Wav2Vec2Model`` (a faithful copy of fairseq's, with its pre-training forward), so the trained
weights load unchanged in s3prl's ``wav2vec2_local`` upstream and our ``xling_wav2vec2`` hub
entry. Written here: the criterion (fairseq's ``wav2vec`` criterion: InfoNCE over the
distractors plus the codebook-diversity and feature-penalty terms) and the ESPnet model
interface. ``transformers``' ``Wav2Vec2ForPreTraining`` was the other candidate; it measured
~40% slower than ESPnet's HuBERT on this CPU (measured) and would need a format conversion at
export, so s3prl's copy is used.
"""

import copy
from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F

from espnet_ext.pretrain.base import PretrainModel

# A small model that trains on 2 CPU cores; conf/pretrain/*_base.yaml overrides it to BASE size.
TINY_MODEL = {
    "extractor_mode": "default",
    "conv_feature_layers": "[(128, 10, 5)] + [(128, 3, 2)] * 4 + [(128, 2, 2)] * 2",
    "encoder_layers": 4, "encoder_embed_dim": 256, "encoder_ffn_embed_dim": 1024,
    "encoder_attention_heads": 4, "final_dim": 128, "latent_vars": 64, "latent_groups": 2,
    "latent_temp": [2.0, 0.5, 0.999995], "num_negatives": 50, "mask_prob": 0.65,
    "mask_length": 10, "dropout": 0.1, "attention_dropout": 0.1, "activation_dropout": 0.0,
    "dropout_input": 0.1, "dropout_features": 0.1, "feature_grad_mult": 0.1,
    "layer_norm_first": False, "conv_pos": 64, "conv_pos_groups": 16,
    "quantize_targets": True, "encoder_layerdrop": 0.0,
}


class Wav2Vec2PretrainModel(PretrainModel):
    """wav2vec 2.0 with fairseq's pre-training loss.

    Args:
        model: ``Wav2Vec2Config`` fields (fairseq names) over :data:`TINY_MODEL`.
        normalize: zero-mean unit-variance per utterance before the CNN (fairseq's
            ``task.normalize``; True for LARGE-style models with ``layer_norm_first``).
        diversity_weight: weight of the codebook-diversity loss (fairseq: 0.1).
        feature_pen_weight: weight of the L2 penalty on CNN features (fairseq: 10).
    """

    def __init__(self, model: Optional[Dict] = None, normalize: bool = False,
                 diversity_weight: float = 0.1, feature_pen_weight: float = 10.0):
        super().__init__()
        from s3prl.upstream.wav2vec2.wav2vec2_model import Wav2Vec2Config, Wav2Vec2Model

        self.model_cfg = {**TINY_MODEL, **(model or {})}
        unknown = sorted(set(self.model_cfg) - set(Wav2Vec2Config.__dataclass_fields__))
        if unknown:
            raise ValueError(f"unknown wav2vec2 model options {unknown}; valid: "
                             f"{sorted(Wav2Vec2Config.__dataclass_fields__)}")
        self.normalize = normalize
        self.diversity_weight = diversity_weight
        self.feature_pen_weight = feature_pen_weight
        self.wav2vec2 = Wav2Vec2Model(Wav2Vec2Config(**self.model_cfg))
        if self.wav2vec2.post_extract_proj is not None:
            # Under autocast the projection returns bf16/fp16, and fairseq's masking then writes
            # the fp32 mask embedding into it (index_put refuses mixed dtypes). fairseq itself
            # trains with model.half(), not autocast; keeping this one output fp32 is enough.
            self.wav2vec2.post_extract_proj.register_forward_hook(
                lambda module, inputs, output: output.float())
        # Updates so far: drives the Gumbel temperature schedule and survives resume (it is a
        # buffer, hence in the checkpoint), as fairseq's set_num_updates does.
        self.register_buffer("num_updates", torch.zeros((), dtype=torch.long))

    def _prepare(self, speech: torch.Tensor, speech_lengths: torch.Tensor
                 ) -> Tuple[torch.Tensor, torch.Tensor]:
        lengths = speech_lengths.to(speech.device)
        padding_mask = torch.arange(speech.size(1), device=speech.device)[None, :] >= lengths[:, None]
        speech = speech.float().masked_fill(padding_mask, 0.0)
        if self.normalize:  # over real samples only, as s3prl's upstream does per utterance
            n = lengths.clamp(min=1).unsqueeze(1).float()
            mean = speech.sum(1, keepdim=True) / n
            var = ((speech - mean).masked_fill(padding_mask, 0.0) ** 2).sum(1, keepdim=True) / n
            speech = ((speech - mean) / (var + 1e-5).sqrt()).masked_fill(padding_mask, 0.0)
        return speech, padding_mask

    def forward(self, speech: torch.Tensor, speech_lengths: torch.Tensor, **kwargs
                ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor], torch.Tensor]:
        if self.training:
            self.num_updates += 1
            if self.wav2vec2.quantizer is not None:
                self.wav2vec2.quantizer.set_num_updates(int(self.num_updates))
        source, padding_mask = self._prepare(speech, speech_lengths)
        out = self.wav2vec2(source, padding_mask=padding_mask if padding_mask.any() else None)
        logits = self.wav2vec2.get_logits(out).float()  # (masked frames, 1 + negatives)
        # Column 0 is the true quantised target; fairseq sets logits of negatives equal to the
        # target to -inf already (compute_preds).
        target = logits.new_zeros(logits.size(0), dtype=torch.long)
        contrastive = F.cross_entropy(logits, target)
        loss = contrastive
        stats = {"loss_contrastive": contrastive.detach()}
        if "prob_perplexity" in out:
            diversity = (out["num_vars"] - out["prob_perplexity"]) / out["num_vars"]
            loss = loss + self.diversity_weight * diversity
            stats["loss_diversity"] = diversity.detach()
            stats["code_perplexity"] = out["code_perplexity"].detach()
        loss = loss + self.feature_pen_weight * out["features_pen"]
        stats["loss_feature_pen"] = out["features_pen"].detach()
        with torch.no_grad():
            stats["acc"] = (logits.argmax(-1) == 0).float().mean()
        stats["loss"] = loss.detach()
        batch_size = torch.tensor(speech.size(0), device=speech.device)
        return loss, stats, batch_size

    def export_state(self) -> Dict:
        """The checkpoint s3prl's ``wav2vec2_local`` upstream reads."""
        return {"task_cfg": {"sample_rate": 16000, "normalize": self.normalize},
                "model_cfg": copy.deepcopy(self.model_cfg),
                "model_weight": {k: v.detach().cpu()
                                 for k, v in self.wav2vec2.state_dict().items()}}
