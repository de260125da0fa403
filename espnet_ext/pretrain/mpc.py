"""Masked prediction on log-mel with random-projection targets (``mpc``), and its text arms.

The speech objective is BEST-RQ's (Chiu et al. 2022): spans of the log-mel input are replaced
by noise, and the encoder predicts, for every masked frame, the codeword that a *frozen* random
projection and a *frozen* random codebook assign to the clean input around that frame (several
codebooks: several cross-entropies). No learned quantiser and no negatives, so the loss is
informative from the first update (chance is ln(codebook_size)) and a step is one Transformer
pass: the family that learns within a CPU budget, where wav2vec 2.0 did not.

Reused: s3prl's Mockingjay/TERA ``TransformerModel`` (pre-LN option, sinusoidal positions) and
its kaldi feature extracter; 10 ms log-mel frames are stacked ``input_stack`` at a time (40 ms in
the shipped configs, as BEST-RQ), which s3prl's mockingjay expert cannot do, so exports run in
our small expert (:mod:`espnet_ext.upstream.mpc_expert`, the ``xling_mpc`` hub entry): s3prl code
running our weights on the input this model trained on (exports with ``input_stack: 1`` also
load with s3prl's ``tera_local``). Written here: the masking, the quantiser, the losses and the
text branch.

Text arms (one class, so the audio-only twin is exactly this model with text weights 0):

- ``paired_weight``: CTC from the top layer of the masked speech pass onto the phones of the
  utterance's own transcript (no second speech pass);
- ``text_weight``: phones of unpaired Dutch sentences, each phone lasting a number of frames
  drawn from espeak-ng's own phoneme-event durations (``phone_durations``, measured by stage 2;
  a fixed 2-4 frames would make every phone 20-40 ms, half a real one), span-masked, through the
  *same* Transformer layers with their own input embedding; masked-phone cross-entropy.

Every speech module and buffer is created before any text module and the speech pass runs
first, so with both text weights 0 the initialisation, random numbers and gradients of the
speech model are those of the audio-only model (tested).
"""

import copy
import json
import math
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pad_sequence

from espnet_ext.pretrain.base import PretrainModel
from espnet_ext.pretrain.joint import BLANK, UNK, read_phone_list
from espnet_ext.upstream.mpc_expert import encoder_input, run_encoder, valid_and_positions

# s3prl extracter config (upstream/baseline/extracter.py): 80 log-mel, 25/10 ms, per-utterance
# mean/variance normalisation, no deltas. dither 0: the same audio gives the same features.
DEFAULT_AUDIO = {
    "kaldi": {"feat_type": "fbank",
              "fbank": {"num_mel_bins": 80, "frame_length": 25.0, "frame_shift": 10.0,
                        "dither": 0.0, "use_log_fbank": True}},
    "delta": {"order": 0},
    "cmvn": {"use_cmvn": True},
}
# s3prl TransformerConfig fields; the tiny size of conf/pretrain/mpc_tiny.yaml.
DEFAULT_TRANSFORMER = {
    "hidden_size": 256, "num_hidden_layers": 4, "num_attention_heads": 4,
    "intermediate_size": 1024, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1, "initializer_range": 0.02, "layer_norm_eps": 1e-12,
    "share_layer": False, "pre_layer_norm": True,
}
def span_mask(lengths: torch.Tensor, max_len: int, prob: float, span: int) -> torch.Tensor:
    """(B, T) bool: about ``prob`` of each utterance's frames, in spans of ``span`` frames
    (starts drawn with probability ``prob / span``; at least one span per utterance)."""
    valid = torch.arange(max_len)[None, :] < lengths[:, None]
    starts = (torch.rand(len(lengths), max_len) < prob / span) & valid
    # every utterance gets a span: its first start, drawn uniformly, if none was drawn
    first = (torch.rand(len(lengths)) * (lengths - span + 1).clamp(min=1)).long()
    none = ~starts.any(dim=1)
    starts[none, first[none]] = True
    # frame t is masked when a span starts in [t - span + 1, t]
    padded = F.pad(starts[:, None].float(), (span - 1, 0))
    return (F.max_pool1d(padded, span, stride=1)[:, 0] > 0) & valid


def read_phone_durations(durations: Union[Dict, str, None]) -> Dict[str, List[int]]:
    """``{phone: [frames, ...]}`` given as a dict or a JSON file (stage 2 writes it)."""
    if durations is None:
        return {}
    if isinstance(durations, (str, Path)):
        durations = json.loads(Path(durations).read_text(encoding="utf-8"))
    table = {str(p): [int(d) for d in ds] for p, ds in dict(durations).items()}
    if any(not ds or min(ds) < 1 for ds in table.values()):
        raise ValueError("phone_durations: every phone needs a non-empty list of frame counts >= 1")
    return table


class MPCPretrainModel(PretrainModel):
    """Masked prediction of random-projection codes on log-mel; optional text arms.

    Args:
        audio: s3prl extracter config (``kaldi``, ``delta``, ``cmvn``) over :data:`DEFAULT_AUDIO`.
        transformer: s3prl ``TransformerConfig`` fields over :data:`DEFAULT_TRANSFORMER`.
        mask_prob: share of frames masked, in spans of ``mask_span`` frames.
        input_stack: 10 ms log-mel frames per encoder frame (4: the encoder runs at 40 ms).
            ``mask_span``, ``target_stack``, ``text_mask_span`` and ``text_max_frames`` count
            encoder frames.
        noise_std: masked input frames are N(0, noise_std) (features are CMVN-normalised).
        num_codebooks / codebook_size / codebook_dim: the frozen random quantisers.
        target_stack: encoder frames per target (the codes of frame t quantise the input
            frames t..t+k-1).
        recon_weight: weight of an L1 reconstruction of the masked input frames (TERA's
            target) beside the codes; 0 = codes only. A dense target that keeps acoustic detail
            in the upper layers, as APC's does.
        phone_list: phone tokens (``<blank>`` first, ``<unk>`` in it); needed by the text arms.
        phone_durations: ``{phone: [10 ms frames]}`` or its JSON file; needed when
            ``text_weight > 0`` (converted to encoder frames, at least 1).
        text_weight / paired_weight: weights of the masked-phone and paired CTC losses.
        text_mask_prob / text_mask_span: span masking of the phone frames.
        text_frame_share: the text pass gets at most this many frames per frame of the batch's
            speech (unpaired sentences in turn, the last one cropped to a random window): it
            bounds the joint model's cost per update, whatever the batch holds.
        text_max_frames: unpaired sentences are cut to this many frames.
    """

    def __init__(self, audio: Optional[Dict] = None, transformer: Optional[Dict] = None,
                 input_stack: int = 1,
                 mask_prob: float = 0.4, mask_span: int = 10, noise_std: float = 0.1,
                 num_codebooks: int = 4, codebook_size: int = 512, codebook_dim: int = 16,
                 target_stack: int = 4, recon_weight: float = 0.0,
                 phone_list: Union[List[str], str, None] = None,
                 phone_durations: Union[Dict, str, None] = None,
                 text_weight: float = 0.0, paired_weight: float = 0.0,
                 text_mask_prob: float = 0.4, text_mask_span: int = 10,
                 text_frame_share: float = 1.0, text_max_frames: int = 1500):
        super().__init__()
        from s3prl.upstream.baseline.extracter import get_extracter
        from s3prl.upstream.mockingjay.model import TransformerConfig, TransformerModel

        if not 0 < mask_prob < 1 or mask_span < 1:
            raise ValueError(f"mask_prob must be in (0, 1) and mask_span >= 1, got "
                             f"{mask_prob}, {mask_span}")
        if min(num_codebooks, codebook_size, codebook_dim, target_stack, input_stack) < 1:
            raise ValueError("num_codebooks, codebook_size, codebook_dim, target_stack and "
                             "input_stack must be >= 1")
        if text_weight < 0 or paired_weight < 0 or recon_weight < 0:
            raise ValueError("text_weight, paired_weight and recon_weight must be >= 0")
        if text_frame_share <= 0:
            raise ValueError(f"text_frame_share must be > 0, got {text_frame_share}")
        self.audio = _merge(DEFAULT_AUDIO, audio or {})
        self.transformer_conf = {**DEFAULT_TRANSFORMER, **(transformer or {})}
        self.mask_prob, self.mask_span, self.noise_std = mask_prob, mask_span, noise_std
        self.target_stack, self.input_stack = target_stack, input_stack
        if self.frame_shift_ms != 10.0:
            raise ValueError(f"audio frame_shift must be 10 ms (s3prl's mockingjay expert reports "
                             f"160 samples per frame), got {self.frame_shift_ms}")
        # create_transform-style helpers mutate their argument: give them a copy.
        self.extracter, mel_dim, _ = get_extracter(copy.deepcopy(self.audio))
        self.feat_dim = feat_dim = mel_dim * input_stack
        config = TransformerConfig(self.transformer_conf)
        dim = config.hidden_size
        self.encoder = TransformerModel(config, feat_dim)
        # Frozen random quantisers (buffers: saved, never trained), drawn from the seeded RNG
        # right after the encoder.
        proj = torch.empty(num_codebooks, feat_dim * target_stack, codebook_dim)
        for p in proj:
            torch.nn.init.xavier_normal_(p)
        self.register_buffer("projections", proj)
        self.register_buffer(
            "codebooks", F.normalize(torch.randn(num_codebooks, codebook_size, codebook_dim), dim=-1))
        self.num_codebooks, self.codebook_size = num_codebooks, codebook_size
        self.head = torch.nn.Linear(dim, num_codebooks * codebook_size)
        self.recon_weight = recon_weight
        if recon_weight > 0:
            self.recon_head = torch.nn.Linear(dim, feat_dim)

        # --- text arms: created after every speech module ---
        self.text_weight, self.paired_weight = text_weight, paired_weight
        self.text_mask_prob, self.text_mask_span = text_mask_prob, text_mask_span
        self.text_frame_share, self.text_max_frames = text_frame_share, text_max_frames
        self.phone_list = read_phone_list(phone_list) if phone_list is not None else []
        if (text_weight > 0 or paired_weight > 0) and not self.phone_list:
            raise ValueError("text_weight/paired_weight > 0 need model_conf.phone_list")
        if self.phone_list and (self.phone_list[0] != BLANK or UNK not in self.phone_list):
            raise ValueError(f"phone_list must start with {BLANK!r} and contain {UNK!r}")
        self.phone_durations = read_phone_durations(phone_durations)
        if text_weight > 0 and not self.phone_durations:
            raise ValueError("text_weight > 0 needs model_conf.phone_durations (stage 2 "
                             "measures them from espeak-ng's phoneme events)")
        if self.phone_list:
            n = len(self.phone_list)
            self.text_embed = torch.nn.Embedding(n, dim)
            self.text_norm = torch.nn.LayerNorm(dim)
            self.text_mask_emb = torch.nn.Parameter(torch.empty(dim).normal_(std=0.02))
            self.text_head = torch.nn.Linear(dim, n)
            self.ctc_head = torch.nn.Linear(dim, n)
            # Durations as a padded table: row = phone id, the last row = every phone pooled
            # (phones espeak-ng never timed draw from it).
            pooled = [d for ds in self.phone_durations.values() for d in ds] or [1]
            rows = [self.phone_durations.get(p, pooled) for p in self.phone_list] + [pooled]
            # 10 ms frames -> encoder frames (at least one per phone)
            rows = [[max(1, round(d / input_stack)) for d in r] for r in rows]
            width = max(len(r) for r in rows)
            table = torch.tensor([r + [0] * (width - len(r)) for r in rows], dtype=torch.long)
            self.register_buffer("duration_table", table, persistent=False)
            self.register_buffer("duration_counts", torch.tensor([len(r) for r in rows]),
                                 persistent=False)

    # --- speech ---------------------------------------------------------------------------

    def features(self, speech: torch.Tensor, speech_lengths: torch.Tensor
                 ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Per-utterance log-mel (+CMVN), stacked: the input the exported expert computes."""
        x, lengths = encoder_input(self.extracter, [s[:int(n)] for s, n in
                                                    zip(speech, speech_lengths)],
                                   self.input_stack)
        return x.to(speech.device), lengths

    def targets(self, feats: torch.Tensor) -> torch.Tensor:
        """(B, T, num_codebooks) codeword ids of the clean input (frames t..t+k-1 stacked)."""
        k = self.target_stack
        stacked = F.pad(feats, (0, 0, 0, k - 1)).unfold(1, k, 1)          # (B, T, D, k)
        stacked = stacked.transpose(2, 3).reshape(feats.size(0), feats.size(1), -1)
        projected = F.normalize(torch.einsum("btd,cde->btce", stacked, self.projections), dim=-1)
        return torch.einsum("btce,cve->btcv", projected, self.codebooks).argmax(-1)

    def encode(self, x: torch.Tensor, lengths: torch.Tensor, embedded: bool = False,
               all_layers: bool = False):
        """The Transformer on input features (or, ``embedded``, on already embedded frames)."""
        if not embedded:
            return run_encoder(self.encoder, x, lengths, all_layers)
        valid, positions = valid_and_positions(x, lengths, self.encoder.config.hidden_size)
        extended = (1.0 - valid[:, None, None, :]) * -10000.0  # as TransformerModel.forward
        layers = self.encoder.encoder(x + positions, extended, output_all_encoded_layers=all_layers,
                                      head_mask=[None] * len(self.encoder.encoder.layer))
        return layers if all_layers else layers[-1]

    def masked_prediction(self, speech: torch.Tensor, speech_lengths: torch.Tensor):
        """Returns (code loss, code accuracy, L1 reconstruction loss or None, top-layer output,
        frame lengths)."""
        feats, lengths = self.features(speech, speech_lengths)
        targets = self.targets(feats)
        mask = span_mask(lengths, feats.size(1), self.mask_prob, self.mask_span).to(feats.device)
        noise = torch.randn_like(feats) * self.noise_std
        hidden = self.encode(torch.where(mask[..., None], noise, feats), lengths)
        logits = self.head(hidden[mask]).view(-1, self.num_codebooks, self.codebook_size)
        wanted = targets[mask]                                               # (M, C)
        loss = F.cross_entropy(logits.float().transpose(1, 2), wanted)
        acc = (logits.argmax(-1) == wanted).float().mean()
        recon = None
        if self.recon_weight > 0:
            recon = F.l1_loss(self.recon_head(hidden[mask]).float(), feats[mask].float())
        return loss, acc, recon, hidden, lengths

    # --- text -----------------------------------------------------------------------------

    def draw_durations(self, phones: torch.Tensor) -> torch.Tensor:
        """A frame count per phone id, drawn from that phone's espeak-ng durations."""
        rows = torch.where(phones >= 0, phones, torch.full_like(phones, len(self.phone_list)))
        counts = self.duration_counts[rows]
        pick = (torch.rand(phones.shape, device=phones.device) * counts).long()
        return self.duration_table[rows, pick.clamp(max=self.duration_table.size(1) - 1)]

    def masked_phone_loss(self, phones: torch.Tensor, phone_lengths: torch.Tensor,
                          budget: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """Masked-phone cross-entropy of the text branch on at most ``budget`` frames of the
        sentences (in turn; the last one cropped to a random window); (loss, accuracy on masked
        frames)."""
        frames = []
        for ids, n in zip(phones, phone_lengths):
            if frames and budget < 2 * self.text_mask_span:
                break  # a sliver of a sentence would be one masked span: not worth a row
            ids = ids[:int(n)]
            f = ids.repeat_interleave(self.draw_durations(ids))[:self.text_max_frames]
            if len(f) > budget:
                start = int(torch.randint(len(f) - budget + 1, ()))
                f = f[start:start + budget]
            frames.append(f)
            budget -= len(f)
        lengths = torch.tensor([len(f) for f in frames])
        ids = pad_sequence(frames, batch_first=True, padding_value=0)
        mask = span_mask(lengths, ids.size(1), self.text_mask_prob, self.text_mask_span
                         ).to(ids.device)
        x = self.text_norm(self.text_embed(ids))
        x = torch.where(mask[..., None], self.text_mask_emb.to(x.dtype), x)
        hidden = self.encode(x, lengths, embedded=True)
        logits = self.text_head(hidden[mask]).float()
        loss = F.cross_entropy(logits, ids[mask])
        return loss, (logits.argmax(-1) == ids[mask]).float().mean()

    def paired_ctc_loss(self, hidden: torch.Tensor, frame_lengths: torch.Tensor,
                        phones: torch.Tensor, phone_lengths: torch.Tensor) -> torch.Tensor:
        log_probs = self.ctc_head(hidden).float().log_softmax(-1).transpose(0, 1)
        return F.ctc_loss(log_probs, phones.clamp(min=0), frame_lengths.to(hidden.device),
                          phone_lengths, blank=0, reduction="mean", zero_infinity=True)

    def forward(self, speech: torch.Tensor, speech_lengths: torch.Tensor,
                text: Optional[torch.Tensor] = None, text_lengths: Optional[torch.Tensor] = None,
                unpaired: Optional[torch.Tensor] = None,
                unpaired_lengths: Optional[torch.Tensor] = None, **kwargs
                ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor], torch.Tensor]:
        loss, acc, recon, hidden, frame_lengths = self.masked_prediction(speech, speech_lengths)
        stats = {"loss_mpc": loss.detach(), "acc_mpc": acc.detach()}
        if recon is not None:
            loss = loss + self.recon_weight * recon
            stats["loss_recon"] = recon.detach()
        if self.paired_weight > 0:
            if text is None:
                raise ValueError("paired_weight > 0 needs the 'text' (phones) data field")
            ctc = self.paired_ctc_loss(hidden, frame_lengths, text, text_lengths)
            loss = loss + self.paired_weight * ctc
            stats["loss_paired_ctc"] = ctc.detach()
        if self.text_weight > 0:
            if unpaired is None:
                raise ValueError("text_weight > 0 needs the 'unpaired' (phones) data field")
            budget = max(1, math.ceil(self.text_frame_share * int(frame_lengths.sum())))
            mlm, text_acc = self.masked_phone_loss(unpaired, unpaired_lengths, budget)
            loss = loss + self.text_weight * mlm
            stats["loss_text_mlm"], stats["acc_text_mlm"] = mlm.detach(), text_acc.detach()
        stats["loss"] = loss.detach()
        return loss, stats, torch.tensor(speech.size(0), device=speech.device)

    # --- export ---------------------------------------------------------------------------

    def upstream_config(self) -> Dict:
        """The config s3prl's mockingjay builder reads (``transformer``, ``audio``, ``task``)."""
        return {"transformer": dict(self.transformer_conf), "audio": copy.deepcopy(self.audio),
                "task": {"sequence_length": 0}, "input_stack": self.input_stack}

    def export_state(self) -> Dict:
        """The checkpoint our expert reads (and, with ``input_stack: 1``, s3prl's
        mockingjay/TERA expert): the speech encoder only."""
        return {"Config": self.upstream_config(),
                "Transformer": {k: v.detach().cpu() for k, v in self.encoder.state_dict().items()}}

    def export_info(self) -> Dict:
        return {"text_weight": self.text_weight, "paired_weight": self.paired_weight,
                "audio_only_twin": self.text_weight == 0 and self.paired_weight == 0,
                "num_phones": len(self.phone_list),
                "frame_shift_ms": self.frame_shift_ms * self.input_stack,
                "chance_loss_mpc": float(torch.log(torch.tensor(float(self.codebook_size))))}

    @property
    def frame_shift_ms(self) -> float:
        """The log-mel hop (an encoder frame is ``input_stack`` of them)."""
        return float(self.audio["kaldi"][self.audio["kaldi"]["feat_type"]].get("frame_shift", 10.0))


def _merge(base: Dict, over: Dict) -> Dict:
    """``base`` updated by ``over``, nested mappings merged key by key."""
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out
