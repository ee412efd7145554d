"""FID through torchmetrics with the standard (TF-ported) Inception, one accumulator per group.

The feature extractor is torchmetrics' ``NoTrainInceptionV3`` (torch-fidelity's network) loaded
from the local file ``weights-inception-2015-12-05-6726825d.pth`` (see
:mod:`genwarp.evaluation.weights`) with ``antialias=False``, i.e. the TF-1.x bilinear resize of
torch-fidelity / pytorch-fid, so numbers match those tools. Images are fed as uint8 (rounded, not
truncated). One extractor is shared by the accumulators of every group (``mid``, ``long`` …).

Tests inject a tiny random feature network through the same class.

What a FID value is computed from is recorded with it (:meth:`FIDMetric.info`, written into
``summary.json`` as ``fid_images`` / ``fid_resolution`` / ``fid_resize`` per range): the number of
generated images, their resolution and how the extractor resizes them. With fewer than
:data:`FID_MIN_IMAGES` (2 048, the Inception feature dimension) images the feature covariance is
rank-deficient and FID is biased upwards: such a value is reported with a warning, and is not
comparable to published FIDs computed from more images.
"""

from __future__ import annotations

import math
import os
import warnings

import torch
from jaxtyping import Float
from torch import Tensor, nn

from genwarp.evaluation.weights import resolve_weights

__all__ = ["FID_MIN_IMAGES", "FID_RESIZE", "FIDMetric", "build_inception", "to_uint8"]

FID_MIN_IMAGES = 2048
FID_RESIZE = "bilinear to 299x299, antialias=False (torch-fidelity / TF-1.x Inception, inception-v3-compat)"


def to_uint8(images: Float[Tensor, "b 3 h w"]) -> Tensor:
    """[0, 1] floats → uint8 with rounding (torchmetrics' ``normalize=True`` truncates)."""
    return (images.float().clamp(0, 1) * 255).round().to(torch.uint8)


def build_inception(weights_dir: str | os.PathLike | None = None, metrics: list[str] | None = None) -> nn.Module:
    """torchmetrics' FID Inception (2048-d pool features) from the local standard weights file."""
    path = resolve_weights("inception", weights_dir, metrics=metrics)
    try:
        from torchmetrics.image.fid import NoTrainInceptionV3
    except ImportError as err:
        raise ImportError("FID needs torchmetrics and torch-fidelity: pip install torchmetrics torch-fidelity") from err
    return NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048"],
                              feature_extractor_weights_path=str(path), antialias=False)


class FIDMetric:
    """Fréchet Inception Distance per group of pairs.

    Args:
        extractor: a module mapping uint8 (B, 3, H, W) images to (B, D) features; default the
            standard FID Inception (:func:`build_inception`).
        device: where features are computed.
        weights_dir: where to look for the Inception weights (default extractor only).
        name: column name in result tables.
    """

    def __init__(self, extractor: nn.Module | None = None, device: str | torch.device = "cpu",
                 weights_dir: str | os.PathLike | None = None, name: str = "fid",
                 metrics: list[str] | None = None):
        self.extractor = (extractor if extractor is not None else build_inception(weights_dir, metrics)).to(device)
        self.extractor.eval()
        self.device = torch.device(device)
        self.name = name
        self.resize = FID_RESIZE if extractor is None else f"injected extractor {type(extractor).__name__} (its own resizing)"
        self._groups: dict = {}
        self._sizes: dict[str, set[tuple[int, int]]] = {}

    def _metric(self, group: str):
        if group not in self._groups:
            from torchmetrics.image.fid import FrechetInceptionDistance

            self._groups[group] = FrechetInceptionDistance(feature=self.extractor, normalize=False).to(self.device)
        return self._groups[group]

    @torch.no_grad()
    def update(self, real: Float[Tensor, "b 3 h w"], fake: Float[Tensor, "b 3 h w"], group: str = "all") -> None:
        """Add a batch of target (``real``) and generated (``fake``) images in [0, 1] to ``group``."""
        if real.shape != fake.shape or real.ndim != 4 or real.shape[1] != 3:
            raise ValueError(f"FID: real {tuple(real.shape)} and fake {tuple(fake.shape)} must both be (B, 3, H, W)")
        metric = self._metric(group)
        self._sizes.setdefault(group, set()).add((int(fake.shape[-2]), int(fake.shape[-1])))
        metric.update(to_uint8(real).to(self.device), real=True)
        metric.update(to_uint8(fake).to(self.device), real=False)

    def groups(self) -> list[str]:
        return list(self._groups)

    def num_images(self, group: str = "all") -> int:
        metric = self._groups.get(group)
        return 0 if metric is None else int(metric.fake_features_num_samples)

    def info(self, group: str = "all", num_images: int | None = None) -> dict[str, object]:
        """What the FID of ``group`` is computed from: ``fid_images`` (generated images, as many
        targets; ``num_images`` when the caller knows the count over all processes),
        ``fid_resolution`` (``"HxW"`` of the images fed, ``"mixed: …"`` if several) and
        ``fid_resize`` (the extractor's resizing)."""
        sizes = sorted(self._sizes.get(group, set()))
        res = "none" if not sizes else (f"{sizes[0][0]}x{sizes[0][1]}" if len(sizes) == 1
                                        else "mixed: " + ", ".join(f"{h}x{w}" for h, w in sizes))
        n = self.num_images(group) if num_images is None else int(num_images)
        return {"fid_images": n, "fid_resolution": res, "fid_resize": self.resize}

    def compute(self, group: str = "all") -> float:
        """FID of ``group`` (NaN, with a warning, when it holds fewer than 2 pairs; a warning when
        fewer than :data:`FID_MIN_IMAGES`)."""
        metric = self._groups.get(group)
        n = self.num_images(group)
        if n < 2:
            warnings.warn(f"FID of group {group!r} needs at least 2 pairs, has {n}: reported as NaN", stacklevel=2)
            return math.nan
        if n < FID_MIN_IMAGES:
            warnings.warn(f"FID of group {group!r} from {n} images, fewer than {FID_MIN_IMAGES} (the Inception feature "
                          "dimension): the covariance is rank-deficient and FID is biased upwards; not comparable to "
                          f"FIDs from >= {FID_MIN_IMAGES} images", stacklevel=2)
        return float(metric.compute())

    def reset(self) -> None:
        self._groups.clear()
        self._sizes.clear()
