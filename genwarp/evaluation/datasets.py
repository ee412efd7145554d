"""Build the dataset an evaluation index refers to (synthetic, RealEstate10K / ACID, ScanNet).

``build_eval_dataset(name, index, ...)`` returns the dataset whose ``get_pair`` serves the index's
entries, plus an optional *mask dataset*: the same pairs with exact depth, used for the
visible / invisible masks when the evaluated depth is corrupted (synthetic ``depth_noise > 0``).
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import torch

__all__ = ["DEFAULT_RESOLUTION", "GTAlignedDepth", "build_eval_dataset", "default_index_path", "repo_root"]

DEFAULT_RESOLUTION = {"synthetic": 64, "re10k": 512, "acid": 512, "scannet": 512}
DATASETS = tuple(DEFAULT_RESOLUTION)


def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


def default_index_path(name: str) -> Path | None:
    """The committed index of ``name`` (``data/eval_index_<name>_test.json``) if it exists."""
    from genwarp.cli import find_resource

    try:
        return find_resource(f"data/eval_index_{name}_test.json")
    except FileNotFoundError:
        return None


def _synthetic_config(d: dict[str, Any] | None):
    from genwarp.data import SyntheticSceneConfig

    if not d:
        return SyntheticSceneConfig()
    known = {f.name for f in fields(SyntheticSceneConfig)}
    kw = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items() if k in known}
    return SyntheticSceneConfig(**kw)


def _depth_source(depth: str | None, seed: int, alignment: str | None = None):
    if depth in (None, "", "none"):
        return "none"
    if depth == "gt":
        return "gt"
    if Path(str(depth)).is_dir() and not (Path(str(depth)) / "config.json").is_file():
        from genwarp.data import DepthCache

        # a depth cache folder: photometric = its scenes' scale.json applied, none = the raw cached depth
        return DepthCache(str(depth), apply_scale=alignment != "none")
    from genwarp.depth import build_depth_estimator

    return build_depth_estimator(str(depth), seed=seed)


class GTAlignedDepth:
    """``dataset`` whose source depth is rescaled per pair to the ground truth of ``reference``
    (the same pairs with sensor depth): ``depth.scale_alignment=gt_least_squares``, the geometric
    mean of the depth ratios (:func:`genwarp.depth.least_squares_scale`). Records the scale in
    the sample (``src_depth_scale``)."""

    def __init__(self, dataset, reference):
        self.dataset, self.reference = dataset, reference

    def get_pair(self, scene: str, src_index: int, tgt_index: int):
        from genwarp.depth import least_squares_scale

        sample = dict(self.dataset.get_pair(scene, src_index, tgt_index))
        ref = self.reference.get_pair(scene, src_index, tgt_index)
        valid = sample["src_depth_valid"] & ref["src_depth_valid"]
        s = least_squares_scale(sample["src_depth"][None], ref["src_depth"][None], valid[None])[0]
        if not bool(torch.isfinite(s)):
            raise ValueError(f"{scene}:{src_index}->{tgt_index}: no valid sensor depth to align the estimate to "
                             "(depth.scale_alignment=gt_least_squares)")
        sample["src_depth"] = sample["src_depth"] * s
        sample["src_depth_scale"] = s
        return sample

    def __getattr__(self, name: str):
        return getattr(self.dataset, name)


def build_eval_dataset(
    name: str,
    index: dict[str, Any],
    *,
    resolution: int | None = None,
    root: str | None = None,
    split: str = "test",
    layout: str = "raw",
    frames_root: str | None = None,
    depth: str | None = None,
    depth_noise: float = 0.0,
    seed: int = 0,
    depth_alignment: str | None = None,
):
    """The dataset for ``index`` and the optional exact-depth mask dataset.

    Args:
        name: ``synthetic``, ``re10k``, ``acid`` or ``scannet``.
        index: the loaded evaluation index (its ``dataset_config`` rebuilds synthetic scenes).
        resolution: square working resolution (default :data:`DEFAULT_RESOLUTION`).
        root, split, layout, frames_root: dataset location (real datasets).
        depth: ``gt``, ``none``, a depth-cache folder or a depth-estimator spec
            (see :func:`genwarp.depth.build_depth_estimator`); default ``gt`` where the dataset has
            it, else ``none`` (which methods that warp will reject with a clear error).
        depth_noise: synthetic only: MDE-like corruption strength of the source depth.
        depth_alignment: ``depth.scale_alignment`` (:mod:`genwarp.depth.sources`): for a cache,
            ``photometric`` applies its scenes' scales and ``none`` does not; for an estimator,
            ``gt_least_squares`` rescales each source depth to the sensor depth (ScanNet).
    """
    from genwarp.data import make_shim

    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known: {list(DATASETS)}")
    if index.get("dataset") not in (None, name):
        raise ValueError(f"the index is for dataset {index.get('dataset')!r}, but data={name!r}")
    res = int(resolution or DEFAULT_RESOLUTION[name])
    if name == "synthetic":
        from genwarp.data import SyntheticScenesDataset

        dc = index.get("dataset_config") or {}
        kw = dict(split=dc.get("split", "test"), resolution=res, config=_synthetic_config(dc.get("config")),
                  num_test_scenes=int(dc.get("num_test_scenes", 64)), seed=int(dc.get("seed", 0)), shuffle=False)
        ds = SyntheticScenesDataset(depth=_depth_source(depth or "gt", seed, depth_alignment), depth_noise=depth_noise, **kw)
        mask_ds = SyntheticScenesDataset(depth="gt", **kw) if (depth_noise > 0 or (depth or "gt") != "gt") else None
        return ds, mask_ds
    if root is None:
        raise ValueError(f"data={name} needs dataset.root=<folder of the dataset>")
    shim = make_shim(res, "center")
    if name in ("re10k", "acid"):
        from genwarp.data import RealEstate10KDataset

        ds = RealEstate10KDataset(root, split, layout, frames_root, name=name, shim=shim,
                                  depth=_depth_source(depth, seed, depth_alignment),
                                  seed=seed, shuffle=False)
        return ds, None
    from genwarp.data import ScanNetDataset

    ds = ScanNetDataset(root, shim=shim, depth=_depth_source(depth or "gt", seed, depth_alignment), seed=seed, shuffle=False)
    mask_ds = ScanNetDataset(root, shim=shim, depth="gt", seed=seed, shuffle=False) if (depth or "gt") != "gt" else None
    if depth_alignment == "gt_least_squares":
        if mask_ds is None:
            raise ValueError("depth.scale_alignment=gt_least_squares aligns estimated depth; the source depth is already gt")
        ds = GTAlignedDepth(ds, mask_ds)
    return ds, mask_ds
