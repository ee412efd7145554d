"""Training data as a deterministic, resumable stream.

Item ``i`` of :class:`TrainPairs` is a pure function of ``(seed, i)``: which scene (epoch-wise
shuffled, chunk-major so that chunked layouts read each chunk once per visit), which pair (a frame
gap window that may widen with ``i``) and the sample itself (``dataset.get_pair``, whose random
shim choices are seeded by the pair). The training loop feeds it with
:class:`ResumableBatchSampler`, whose position is just the number of micro-batches consumed, so a
resumed run draws exactly the batches an uninterrupted run would, without replaying anything, for
any number of workers. Ranks take interleaved micro-batches of one global sequence.
"""

from __future__ import annotations

import sys
import warnings
from collections import OrderedDict
from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from genwarp.data import DataError, PairDataset, SyntheticScenesDataset, stable_seed
from genwarp.data.samplers import sample_gap_pairs


class TrainPairs(Dataset):
    """Map-style view of a pair dataset for training (see the module docstring).

    Args:
        dataset: any :class:`PairDataset` (its ``get_pair`` is used; its own iteration is not).
        seed: base seed of the stream.
        min_gap, max_gap: frame-gap window (inclusive), both temporal directions.
        max_gap_final, widen_items: widen ``max_gap`` linearly to ``max_gap_final`` over the first
            ``widen_items`` items (``None``/0: fixed window).
        pairs_per_scene: consecutive items drawn from one scene.
        max_attempts: scenes/pairs tried for one item before giving up (missing or corrupt data
            is skipped and counted).
        limit: if > 0, item ``i`` is item ``i mod limit`` (overfitting a few fixed pairs).
        colour_gain: σ of a log-normal per-channel gain drawn per item and applied to its source and
            target alike (0: off). With ``channel_permute`` (a random channel order per item, the
            same for both views) the pair's colours can only be known from its source: a model
            cannot paint them from scene statistics, so it must learn to read them (docs/learning.md 8).
        channel_permute: see ``colour_gain``.
    """

    def __init__(
        self,
        dataset: PairDataset,
        *,
        seed: int = 0,
        min_gap: int = 1,
        max_gap: int = 10,
        max_gap_final: int | None = None,
        widen_items: int = 0,
        pairs_per_scene: int = 4,
        max_attempts: int = 16,
        limit: int = 0,
        colour_gain: float = 0.0,
        channel_permute: bool = False,
    ):
        if min_gap < 1 or max_gap < min_gap:
            raise ValueError(f"need 1 <= min_gap <= max_gap, got min_gap={min_gap}, max_gap={max_gap}")
        self.dataset = dataset
        self.seed = int(seed)
        self.min_gap, self.max_gap = int(min_gap), int(max_gap)
        self.max_gap_final = int(max_gap_final) if max_gap_final else self.max_gap
        self.widen_items = int(widen_items)
        self.pairs_per_scene = max(1, int(pairs_per_scene))
        self.max_attempts = int(max_attempts)
        self.limit = max(0, int(limit))
        if not colour_gain >= 0:
            raise ValueError(f"colour_gain must be >= 0, got {colour_gain}")
        self.colour_gain, self.channel_permute = float(colour_gain), bool(channel_permute)
        self.infinite = isinstance(dataset, SyntheticScenesDataset) and dataset.split == "train"
        self._groups: list[list[str]] | None = None
        self._orders: OrderedDict[int, list[str]] = OrderedDict()
        self.skipped = 0
        if not self.infinite:
            self._groups = self._scene_groups()
            if not any(self._groups):
                raise ValueError(f"{dataset!r} has no scenes to train on")

    def __len__(self) -> int:
        return sys.maxsize  # an endless stream; the batch sampler decides what is drawn

    # ------------------------------------------------------------------ scenes
    def _scene_groups(self) -> list[list[str]]:
        names = self.dataset.scene_names()
        chunk_of = getattr(self.dataset, "chunk_index", None)
        if callable(chunk_of):
            try:
                mapping = chunk_of()
            except Exception:  # raw layout: no chunks
                mapping = {}
            if mapping:
                groups: dict[str, list[str]] = {}
                for name in names:
                    groups.setdefault(str(mapping.get(name, name)), []).append(name)
                return [groups[k] for k in sorted(groups)]
        return [[name] for name in names]

    def _epoch_order(self, epoch: int) -> list[str]:
        if epoch not in self._orders:
            rng = np.random.default_rng(stable_seed(self.seed, "epoch", epoch))
            order = []
            for g in rng.permutation(len(self._groups)):
                group = self._groups[g]
                order.extend(group[k] for k in rng.permutation(len(group)))
            self._orders[epoch] = order
            while len(self._orders) > 2:
                self._orders.popitem(last=False)
        return self._orders[epoch]

    def scene_for_slot(self, slot: int) -> str:
        """The scene visited at scene slot ``slot`` (``pairs_per_scene`` items per slot)."""
        if self.infinite:
            return f"train_{slot}"
        n = sum(len(g) for g in self._groups)
        return self._epoch_order(slot // n)[slot % n]

    def gap_window(self, index: int) -> tuple[int, int]:
        if self.widen_items <= 0 or self.max_gap_final == self.max_gap:
            return self.min_gap, self.max_gap
        frac = min(1.0, index / self.widen_items)
        return self.min_gap, max(self.min_gap, round(self.max_gap + frac * (self.max_gap_final - self.max_gap)))

    # ------------------------------------------------------------------ items
    def __getitem__(self, index: int):
        if self.limit:
            index %= self.limit
        slot = index // self.pairs_per_scene
        rng = np.random.default_rng(stable_seed(self.seed, "item", index))
        lo, hi = self.gap_window(index)
        last_error: Exception | None = None
        for attempt in range(self.max_attempts):
            # Fall back to other scenes deterministically when a scene is unusable.
            scene = self.scene_for_slot(slot if attempt == 0 else int(rng.integers(0, 2**62)))
            try:
                pairs = sample_gap_pairs(self.dataset.frame_ids(scene), lo, hi, 1, True, rng)
                if not pairs:
                    raise DataError(f"scene {scene!r} has no frame pair with a gap in [{lo}, {hi}]")
                return self._recolour(self.dataset.get_pair(scene, *pairs[0]), rng)
            except DataError as err:
                last_error = err
                self.skipped += 1
                if self.skipped in (1, 10, 100, 1000) or self.skipped % 10000 == 0:
                    warnings.warn(f"training data: skipped {self.skipped} unusable pairs so far (last: {err})",
                                  stacklevel=2)
        raise RuntimeError(f"no usable training pair for item {index} after {self.max_attempts} attempts: {last_error}")

    def _recolour(self, item: dict, rng: np.random.Generator) -> dict:
        """The same random colour change on both views of a pair (see ``colour_gain``)."""
        if not self.colour_gain and not self.channel_permute:
            return item
        order = rng.permutation(3) if self.channel_permute else np.arange(3)
        gain = np.exp(rng.normal(0.0, self.colour_gain, 3)) if self.colour_gain else np.ones(3)
        gain_t = torch.tensor(gain, dtype=torch.float32).view(3, 1, 1)
        out = dict(item)
        for key in ("src_image", "tgt_image"):
            out[key] = (item[key][torch.as_tensor(order)] * gain_t.to(item[key].dtype)).clamp(0.0, 1.0)
        return out


class ResumableBatchSampler(Sampler[list[int]]):
    """Endless micro-batches of :class:`TrainPairs` indices for one rank, from a given position.

    Global micro-batch ``k`` holds items ``[k·B·W + r·B + j]`` for rank ``r`` of ``W``; this rank
    yields its part of micro-batches ``start, start + 1, …``.
    """

    def __init__(self, batch_size: int, start: int = 0, rank: int = 0, world_size: int = 1):
        self.batch_size, self.start, self.rank, self.world_size = int(batch_size), int(start), int(rank), int(world_size)

    def __iter__(self) -> Iterator[list[int]]:
        k = self.start
        while True:
            base = (k * self.world_size + self.rank) * self.batch_size
            yield list(range(base, base + self.batch_size))
            k += 1

    def __len__(self) -> int:
        return sys.maxsize


__all__ = ["ResumableBatchSampler", "TrainPairs"]
