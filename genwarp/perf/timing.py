"""Wall-clock timing with device synchronisation, and latency summaries."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch


def synchronize(device: torch.device | str) -> None:
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile, ``q`` in [0, 1]."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


@dataclass
class Latency:
    """Seconds per call: the first (warm-up, incl. compilation/capture) call, then the median /
    90th percentile / mean / min over ``repeats`` calls after ``warmup`` calls."""

    first_s: float
    median_s: float
    p90_s: float
    mean_s: float
    min_s: float
    repeats: int
    warmup: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def time_calls(fn: Callable[[], Any], device: torch.device | str, repeats: int = 10, warmup: int = 2) -> Latency:
    """Time ``fn``: ``warmup`` untimed calls (the first is reported as ``first_s``), then
    ``repeats`` timed ones, each between device synchronisations."""
    if repeats < 1 or warmup < 1:
        raise ValueError("repeats and warmup must be ≥ 1 (the first call is always a warm-up)")
    times, first = [], 0.0
    for i in range(warmup + repeats):
        synchronize(device)
        start = time.perf_counter()
        fn()
        synchronize(device)
        elapsed = time.perf_counter() - start
        if i == 0:
            first = elapsed
        if i >= warmup:
            times.append(elapsed)
    return Latency(first_s=first, median_s=statistics.median(times), p90_s=percentile(times, 0.9),
                   mean_s=statistics.fmean(times), min_s=min(times), repeats=repeats, warmup=warmup)


def peak_memory_gb(device: torch.device | str) -> float | None:
    device = torch.device(device)
    return torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None


def reset_peak_memory(device: torch.device | str) -> None:
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


__all__ = ["Latency", "peak_memory_gb", "percentile", "reset_peak_memory", "synchronize", "time_calls"]
