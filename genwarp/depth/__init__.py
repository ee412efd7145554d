"""Depth sources behind one interface, ``estimate(images) -> depth (B, 1, H, W)``, and scale
alignment. Never imports the model.

* :class:`HFDepthEstimator` — transformers depth models (ZoeDepth, Depth Anything V2 metric).
* :class:`GroundTruthDepth` — the dataset's own depth (ScanNet, synthetic).
* :class:`MDECorruptor` / :class:`CorruptedDepth` — MDE-like errors on exact depth, one strength
  knob.
* :func:`photometric_scale_search`, :func:`aggregate_scales`, :func:`least_squares_scale`.
* :func:`resolve_depth_spec` — an evaluation's ``depth`` config group → the depth it warps with
  (``auto`` per dataset, every key used or refused); :func:`require_depth_model` — is a depth
  model loadable, checked without loading it.
"""

from __future__ import annotations

from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor

from genwarp.depth.align import ScaleFit, aggregate_scales, least_squares_scale, photometric_scale_search
from genwarp.depth.base import DepthEstimator, GroundTruthDepth
from genwarp.depth.corrupt import MDECorruptor, gaussian_blur
from genwarp.depth.hf import HF_DEPTH_PRESETS, DepthModelNotFoundError, HFDepthEstimator, require_depth_model
from genwarp.depth.sources import AUTO_DEPTH, DepthSpec, resolve_depth_spec

__all__ = [
    "AUTO_DEPTH",
    "HF_DEPTH_PRESETS",
    "CorruptedDepth",
    "DepthEstimator",
    "DepthModelNotFoundError",
    "DepthSpec",
    "GroundTruthDepth",
    "HFDepthEstimator",
    "MDECorruptor",
    "ScaleFit",
    "aggregate_scales",
    "build_depth_estimator",
    "gaussian_blur",
    "least_squares_scale",
    "photometric_scale_search",
    "require_depth_model",
    "resolve_depth_spec",
]


class CorruptedDepth(DepthEstimator):
    """Another estimator's output (by default ground truth) passed through :class:`MDECorruptor`.

    Seeded per call from ``seed`` and a running counter (deterministic for a fixed call order).
    """

    def __init__(self, strength: float, base: DepthEstimator | None = None, seed: int = 0):
        self.base = base or GroundTruthDepth()
        self.corruptor = MDECorruptor(strength)
        self.name = f"{self.base.name}+corrupted:{strength:g}"
        self.units = self.base.units
        self.seed = int(seed)
        self._calls = 0

    def estimate(self, images: Float[Tensor, "B 3 H W"], *, batch: dict[str, Any] | None = None) -> Float[Tensor, "B 1 H W"]:
        depth = self.base.estimate(images, batch=batch)
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + self._calls)
        self._calls += 1
        return self.corruptor(depth, generator=gen)


def build_depth_estimator(spec: str, **kwargs: Any) -> DepthEstimator:
    """By name: ``"gt"``, ``"gt+corrupted:<strength>"``, a preset of :data:`HF_DEPTH_PRESETS`, a
    hub id or a local model folder (keyword arguments go to :class:`HFDepthEstimator`; ``seed``
    seeds the corruptor only — an HF model is deterministic)."""
    seed = int(kwargs.pop("seed", 0))
    if spec == "gt":
        return GroundTruthDepth()
    if spec.startswith("gt+corrupted:"):
        return CorruptedDepth(float(spec.split(":", 1)[1]), seed=seed)
    return HFDepthEstimator(spec, **kwargs)
