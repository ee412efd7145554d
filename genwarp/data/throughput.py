"""Throughput of a pair dataset (what ``scripts/benchmark.py`` reports)."""

from __future__ import annotations

import itertools
import os
import platform
import time
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset

__all__ = ["measure_pairs_per_second"]


def measure_pairs_per_second(
    dataset: Dataset | IterableDataset,
    num_pairs: int,
    num_workers: int = 0,
    *,
    batch_size: int | None = 16,
    warmup_pairs: int | None = None,
) -> dict[str, Any]:
    """Draw ``num_pairs`` samples through a ``DataLoader`` and time it.

    The loader uses the default collate function with batches of ``batch_size`` (16 by default,
    as training consumes the data: workers collate, so one batch crosses the process boundary
    instead of 16 samples; ``num_pairs`` is rounded up to whole batches); ``batch_size=None``
    draws single samples without collation. Finite
    datasets are cycled. ``warmup_pairs`` (default: ``max(2 × workers, 4)`` batches worth) are
    drawn first, untimed, so worker start-up and first-scene costs are excluded.

    Returns a dict with ``pairs_per_second``, ``seconds``, ``num_pairs`` (timed), ``num_workers``,
    ``batch_size``, ``resolution`` (H, W of the first sample), ``torch_threads`` and ``cpus``.
    """
    if num_pairs <= 0:
        raise ValueError("num_pairs must be positive")
    per_item = 1 if batch_size is None else int(batch_size)
    n_items = -(-num_pairs // per_item)
    warm_items = (
        max(2 * num_workers, 4) if warmup_pairs is None else -(-int(warmup_pairs) // per_item)
    )
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        num_workers=num_workers,
        persistent_workers=False,
        prefetch_factor=4 if num_workers > 0 else None,
    )

    def stream():
        while True:
            got = False
            for item in loader:
                got = True
                yield item
            if not got:
                raise RuntimeError("the dataset yielded no sample")

    it = stream()
    first = None
    for item in itertools.islice(it, warm_items):
        first = first or item
    t0 = time.perf_counter()
    count = 0
    for item in itertools.islice(it, n_items):
        first = first or item
        count += per_item
    seconds = time.perf_counter() - t0
    del it
    img = first["src_image"] if first is not None else None
    resolution = tuple(int(s) for s in img.shape[-2:]) if img is not None else None
    return {
        "pairs_per_second": count / seconds if seconds > 0 else float("inf"),
        "seconds": seconds,
        "num_pairs": count,
        "num_workers": num_workers,
        "batch_size": batch_size,
        "resolution": resolution,
        "torch_threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
    }
