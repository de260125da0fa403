"""What every pre-training model has in common: ESPnet's model interface plus an export."""

from abc import abstractmethod
from typing import Dict

import torch
from espnet2.train.abs_espnet_model import AbsESPnetModel


class PretrainModel(AbsESPnetModel):
    """An ESPnet model whose ``forward(speech, speech_lengths)`` returns (loss, stats, weight)
    and that can write itself as an s3prl-loadable checkpoint (:meth:`export_state`)."""

    def collect_feats(self, speech: torch.Tensor, speech_lengths: torch.Tensor, **kwargs
                      ) -> Dict[str, torch.Tensor]:
        # Features are computed inside the model from raw audio: nothing for collect-stats.
        return {}

    @abstractmethod
    def export_state(self) -> Dict:
        """The checkpoint dict of the family's s3prl upstream (tensors and plain data only)."""

    def export_info(self) -> Dict:
        """Plain-data facts about this model recorded in the exported checkpoint's ``xling`` block."""
        return {}
