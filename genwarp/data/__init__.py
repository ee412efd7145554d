"""Datasets behind one typed sample contract, view samplers, evaluation indices, shims, depth cache.

Every dataset returns :class:`Sample` dicts (see :mod:`genwarp.data.contract`) that batch with
the default collate function. Datasets never import the model.
"""

from genwarp.data.base import PairDataset, PairIndexDataset, SceneHandle, stable_seed
from genwarp.data.contract import SAMPLE_KEYS, Sample, View, make_sample, validate_sample
from genwarp.data.depth_cache import DepthCache
from genwarp.data.eval_index import (
    DEFAULT_RULES,
    FrameGapRule,
    build_eval_index,
    load_eval_index,
    save_eval_index,
)
from genwarp.data.health import (
    CorruptDataError,
    DataError,
    DataHealth,
    DatasetLayoutError,
    DataWarning,
    MissingDataError,
    UnusableDataError,
)
from genwarp.data.re10k import RealEstate10KDataset, read_camera_file
from genwarp.data.samplers import IndexSampler, RangeSampler, ViewSampler
from genwarp.data.scannet import ScanNetDataset
from genwarp.data.shims import (
    CenterCrop,
    CenterCropToAspect,
    Compose,
    Identity,
    RandomCrop,
    RandomCropToAspect,
    Resize,
    ResizeShortSide,
    Shim,
    SixteenNineToSquare,
    make_shim,
)
from genwarp.data.synthetic import SyntheticSceneConfig, SyntheticScenesDataset, generate_scene, render_views
from genwarp.data.throughput import measure_pairs_per_second

__all__ = [
    "DEFAULT_RULES",
    "SAMPLE_KEYS",
    "CenterCrop",
    "CenterCropToAspect",
    "Compose",
    "CorruptDataError",
    "DataError",
    "DataHealth",
    "DataWarning",
    "DatasetLayoutError",
    "DepthCache",
    "FrameGapRule",
    "Identity",
    "IndexSampler",
    "MissingDataError",
    "PairDataset",
    "PairIndexDataset",
    "RandomCrop",
    "RandomCropToAspect",
    "RangeSampler",
    "RealEstate10KDataset",
    "Resize",
    "ResizeShortSide",
    "Sample",
    "ScanNetDataset",
    "SceneHandle",
    "Shim",
    "SixteenNineToSquare",
    "SyntheticSceneConfig",
    "SyntheticScenesDataset",
    "UnusableDataError",
    "View",
    "ViewSampler",
    "build_eval_index",
    "generate_scene",
    "load_eval_index",
    "make_shim",
    "make_sample",
    "measure_pairs_per_second",
    "read_camera_file",
    "render_views",
    "save_eval_index",
    "stable_seed",
    "validate_sample",
]
