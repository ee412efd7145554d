"""Build the dataset an evaluation index refers to (synthetic, RealEstate10K / ACID, ScanNet).

``build_eval_dataset(name, index, ...)`` returns the dataset whose ``get_pair`` serves the index's
entries, plus an optional *mask dataset*: the same pairs with exact depth, used for the
visible / invisible masks when the evaluated depth is corrupted (synthetic ``depth_noise > 0``).
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_RESOLUTION", "build_eval_dataset", "default_index_path", "repo_root"]

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


def _depth_source(depth: str | None, seed: int):
    if depth in (None, "", "none"):
        return "none"
    if depth == "gt":
        return "gt"
    if Path(str(depth)).is_dir():
        return str(depth)  # a depth cache folder
    from genwarp.depth import build_depth_estimator

    return build_depth_estimator(str(depth), seed=seed)


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
        ds = SyntheticScenesDataset(depth=_depth_source(depth or "gt", seed), depth_noise=depth_noise, **kw)
        mask_ds = SyntheticScenesDataset(depth="gt", **kw) if (depth_noise > 0 or (depth or "gt") != "gt") else None
        return ds, mask_ds
    if root is None:
        raise ValueError(f"data={name} needs dataset.root=<folder of the dataset>")
    shim = make_shim(res, "center")
    if name in ("re10k", "acid"):
        from genwarp.data import RealEstate10KDataset

        ds = RealEstate10KDataset(root, split, layout, frames_root, name=name, shim=shim, depth=_depth_source(depth, seed),
                                  seed=seed, shuffle=False)
        return ds, None
    from genwarp.data import ScanNetDataset

    ds = ScanNetDataset(root, shim=shim, depth=_depth_source(depth or "gt", seed), seed=seed, shuffle=False)
    mask_ds = ScanNetDataset(root, shim=shim, depth="gt", seed=seed, shuffle=False) if (depth or "gt") != "gt" else None
    return ds, mask_ds
