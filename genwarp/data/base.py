"""Common machinery of the pair datasets: scene access, sharding, shuffling, pairing, depth.

Every dataset is a :class:`torch.utils.data.IterableDataset` (so that lazily read layouts such as
RealEstate10K chunks can stream with bounded memory) and also offers random access to one pair
through :meth:`PairDataset.get_pair`. Iteration

* visits the dataset's scenes (or the scenes of an :class:`~genwarp.data.samplers.IndexSampler`),
  shuffled per epoch when ``shuffle=True`` (``set_epoch``), and split across DataLoader workers
  and distributed ranks (``shard=(rank, world_size)`` or ``torch.distributed`` when initialised);
* asks the view sampler which pairs to draw from each scene;
* loads both views, adds depth (ground truth, cache or estimator), applies the shim and returns a
  :class:`~genwarp.data.contract.Sample`;
* skips and counts whatever is missing or corrupt (see :class:`~genwarp.data.health.DataHealth`),
  with a summary logged at the end of every epoch — a pair whose source depth is not in the depth
  cache included (it is never used with zero depth);
* stops with :class:`~genwarp.data.health.UnusableDataError` once most of the pairs asked for
  (at least :attr:`PairDataset.stop_min_failures` of them) could not be used, through
  :meth:`PairDataset.get_pair` or iteration alike.

For a map-style view of a frozen index use :class:`PairIndexDataset`.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from torch.utils.data import Dataset, IterableDataset, get_worker_info

from genwarp.data.contract import Sample, View, make_sample
from genwarp.data.health import DataError, DataHealth, MissingDataError, UnusableDataError
from genwarp.data.samplers import IndexSampler, RangeSampler, ViewSampler
from genwarp.data.shims import Identity, Shim

__all__ = ["DepthEstimatorLike", "PairDataset", "PairIndexDataset", "SceneHandle", "stable_seed"]


def stable_seed(*parts: Any) -> int:
    """A platform-independent 63-bit seed from strings / ints (``hash()`` is salted per process)."""
    h = 0
    for p in parts:
        h = zlib.crc32(repr(p).encode(), h)
        h = (h * 0x9E3779B1) & 0xFFFFFFFF
    return int(zlib.crc32(b"genwarp", h)) << 31 | h


@runtime_checkable
class DepthEstimatorLike(Protocol):
    name: str

    def estimate(self, images: torch.Tensor) -> torch.Tensor: ...


class SceneHandle:
    """Access to one scene: its frame indices and a loader of one frame."""

    name: str
    frame_ids: list[int]

    def load_view(self, index: int, *, with_depth: bool) -> View:
        raise NotImplementedError


class PairDataset(IterableDataset):
    """Base of :class:`RealEstate10KDataset`, :class:`ScanNetDataset` and
    :class:`SyntheticScenesDataset`.

    Args:
        sampler: the view sampler (default: ``RangeSampler(1, 10)``).
        shim: resolution / crop shim applied to both views (default: identity).
        depth: where ``src_depth`` comes from: ``"gt"`` (dataset ground truth), ``"none"``, a
            :class:`~genwarp.data.depth_cache.DepthCache` (or its root folder), or an object with
            ``estimate(images) -> (B,1,H,W)`` and a ``name`` (run on the shimmed source view).
        seed: base seed (pair sampling, shuffling, random crops).
        shuffle: shuffle the scene order every epoch.
        repeat: iterate forever (epoch after epoch) instead of stopping after one epoch.
        shard: ``(rank, world_size)`` for multi-process training; by default taken from
            ``torch.distributed`` when it is initialised, else ``(0, 1)``.
    """

    dataset_name: str = "dataset"
    ground_truth_depth: bool = False
    #: stop (UnusableDataError) when more than this fraction of the pairs tried so far failed ...
    stop_unusable_fraction: float = 0.5
    #: ... and at least this many did (so a few bad pairs at the start do not stop a run)
    stop_min_failures: int = 16

    def __init__(
        self,
        *,
        sampler: ViewSampler | None = None,
        shim: Shim | None = None,
        depth: Any = "none",
        seed: int = 0,
        shuffle: bool = True,
        repeat: bool = False,
        shard: tuple[int, int] | None = None,
    ):
        super().__init__()
        self.sampler = sampler if sampler is not None else RangeSampler(1, 10)
        self.shim = shim if shim is not None else Identity()
        self.seed = int(seed)
        self.shuffle = bool(shuffle)
        self.repeat = bool(repeat)
        self.shard = shard
        self.epoch = 0
        self.health = DataHealth(self.dataset_name)
        self.pair_counts = {"used": 0, "unusable": 0}  # pairs asked for (get_pair or iteration)
        self._set_depth(depth)

    # ------------------------------------------------------------------ depth source
    def _set_depth(self, depth: Any) -> None:
        from genwarp.data.depth_cache import DepthCache

        self.depth_cache: DepthCache | None = None
        self.depth_estimator: DepthEstimatorLike | None = None
        if isinstance(depth, (str, Path)) and str(depth) in ("gt", "none"):
            if str(depth) == "gt" and not self.ground_truth_depth:
                raise ValueError(f"{type(self).__name__} has no ground-truth depth; use a depth cache or an estimator")
            self.depth_mode = str(depth)
        elif isinstance(depth, DepthCache):
            self.depth_mode, self.depth_cache = "cache", depth
        elif isinstance(depth, (str, Path)):
            self.depth_mode, self.depth_cache = "cache", DepthCache(depth)
        elif hasattr(depth, "estimate"):
            self.depth_mode, self.depth_estimator = "estimator", depth
        elif depth is None:
            self.depth_mode = "none"
        else:
            raise TypeError(f"depth must be 'gt', 'none', a DepthCache/path or an estimator, got {depth!r}")

    # ------------------------------------------------------------------ to implement
    def scene_names(self) -> list[str]:
        """All scenes of the split, in a fixed order."""
        raise NotImplementedError

    def open_scene(self, name: str) -> SceneHandle:
        """Handle on one scene; raises :class:`DataError` when it cannot be used."""
        raise NotImplementedError

    def _scene_handles(self, names: Sequence[str], rng: np.random.Generator) -> Iterator[SceneHandle]:
        """Handles of ``names`` in order (subclasses that stream from containers override)."""
        for name in names:
            try:
                yield self.open_scene(name)
            except DataError as e:
                self._record(e, name)

    # ------------------------------------------------------------------ public API
    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def frame_ids(self, scene: str) -> list[int]:
        return list(self.open_scene(scene).frame_ids)

    def load_view(self, scene: str, index: int, *, with_depth: bool = True) -> View:
        """One frame of ``scene`` as a :class:`View` (native resolution, no shim)."""
        return self._load_view(self.open_scene(scene), index, with_depth=with_depth)

    def get_pair(self, scene: str, src_index: int, tgt_index: int) -> Sample:
        """The sample for one pair (raises :class:`DataError` if a frame is missing or corrupt).

        Random shim choices are seeded by (seed, scene, src_index, tgt_index): repeatable.
        """
        rng = np.random.default_rng(stable_seed(self.seed, "pair", scene, src_index, tgt_index))
        try:
            sample = self._make_pair(self.open_scene(scene), src_index, tgt_index, rng)
        except DataError as e:
            self._pair_unusable(e, f"{scene}:{src_index}->{tgt_index}")  # counted (and maybe: most are unusable)
            raise
        self.pair_counts["used"] += 1
        return sample

    def __iter__(self) -> Iterator[Sample]:
        while True:
            yield from self._iter_epoch(self.epoch)
            if not self.repeat:
                return
            self.epoch += 1

    # ------------------------------------------------------------------ internals
    def shard_info(self) -> tuple[int, int]:
        """(this process/worker's shard, number of shards)."""
        rank, world = self.shard if self.shard is not None else _dist_rank_world()
        info = get_worker_info()
        wid, nw = (info.id, info.num_workers) if info is not None else (0, 1)
        return rank * nw + wid, world * nw

    def _ordered_scenes(self, epoch: int) -> list[str]:
        restricted = self.sampler.scenes()
        names = list(restricted) if restricted is not None else self.scene_names()
        if self.shuffle:
            perm = np.random.default_rng(stable_seed(self.seed, "order", epoch)).permutation(len(names))
            names = [names[i] for i in perm]
        return names

    def _iter_epoch(self, epoch: int) -> Iterator[Sample]:
        shard, num_shards = self.shard_info()
        names = self._ordered_scenes(epoch)[shard::num_shards]
        rng = np.random.default_rng(stable_seed(self.seed, "epoch", epoch, shard))
        for handle in self._scene_handles(names, rng):
            pairs = self.sampler.scene_pairs(handle.name, handle.frame_ids, rng)
            if not pairs and not isinstance(self.sampler, IndexSampler):
                self.health.record("scene_without_pair", handle.name, f"{len(handle.frame_ids)} usable frames, {self.sampler!r}")
            for src, tgt in pairs:
                try:
                    sample = self._make_pair(handle, src, tgt, rng)
                except DataError as e:
                    self._pair_unusable(e, f"{handle.name}:{src}->{tgt}")
                    continue
                self.pair_counts["used"] += 1
                yield sample
        self.health.end_epoch()

    def _record(self, err: DataError, fallback: str) -> None:
        kind = getattr(err, "kind", None) or type(err).__name__
        path = getattr(err, "path", None) or fallback
        self.health.record(kind, str(path), str(err))

    def _pair_unusable(self, err: DataError, fallback: str) -> None:
        """Count a pair that could not be built; raise :class:`UnusableDataError` when most are."""
        self._record(err, fallback)
        self.pair_counts["unusable"] += 1
        bad, total = self.pair_counts["unusable"], self.pair_counts["unusable"] + self.pair_counts["used"]
        if bad < self.stop_min_failures or bad <= self.stop_unusable_fraction * total:
            return
        kinds = ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in sorted(self.health.summary().items()))
        hint = "see the warnings above for the files"
        if getattr(err, "kind", None) == "missing_cached_depth" and self.depth_cache is not None:
            hint = (f"the depth cache {self.depth_cache.root} lacks depth for these frames: fill it with "
                    f"scripts/precompute_depth.py --dataset {self.dataset_name} --cache {self.depth_cache.root} "
                    "(it resumes; use the same --split/--layout as here), or choose another depth source")
        raise UnusableDataError(
            f"[{self.dataset_name}] {bad} of the {total} pairs tried so far are unusable ({kinds}), so the data is "
            f"not what this run expects; stopping rather than carrying on with the rest. Last: {err}. Fix: {hint}"
        ) from err

    def _cached_depth(self, handle: SceneHandle, index: int) -> torch.Tensor:
        """The source depth from the cache; raises :class:`MissingDataError` (kind
        ``missing_cached_depth``, path the scene's cache folder: one warning per scene) when the
        cache has none for this frame — such a pair is skipped and counted, never used with zero
        depth."""
        cache = self.depth_cache
        assert cache is not None
        depth = cache.load(self.dataset_name, handle.name, index)
        if depth is None:
            raise MissingDataError(
                f"no cached depth for {self.dataset_name} scene {handle.name!r} frame {index}: "
                f"{cache.path_for(self.dataset_name, handle.name, index)} does not exist (fill the cache {cache.root} "
                f"with scripts/precompute_depth.py --dataset {self.dataset_name} --cache {cache.root})",
                path=cache.scene_dir(self.dataset_name, handle.name), kind="missing_cached_depth")
        return depth

    def _load_view(self, handle: SceneHandle, index: int, *, with_depth: bool) -> View:
        gt = with_depth and self.depth_mode == "gt"
        cached = self._cached_depth(handle, index) if with_depth and self.depth_mode == "cache" else None
        view = handle.load_view(index, with_depth=gt)
        if cached is not None:
            assert self.depth_cache is not None
            view.depth = cached
            view.depth_valid = torch.isfinite(cached) & (cached > 0)
            view.depth_source = f"cache:{self.depth_cache.name}"
        return view

    def _make_pair(self, handle: SceneHandle, src_index: int, tgt_index: int, rng: np.random.Generator) -> Sample:
        src = self._load_view(handle, src_index, with_depth=True)
        tgt = self._load_view(handle, tgt_index, with_depth=self.depth_mode == "gt")
        src, tgt = self.shim([src, tgt], rng)
        if self.depth_mode == "estimator":
            assert self.depth_estimator is not None
            with torch.no_grad():
                d = self.depth_estimator.estimate(src.image[None])[0].float()
            src.depth, src.depth_valid = d, torch.isfinite(d) & (d > 0)
            src.depth_source = f"estimator:{getattr(self.depth_estimator, 'name', type(self.depth_estimator).__name__)}"
        src = self._postprocess_source(handle, src, rng)
        return make_sample(src, tgt, dataset=self.dataset_name, scene=handle.name, src_index=src_index, tgt_index=tgt_index)

    def _postprocess_source(self, handle: SceneHandle, src: View, rng: np.random.Generator) -> View:
        """Hook (e.g. the synthetic dataset's depth corruptor)."""
        return src

    def __repr__(self) -> str:
        return f"{type(self).__name__}(sampler={self.sampler!r}, shim={self.shim!r}, depth={self.depth_mode!r})"


def _dist_rank_world() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


class PairIndexDataset(Dataset):
    """Map-style view of a frozen evaluation index over any :class:`PairDataset`.

    ``ds[i]`` is ``dataset.get_pair(entry.scene, entry.src_index, entry.tgt_index)`` for the
    i-th entry; order and content are fixed, so it can be split across DataLoader workers freely.
    Missing frames raise (an evaluation must not silently drop pairs).
    """

    def __init__(self, dataset: PairDataset, index: IndexSampler | str | Path | dict):
        self.dataset = dataset
        self.index = index if isinstance(index, IndexSampler) else IndexSampler(index)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> Sample:
        e = self.index.entries[i]
        return self.dataset.get_pair(str(e["scene"]), int(e["src_index"]), int(e["tgt_index"]))
