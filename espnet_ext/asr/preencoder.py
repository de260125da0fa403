"""ESPnet pre-encoder that stacks consecutive frames: a 10 or 20 ms input reaches the encoder's
``linear`` input layer at the encoder's frame rate (``--encoder_input stack``).

With it, every upstream meets the same input layer (a linear map of what it gives per encoder
frame) instead of a learned two-layer convolution for 10/20 ms inputs and a linear layer for 40
ms ones, and the 10 ms systems no longer pay for two 256-channel convolutions over every 10 ms
frame: 6-7 times cheaper per update, but fbank loses 4-6 CER points on the offline sets, so it
is an option, not the default (docs/results.md, "The same input layer for every system?").
Registered as ``--preencoder stack`` by :func:`espnet_ext.asr.task.register_frontends`.
"""

from typing import Optional, Tuple

import torch
import torch.nn.functional as F

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
