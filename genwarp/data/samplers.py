"""View samplers: which (source, target) frame pairs a dataset draws from a scene.

* :class:`RangeSampler` (training): pairs whose frame gap ``|tgt − src|`` lies in
  ``[min_gap, max_gap]``, optionally widening linearly to ``[final_min_gap, final_max_gap]`` over
  ``widen_steps`` training steps (call :meth:`RangeSampler.set_step`; the value lives in shared
  memory so DataLoader workers see it), in both temporal directions by default.
* :class:`IndexSampler` (evaluation): replays a frozen JSON index of
  ``{scene, src_index, tgt_index, range}`` entries (see :mod:`genwarp.data.eval_index`).

Frame gaps are measured in the dataset's frame indices (RealEstate10K camera-file rows, ScanNet
frame numbers, synthetic path steps); missing frames are simply absent from ``frame_ids``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = ["IndexSampler", "RangeSampler", "ViewSampler"]


class ViewSampler:
    """Interface. ``scene_pairs`` returns the pairs to draw from one scene (possibly none)."""

    def scene_pairs(
        self, scene: str, frame_ids: Sequence[int], rng: np.random.Generator
    ) -> list[tuple[int, int]]:
        raise NotImplementedError

    def scenes(self) -> list[str] | None:
        """Scenes this sampler is restricted to, in order (``None``: every scene)."""
        return None


class RangeSampler(ViewSampler):
    """Random pairs within a frame-gap window.

    Args:
        min_gap, max_gap: the gap window at step 0 (inclusive; ``min_gap >= 1``).
        pairs_per_scene: pairs drawn each time a scene is visited.
        both_directions: allow the target before the source (else ``tgt > src``).
        final_min_gap, final_max_gap: the window reached after ``widen_steps`` steps (a linear
            schedule, rounded); ``None`` keeps the initial window.
        widen_steps: length of the widening schedule in steps.
    """

    def __init__(
        self,
        min_gap: int = 1,
        max_gap: int = 10,
        *,
        pairs_per_scene: int = 1,
        both_directions: bool = True,
        final_min_gap: int | None = None,
        final_max_gap: int | None = None,
        widen_steps: int = 0,
    ):
        if min_gap < 1 or max_gap < min_gap:
            raise ValueError(f"need 1 <= min_gap <= max_gap, got {min_gap}, {max_gap}")
        self.min_gap, self.max_gap = int(min_gap), int(max_gap)
        self.final_min_gap = self.min_gap if final_min_gap is None else int(final_min_gap)
        self.final_max_gap = self.max_gap if final_max_gap is None else int(final_max_gap)
        if self.final_min_gap < 1 or self.final_max_gap < self.final_min_gap:
            raise ValueError("need 1 <= final_min_gap <= final_max_gap")
        self.pairs_per_scene = int(pairs_per_scene)
        self.both_directions = bool(both_directions)
        self.widen_steps = int(widen_steps)
        widening = (self.final_min_gap, self.final_max_gap) != (self.min_gap, self.max_gap)
        if widening and self.widen_steps <= 0:
            raise ValueError("final_min_gap/final_max_gap need widen_steps > 0")
        self._step = torch.zeros(1, dtype=torch.int64).share_memory_()

    def set_step(self, step: int) -> None:
        """Advance the widening schedule (visible to DataLoader workers)."""
        self._step[0] = int(step)

    def gap_range(self) -> tuple[int, int]:
        if self.widen_steps <= 0:
            return self.min_gap, self.max_gap
        frac = min(1.0, max(0.0, int(self._step[0]) / self.widen_steps))
        lo = round(self.min_gap + frac * (self.final_min_gap - self.min_gap))
        hi = round(self.max_gap + frac * (self.final_max_gap - self.max_gap))
        return lo, max(lo, hi)

    def scene_pairs(self, scene: str, frame_ids: Sequence[int], rng: np.random.Generator) -> list[tuple[int, int]]:
        return sample_gap_pairs(frame_ids, *self.gap_range(), self.pairs_per_scene, self.both_directions, rng)

    def __repr__(self) -> str:
        lo, hi = self.gap_range()
        return f"RangeSampler(gap=[{lo}, {hi}], pairs_per_scene={self.pairs_per_scene}, both_directions={self.both_directions})"


def sample_gap_pairs(
    frame_ids: Sequence[int],
    min_gap: int,
    max_gap: int,
    num_pairs: int,
    both_directions: bool,
    rng: np.random.Generator,
) -> list[tuple[int, int]]:
    """Draw ``num_pairs`` pairs with ``min_gap <= |tgt − src| <= max_gap`` (none if impossible).

    The source is uniform over the frames that have at least one partner; the target uniform over
    that source's partners.
    """
    ids = np.unique(np.asarray(list(frame_ids), dtype=np.int64))
    if ids.size < 2:
        return []
    # partners after: ids in [i + min_gap, i + max_gap]; before: [i - max_gap, i - min_gap]
    a_lo = np.searchsorted(ids, ids + min_gap, side="left")
    a_hi = np.searchsorted(ids, ids + max_gap, side="right")
    n_after = a_hi - a_lo
    if both_directions:
        b_lo = np.searchsorted(ids, ids - max_gap, side="left")
        b_hi = np.searchsorted(ids, ids - min_gap, side="right")
        n_before = b_hi - b_lo
    else:
        b_lo = b_hi = n_before = np.zeros_like(n_after)
    total = n_after + n_before
    candidates = np.flatnonzero(total > 0)
    if candidates.size == 0:
        return []
    pairs = []
    for _ in range(num_pairs):
        i = int(candidates[rng.integers(candidates.size)])
        k = int(rng.integers(total[i]))
        j = a_lo[i] + k if k < n_after[i] else b_lo[i] + (k - n_after[i])
        pairs.append((int(ids[i]), int(ids[j])))
    return pairs


class IndexSampler(ViewSampler):
    """Replays a frozen evaluation index (a path to its JSON, its dict, or a list of entries).

    Args:
        index: the index (see :func:`genwarp.data.eval_index.load_eval_index`).
        ranges: keep only entries whose ``range`` is in this set (``None``: all).
    """

    def __init__(self, index: str | Path | dict[str, Any] | Sequence[dict[str, Any]], ranges: Iterable[str] | None = None):
        from genwarp.data.eval_index import check_index_entries, load_eval_index

        if isinstance(index, (str, Path)):
            self.path: Path | None = Path(index)
            index = load_eval_index(index)  # errors name the file
        else:
            self.path = None
        entries = index.get("entries") if isinstance(index, dict) else list(index)
        check_index_entries(entries, str(self.path) if self.path else "evaluation index")  # never truncates 18.7
        self.meta: dict[str, Any] = {k: v for k, v in index.items() if k != "entries"} if isinstance(index, dict) else {}
        keep = None if ranges is None else set(ranges)
        self.entries: list[dict[str, Any]] = [
            dict(e) for e in entries if keep is None or e.get("range") in keep
        ]
        self._by_scene: OrderedDict[str, list[tuple[int, int]]] = OrderedDict()
        for e in self.entries:
            self._by_scene.setdefault(str(e["scene"]), []).append((int(e["src_index"]), int(e["tgt_index"])))

    def __len__(self) -> int:
        return len(self.entries)

    def scenes(self) -> list[str]:
        return list(self._by_scene)

    def scene_pairs(self, scene: str, frame_ids: Sequence[int], rng: np.random.Generator) -> list[tuple[int, int]]:
        return list(self._by_scene.get(scene, []))

    def __repr__(self) -> str:
        src = f"{self.path}" if self.path else "<in memory>"
        return f"IndexSampler({src}, {len(self)} pairs, {len(self._by_scene)} scenes)"
