"""ESPnet frontend for cached multi-layer upstream features: the learned softmax-weighted sum.

Registered as ``--frontend cached_layers`` by ``espnet_ext.bin.asr_train`` and
``espnet_ext.bin.asr_inference``. Its input is what ``espnet_ext.features.extract`` stored:
``(B, T, L*D)`` with layer ``l`` in columns ``[l*D, (l+1)*D)``; its output is s3prl
``Featurizer``'s weighted sum ``(B, T, D)``, computed with the same operations, so a cached
model equals an on-the-fly ``frontend: s3prl`` model (``multilayer_feature: true``) whose
upstream runs in eval mode.

Which on-the-fly path is the reference. ESPnet's ``S3prlFrontend`` (espnet 202511,
``espnet2/asr/frontend/s3prl.py``) calls ``upstream.eval()`` once in ``__init__``; "frozen"
means ``--freeze_param frontend.upstream`` (``requires_grad=False`` only). The Trainer calls
``model.train()`` every epoch, which puts the upstream back in train mode, so during training
its dropout is active (wav2vec2: ~35% relative difference from eval-mode features, measured)
and features change from epoch to epoch; only validation/decoding (``model.eval()``) sees
eval-mode features. We treat the eval-mode, batch-1 (no padding leakage) upstream as the
reference: it is what a frozen feature extractor means, it is what decoding sees anyway, and it
is what the cache stores. Equivalence with ESPnet's on-the-fly path therefore holds in eval mode
(tested in ``tests/features/test_cache.py``), not during its training steps. Note also that
``S3prlFrontend`` without ``multilayer_feature: true`` uses only the last layer.
"""

from typing import Tuple, Union

import torch
import torch.nn.functional as F

from espnet2.asr.frontend.abs_frontend import AbsFrontend
from espnet_ext.errors import ConfigError


class CachedLayersFrontend(AbsFrontend):
    """Learned softmax-weighted sum over ``num_layers`` cached hidden states of size ``layer_dim``.

    Args:
        num_layers: L, number of layers stored side by side in each cached frame.
        layer_dim: D, size of each layer's hidden state.
        normalize: layer-normalise each layer (no affine) before the sum, as s3prl's
            ``Featurizer(normalize=True)`` does.
        fs: accepted (and ignored) because ESPnet recipes pass ``--frontend_conf fs=16k`` to
            every frontend; the cache is already at the upstream's frame rate.
    """

    def __init__(self, num_layers: int, layer_dim: int, normalize: bool = False,
                 fs: Union[int, str] = 16000):
        super().__init__()
        if num_layers < 1 or layer_dim < 1:
            raise ConfigError(
                f"cached_layers frontend: num_layers and layer_dim must be >= 1, got "
                f"num_layers={num_layers} layer_dim={layer_dim}; take them from the cache's "
                "cache.json"
            )
        self.num_layers = int(num_layers)
        self.layer_dim = int(layer_dim)
        self.normalize = bool(normalize)
        # Same name and init as s3prl Featurizer.weights: zeros = uniform softmax.
        self.weights = torch.nn.Parameter(torch.zeros(self.num_layers))

    def output_size(self) -> int:
        return self.layer_dim

    def layer_weights(self) -> torch.Tensor:
        """Softmax-normalised layer weights (L,), e.g. for reports."""
        return F.softmax(self.weights.detach(), dim=-1)

    def forward(self, input: torch.Tensor, input_lengths: torch.Tensor
                ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Weighted sum of the cached layers.

        Args:
            input: (B, T, L*D) cached features (any float dtype; computed in float32).
            input_lengths: (B,) valid frames.

        Returns:
            (B, T, D) features and their (B,) lengths (unchanged).

        Raises:
            ConfigError: the last dimension is not num_layers * layer_dim.
        """
        b, t, ld = input.shape
        if ld != self.num_layers * self.layer_dim:
            raise ConfigError(
                f"cached_layers frontend: input feature dim {ld} != num_layers x layer_dim = "
                f"{self.num_layers} x {self.layer_dim}; set --frontend_conf num_layers/layer_dim "
                "from the cache's cache.json"
            )
        x = input.float()
        if self.num_layers == 1:
            # s3prl's Featurizer passes a single hidden state through untouched (no layer norm).
            return x, input_lengths
        # (B, T, L*D) -> (L, B, T, D): the layout Featurizer stacks its hidden states in.
        stacked = x.view(b, t, self.num_layers, self.layer_dim).permute(2, 0, 1, 3)
        if self.normalize:
            stacked = F.layer_norm(stacked, (self.layer_dim,))
        w = F.softmax(self.weights, dim=-1)
        out = (w.view(-1, 1) * stacked.reshape(self.num_layers, -1)).sum(dim=0)
        return out.view(b, t, self.layer_dim), input_lengths
