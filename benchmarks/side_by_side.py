"""Side-by-side timing shared by the benchmarks: alternating rounds, one warm-up step each."""

import time
from typing import Callable, Dict, Iterable, Tuple

import torch


def alternate_rounds(step: Callable[[str], None], names: Iterable[str], device: torch.device,
                     rounds: int, steps: int) -> Tuple[Dict[str, float], Dict[str, int]]:
    """Time ``step(name)`` for every name: one warm-up step each, then ``rounds`` rounds of
    ``steps`` steps per name in turn, so machine noise hits all of them alike.

    Returns:
        Total seconds per name, and peak GPU bytes allocated per name (empty on CPU).
    """
    names = list(names)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    for name in names:  # warm-up (allocator, kernels)
        step(name)
    sync()
    elapsed, peak = {name: 0.0 for name in names}, {}
    for _ in range(rounds):
        for name in names:
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats()
            sync()
            t0 = time.perf_counter()
            for _ in range(steps):
                step(name)
            sync()
            elapsed[name] += time.perf_counter() - t0
            if device.type == "cuda":
                peak[name] = max(peak.get(name, 0), torch.cuda.max_memory_allocated())
    return elapsed, peak
