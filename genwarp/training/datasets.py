"""Datasets and depth sources from :class:`DataConfig` / :class:`DepthConfig` (a small registry).

The depth group is resolved by :func:`resolve_training_depth` (every key used or refused) and
checked at start-up by :func:`check_training_depth`, before any model loads."""

from __future__ import annotations

import warnings
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

from genwarp.data import (
    DepthCache,
    PairDataset,
    RealEstate10KDataset,
    ScanNetDataset,
    SyntheticSceneConfig,
    SyntheticScenesDataset,
    make_shim,
)
from genwarp.depth.sources import DepthSpec, resolve_depth_spec
from genwarp.training.config import DataConfig, DepthConfig

DATASETS = ("synthetic", "re10k", "acid", "scannet")
SHIMS = {"resize": "none", "center_crop": "center", "random_crop": "random", "16:9_to_square": "center"}
DEPTH_SOURCES = ("gt", "corrupted_gt", "cache", "estimator")


def _depth_dict(depth: Any) -> dict[str, Any]:
    if depth is None:
        return {}
    if is_dataclass(depth):
        return asdict(depth)
    return {k: depth.get(k) for k in depth}


def resolve_training_depth(data_name: str, depth: Any) -> DepthSpec:
    """The source depth training pairs will carry, every ``depth`` key used or refused (raises
    ``ValueError`` naming the key, its value and the way on). The rules of
    :func:`genwarp.depth.sources.resolve_depth_spec` (shared with evaluation), plus what training
    cannot do: no source depth (``none``), a cache for the synthetic stream (it renders fresh
    scenes no cache holds), the ScanNet-only oracle ``gt_least_squares`` (evaluation only), and
    ``estimator`` / ``cache_root`` with ground-truth sources (they would be ignored)."""
    d = _depth_dict(depth)
    source = d.get("source") or "gt"
    if source not in DEPTH_SOURCES:
        raise ValueError(f"depth.source={source!r} is not a training depth source: one of {list(DEPTH_SOURCES)} "
                         "(training warps with source depth, so 'none' is refused; 'auto' is the evaluation default)")
    if source in ("gt", "corrupted_gt"):
        if data_name in ("re10k", "acid"):
            raise ValueError(f"depth.source={source} needs ground-truth depth, which {data_name} does not have: use "
                             "depth=zoedepth_cache (scripts/precompute_depth.py --align-pairs 8, scale-aligned)")
        if source == "corrupted_gt" and data_name != "synthetic":
            raise ValueError(f"depth.source=corrupted_gt trains on data=synthetic only (the corruptor runs inside the "
                             f"synthetic renderer), not data={data_name}: use depth=gt or depth=zoedepth")
        for key in ("estimator", "cache_root"):
            if d.get(key) is not None:
                raise ValueError(f"depth.{key}={d[key]!r} is only used with depth.source=estimator|cache, not "
                                 f"depth.source={source}: drop it")
    spec = resolve_depth_spec(data_name, d)
    if spec.source == "cache" and data_name == "synthetic":
        raise ValueError("depth.source=cache cannot be used with data=synthetic: the training stream renders fresh "
                         "scenes that no depth cache holds. Use depth=gt (exact), depth=corrupted_gt (the MDE "
                         "stand-in) or depth=zoedepth (an estimator on the fly)")
    if spec.scale_alignment == "gt_least_squares":
        raise ValueError("depth.scale_alignment=gt_least_squares (rescaling to sensor depth) is an evaluation oracle, "
                         "not available in training: use depth.scale_alignment=none, or depth=gt")
    return spec


def check_training_depth(data_name: str, depth: Any) -> DepthSpec:
    """:func:`resolve_training_depth`, and the depth it names exists: the cache folder, the depth
    model (:func:`genwarp.depth.require_depth_model`, without loading it). Called by
    :func:`genwarp.training.validate.validate_train_config`, before anything is built."""
    spec = resolve_training_depth(data_name, depth)
    for note in spec.notes:
        if note.startswith("warning:"):  # e.g. metric depth with RealEstate10K's arbitrary pose scale
            warnings.warn(f"training {note}", stacklevel=2)
    if spec.source == "cache" and not Path(str(spec.cache_root)).is_dir():
        raise FileNotFoundError(
            f"depth.cache_root={spec.cache_root!r} is not a folder: build it with scripts/precompute_depth.py "
            f"--dataset {data_name} --estimator {spec.estimator or 'zoedepth-nyu'} --cache {spec.cache_root}"
            + (" --align-pairs 8" if spec.scale_alignment == "photometric" else "") + " (see data/README.md)")
    if spec.source == "estimator":
        from genwarp.depth import require_depth_model

        require_depth_model(spec.estimator)
    return spec


def _depth_for(data: DataConfig, depth: DepthConfig, seed: int):
    spec = resolve_training_depth(data.name, depth)
    if spec.source in ("gt", "corrupted_gt"):
        return spec, "gt"  # corrupted_gt: synthetic only; its dataset corrupts the exact depth (depth_noise)
    if spec.source == "cache":
        if not Path(str(spec.cache_root)).is_dir():
            raise FileNotFoundError(
                f"depth.cache_root={spec.cache_root!r} is not a folder: build it with "
                "scripts/precompute_depth.py (see data/README.md)"
            )
        # photometric: each scene's scale.json applied (pose units); none: the raw cached depth
        return spec, DepthCache(spec.cache_root, apply_scale=spec.scale_alignment == "photometric")
    from genwarp.depth import build_depth_estimator

    return spec, build_depth_estimator(str(spec.estimator), seed=seed)


def build_dataset(data: DataConfig, depth: DepthConfig, *, split: str, seed: int, train: bool) -> PairDataset:
    """The dataset of ``split``; training shims may crop randomly, validation ones never do."""
    if data.name not in DATASETS:
        raise ValueError(f"data.name must be one of {DATASETS}, got {data.name!r}")
    if data.shim not in SHIMS:
        raise ValueError(f"data.shim must be one of {sorted(SHIMS)}, got {data.shim!r}")
    spec, source = _depth_for(data, depth, seed)
    if data.name == "synthetic":
        noise = spec.corruption if spec.source == "corrupted_gt" else 0.0
        return SyntheticScenesDataset(split=split, resolution=data.resolution,
                                      config=SyntheticSceneConfig(**dict(data.synthetic)),
                                      depth=source, depth_noise=noise, seed=seed)
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


__all__ = ["DATASETS", "DEPTH_SOURCES", "SHIMS", "build_dataset", "check_training_depth", "resolve_training_depth"]
