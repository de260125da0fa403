"""CTC best-path decoding, shared by the recipe's greedy decoding (``ctc_greedy: true``) and the
phone recognition probe."""

from typing import Iterable, List


def ctc_best_path(logp, blank: int = 0, drop: Iterable[int] = ()) -> List[int]:
    """Token ids of the best path of one utterance's (T, V) CTC scores: the most likely token of
    each frame, repeats merged, then ``blank`` and ``drop`` ids removed (so a blank between two
    equal tokens keeps both)."""
    import torch

    removed = {blank, *drop}
    return [int(i) for i in torch.unique_consecutive(logp.argmax(dim=-1)) if int(i) not in removed]
