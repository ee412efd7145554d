"""Estimate and cache depth for every frame of a dataset (``scripts/precompute_depth.py``).

* frames already in the cache are skipped (resumable: run it again after an interruption);
* frames are estimated in batches at their native size, or downscaled so the longer side is at
  most ``max_side`` (the cache stores that size; loaders resample it to the frame);
* with ``align_pairs > 0``, each scene without ``scale.json`` gets a photometric scale
  (:func:`genwarp.depth.photometric_scale_search` on ``align_pairs`` frame pairs drawn with
  ``align_gap``), aggregated per scene (:func:`genwarp.depth.aggregate_scales`) and saved, so the
  cached depth loads in the units of that scene's poses. The per-pair scales and residuals are
  kept in ``scale.json``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from genwarp.data.base import PairDataset, stable_seed
from genwarp.data.depth_cache import DepthCache
from genwarp.data.health import DataError
from genwarp.data.samplers import sample_gap_pairs

__all__ = ["align_scene_scale", "precompute_depth"]


def _downscale(image: torch.Tensor, max_side: int | None) -> torch.Tensor:
    H, W = image.shape[-2:]
    if not max_side or max(H, W) <= max_side:
        return image
    f = max_side / max(H, W)
    return F.interpolate(image[None], size=(max(1, round(H * f)), max(1, round(W * f))), mode="bilinear", align_corners=False, antialias=True)[0]


def precompute_depth(
    dataset: PairDataset,
    estimator: Any,
    cache: DepthCache,
    *,
    scenes: Sequence[str] | None = None,
    batch_size: int = 4,
    max_side: int | None = None,
    align_pairs: int = 0,
    align_gap: tuple[int, int] = (5, 30),
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Fill ``cache`` with ``estimator``'s depth for every frame of ``scenes`` (default: all).

    Returns counts: ``estimated``, ``skipped_done``, ``failed`` frames and ``aligned`` scenes.
    """
    name = dataset.dataset_name
    scene_list = list(scenes) if scenes is not None else dataset.scene_names()
    cache.write_meta(name=cache.name, estimator=getattr(estimator, "name", type(estimator).__name__),
                     units=getattr(estimator, "units", "metric"), dtype="float16", max_side=max_side)
    counts = {"estimated": 0, "skipped_done": 0, "failed": 0, "aligned": 0, "scenes_failed": 0}
    todo: list[tuple[str, int]] = []
    for scene in scene_list:
        try:
            ids = dataset.frame_ids(scene)
        except DataError as e:
            counts["scenes_failed"] += 1
            dataset.health.record(e.kind, e.path or scene, str(e))
            continue
        for i in ids:
            if cache.has(name, scene, i):
                counts["skipped_done"] += 1
            else:
                todo.append((scene, i))
    bar = tqdm(total=len(todo), desc=f"depth {name}", unit="frame", disable=not progress)
    batch: list[tuple[str, int, torch.Tensor]] = []

    def flush() -> None:
        if not batch:
            return
        groups: dict[tuple[int, int], list[tuple[str, int, torch.Tensor]]] = {}
        for item in batch:
            groups.setdefault(tuple(item[2].shape[-2:]), []).append(item)
        for items in groups.values():
            images = torch.stack([it[2] for it in items])
            with torch.no_grad():
                depth = estimator.estimate(images)
            for (scene, i, _), d in zip(items, depth):
                cache.save(name, scene, i, d)
                counts["estimated"] += 1
        bar.update(len(batch))
        batch.clear()

    for scene, i in todo:
        try:
            view = dataset.load_view(scene, i, with_depth=False)
        except DataError as e:
            counts["failed"] += 1
            dataset.health.record(e.kind, e.path or f"{scene}:{i}", str(e))
            bar.update(1)
            continue
        batch.append((scene, i, _downscale(view.image, max_side)))
        if len(batch) >= batch_size:
            flush()
    flush()
    bar.close()

    if align_pairs > 0:
        for scene in tqdm(scene_list, desc="scale alignment", unit="scene", disable=not progress):
            if cache.scene_scale(name, scene) is not None:
                continue
            try:
                record = align_scene_scale(dataset, cache, scene, num_pairs=align_pairs, gap=align_gap)
            except DataError as e:
                dataset.health.record(e.kind, e.path or scene, str(e))
                continue
            if record is not None:
                cache.save_scene_scale(name, scene, record)
                counts["aligned"] += 1
                if log:
                    log(f"{scene}: scale {record['scale']:.4g} ({record['num_reliable']}/{record['num_pairs']} reliable pairs)")
    return counts


def align_scene_scale(
    dataset: PairDataset,
    cache: DepthCache,
    scene: str,
    *,
    num_pairs: int = 8,
    gap: tuple[int, int] = (5, 30),
    max_side: int = 96,
    seed: int = 0,
) -> dict[str, Any] | None:
    """Photometric scale of one scene's cached (unscaled) depth; ``None`` when no pair is usable."""
    from genwarp.depth.align import aggregate_scales, photometric_scale_search

    name = dataset.dataset_name
    ids = dataset.frame_ids(scene)
    rng = np.random.default_rng(stable_seed(seed, "align", name, scene))
    pairs = sample_gap_pairs(ids, gap[0], gap[1], num_pairs, True, rng)
    raw = DepthCache(cache.root, cache.name, apply_scale=False)
    records = []
    for s, t in pairs:
        try:
            depth = raw.load(name, scene, s)
        except DataError as e:  # corrupt cached file: not used for the scale (and counted)
            dataset.health.record(e.kind, e.path or scene, str(e))
            continue
        if depth is None:
            continue
        src = dataset.load_view(scene, s, with_depth=False)
        tgt = dataset.load_view(scene, t, with_depth=False)
        if src.size != tgt.size:
            continue
        src_img = _downscale(src.image, max_side)
        tgt_img = _downscale(tgt.image, max_side)
        d = F.interpolate(depth[None], size=src_img.shape[-2:], mode="nearest-exact")
        fit = photometric_scale_search(src_img[None], tgt_img[None], d, src.intrinsics[None], tgt.intrinsics[None],
                                       src.c2w[None], tgt.c2w[None], src_depth_valid=d > 0, max_side=None)
        rec = fit.records()[0]
        rec.update(src_index=s, tgt_index=t)
        records.append(rec)
    if not records:
        return None
    return aggregate_scales(records)
