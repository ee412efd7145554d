"""The depth interface: ``estimate(images) -> depth``.

``images`` are float (B, 3, H, W) in [0, 1]; the result is float (B, 1, H, W) z-depth at the
input resolution, in the units of the poses where the source knows them (dataset ground truth),
in metres for metric estimators (which RealEstate10K training then rescales, see
:mod:`genwarp.depth.align`). Sources that need more than pixels (ground truth) take the sample
batch as ``batch=``.
"""

from __future__ import annotations

from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor

__all__ = ["DepthEstimator", "GroundTruthDepth"]


class DepthEstimator:
    """Base class. Subclasses implement :meth:`estimate` and set ``name`` and ``units``."""

    name: str = "depth"
    units: str = "metric"  # "metric" (metres), "poses" (the dataset's pose units) or "relative"

    def estimate(self, images: Float[Tensor, "B 3 H W"], *, batch: dict[str, Any] | None = None) -> Float[Tensor, "B 1 H W"]:
        raise NotImplementedError

    def __call__(self, images: Float[Tensor, "B 3 H W"], **kw: Any) -> Float[Tensor, "B 1 H W"]:
        return self.estimate(images, **kw)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, units={self.units!r})"


class GroundTruthDepth(DepthEstimator):
    """The dataset's own depth (ScanNet sensor depth, exact synthetic depth).

    ``estimate(images, batch=batch)`` returns ``batch["src_depth"]`` (checked against the images'
    size). Raises ``ValueError`` when the batch carries no valid depth at all (e.g. RealEstate10K
    without a cache): ground truth cannot be made up.
    """

    name = "gt"
    units = "poses"

    def estimate(self, images: Float[Tensor, "B 3 H W"], *, batch: dict[str, Any] | None = None) -> Float[Tensor, "B 1 H W"]:
        if batch is None or "src_depth" not in batch:
            raise ValueError("GroundTruthDepth needs the sample batch (estimate(images, batch=batch))")
        depth = batch["src_depth"]
        valid = batch.get("src_depth_valid")
        if depth.shape[0] != images.shape[0] or depth.shape[-2:] != images.shape[-2:]:
            raise ValueError(f"batch depth {tuple(depth.shape)} does not match images {tuple(images.shape)}")
        if valid is not None and not bool(valid.any()):
            raise ValueError("the batch has no valid ground-truth depth (dataset without depth?)")
        return depth.to(images.device, torch.float32)
