"""Datasets and depth sources from :class:`DataConfig` / :class:`DepthConfig` (a small registry)."""

from __future__ import annotations

from pathlib import Path

from genwarp.data import (
    DepthCache,
    PairDataset,
    RealEstate10KDataset,
    ScanNetDataset,
    SyntheticSceneConfig,
    SyntheticScenesDataset,
    make_shim,
)
from genwarp.training.config import DataConfig, DepthConfig

DATASETS = ("synthetic", "re10k", "acid", "scannet")
SHIMS = {"resize": "none", "center_crop": "center", "random_crop": "random", "16:9_to_square": "center"}
DEPTH_SOURCES = ("gt", "corrupted_gt", "cache", "estimator")


def _depth_for(data: DataConfig, depth: DepthConfig):
    if depth.source not in DEPTH_SOURCES:
        raise ValueError(f"depth.source must be one of {DEPTH_SOURCES}, got {depth.source!r}")
    has_gt = data.name in ("synthetic", "scannet")
    if depth.source in ("gt", "corrupted_gt"):
        if not has_gt:
            raise ValueError(
                f"depth.source={depth.source} needs ground-truth depth, which {data.name} does not have: use "
                "depth.source=cache (scripts/precompute_depth.py, scale-aligned) or depth.source=estimator"
            )
        if depth.source == "corrupted_gt" and data.name != "synthetic":
            from genwarp.depth import CorruptedDepth

            return CorruptedDepth(depth.corruption)
        return "gt"
    if depth.source == "cache":
        if not depth.cache_root or not Path(depth.cache_root).is_dir():
            raise FileNotFoundError(
                f"depth.cache_root={depth.cache_root!r} is not a folder: build it with "
                "scripts/precompute_depth.py (see data/README.md)"
            )
        return DepthCache(depth.cache_root)
    if data.name in ("re10k", "acid") and depth.scale_alignment != "none":
        raise ValueError(
            "on-the-fly depth estimation cannot be scale-aligned to RealEstate10K/ACID poses per sequence: "
            "precompute an aligned cache (scripts/precompute_depth.py --align-pairs 8) and use depth.source=cache"
        )
    from genwarp.depth import build_depth_estimator

    return build_depth_estimator(depth.estimator)


def build_dataset(data: DataConfig, depth: DepthConfig, *, split: str, seed: int, train: bool) -> PairDataset:
    """The dataset of ``split``; training shims may crop randomly, validation ones never do."""
    if data.name not in DATASETS:
        raise ValueError(f"data.name must be one of {DATASETS}, got {data.name!r}")
    if data.shim not in SHIMS:
        raise ValueError(f"data.shim must be one of {sorted(SHIMS)}, got {data.shim!r}")
    source = _depth_for(data, depth)
    if data.name == "synthetic":
        noise = depth.corruption if depth.source == "corrupted_gt" else 0.0
        return SyntheticScenesDataset(split=split, resolution=data.resolution,
                                      config=SyntheticSceneConfig(**dict(data.synthetic)),
                                      depth="gt", depth_noise=noise, seed=seed)
    crop = SHIMS[data.shim]
    if not train and crop == "random":
        crop = "center"
    shim = make_shim(data.resolution, crop=crop)
    if data.root is None:
        raise ValueError(f"data.root must point at the {data.name} dataset (see data/README.md)")
    if data.name in ("re10k", "acid"):
        return RealEstate10KDataset(data.root, split, layout=data.layout, frames_root=data.frames_root,
                                    name=data.name, shim=shim, depth=source, seed=seed)
    scenes = Path(data.root) / f"{split}.txt"  # optional scene list per split, one name per line
    return ScanNetDataset(data.root, scenes=scenes if scenes.is_file() else None, shim=shim, depth=source, seed=seed)


__all__ = ["DATASETS", "DEPTH_SOURCES", "SHIMS", "build_dataset"]
