"""ESPnet pre-encoders that bring a 10 or 20 ms input to the encoder's frame rate before its
``linear`` input layer, so that every upstream meets the same input layer.

- ``conv1d`` (``--encoder_input conv1d``, the recipe's default): frames stacked to half the
  encoder's rate, then ESPnet's two 1-D convolutions over time. A cheap learned front: ESPnet's
  ``conv2d`` input layer runs a 256-channel 2-D convolution over every frequency band (about 12M
  multiply-adds per 40 ms frame, against 0.5M here); fbank's CTC heads were 5-7 times faster
  per update through it and no less accurate (docs/results.md, "A cheap learned front").
  ESPnet has the same convolutions as the Transformer's ``conv1d2`` input layer, but the
  Conformer has no such layer, so they run here, for both.
- ``stack`` (``--encoder_input stack``): consecutive frames stacked, no convolution; 6-7 times
  cheaper per update than conv2d, but fbank loses 4-6 CER points on the offline sets
  (docs/results.md, "The same input layer for every system?").

Registered as ``--preencoder conv1d`` and ``--preencoder stack`` by
:func:`espnet_ext.asr.task.register_frontends`.
"""

from typing import Optional, Tuple

import torch
import torch.nn.functional as F

from espnet.nets.pytorch_backend.transformer.subsampling import Conv1dSubsampling2
from espnet2.asr.preencoder.abs_preencoder import AbsPreEncoder
from espnet_ext.errors import ConfigError


class StackPreEncoder(AbsPreEncoder):
    """Optional linear map per frame (as ESPnet's ``linear`` pre-encoder), then ``stack``
    consecutive frames concatenated into one (the last group zero-padded).

    Args:
        input_size: size of an input frame.
        stack: frames per output frame.
        output_size: size of each frame after the linear map; None = no map.
    """

    def __init__(self, input_size: int, stack: int, output_size: Optional[int] = None):
        super().__init__()
        if input_size < 1 or stack < 1 or (output_size is not None and output_size < 1):
            raise ConfigError(f"stack pre-encoder: input_size, stack and output_size must be "
                              f">= 1, got {input_size}, {stack}, {output_size}")
        self.stack = int(stack)
        self.linear = (torch.nn.Linear(input_size, output_size)
                       if output_size is not None else None)
        self.frame_size = int(output_size or input_size)

    def output_size(self) -> int:
        return self.stack * self.frame_size

    def forward(self, input: torch.Tensor, input_lengths: torch.Tensor
                ) -> Tuple[torch.Tensor, torch.Tensor]:
        x = self.linear(input) if self.linear is not None else input
        b, t, d = x.shape
        x = F.pad(x, (0, 0, 0, (-t) % self.stack))
        x = x.reshape(b, -1, self.stack * d)
        return x, torch.div(input_lengths + self.stack - 1, self.stack, rounding_mode="floor")


class Conv1dPreEncoder(StackPreEncoder):
    """:class:`StackPreEncoder` to half the encoder's frame rate, then ESPnet's
    ``Conv1dSubsampling2`` (a 3-wide convolution, then a 3-wide one with stride 2, ReLUs, a
    linear layer) to ``channels`` per frame at the encoder's rate.

    Args:
        input_size: size of an input frame.
        stack: frames stacked before the convolutions (half the subsampling factor).
        output_size: size of each frame after the optional linear map; None = no map.
        channels: the convolutions' channels, the pre-encoder's output size.
    """

    def __init__(self, input_size: int, stack: int, output_size: Optional[int] = None,
                 channels: int = 256):
        super().__init__(input_size, stack, output_size)
        if channels < 1:
            raise ConfigError(f"conv1d pre-encoder: channels must be >= 1, got {channels}")
        self.channels = int(channels)
        # positions are the encoder input layer's business: none here
        self.conv = Conv1dSubsampling2(super().output_size(), self.channels, 0.0,
                                       torch.nn.Identity())

    def output_size(self) -> int:
        return self.channels

    def forward(self, input: torch.Tensor, input_lengths: torch.Tensor
                ) -> Tuple[torch.Tensor, torch.Tensor]:
        x, lengths = super().forward(input, input_lengths)
        x, _ = self.conv(x, None)
        # Conv1dSubsampling2 keeps (T - 3) // 2 frames of T (kernel 3 and stride 1, then 2)
        return x, torch.clamp(torch.div(lengths - 3, 2, rounding_mode="floor"), min=0)
