"""Throughput measurement shared by the quickstart and the benchmarks."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence


def sentences_per_second(
    encode: Callable[[Sequence[str]], object], texts: Sequence[str], repeats: int = 5, warmup: int = 1
) -> float:
    """Median sentences/s of `encode(texts)` over `repeats` timed runs after `warmup` untimed ones."""
    for _ in range(warmup):
        encode(texts)
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        encode(texts)
        timings.append(time.perf_counter() - start)
    return len(texts) / statistics.median(timings)
