"""Resolution / crop shims: change the pixels and the intrinsics together.

Intrinsics are normalised (fx/W, fy/H, cx/W, cy/H with pixel centres at (x+0.5)/W), so

* a **resize** (any aspect change included) leaves them unchanged, provided the resampling is
  centre-aligned (``align_corners=False``, ``nearest-exact``), which is what is used here;
* a **crop** of ``(top, left, h, w)`` from a ``(H, W)`` image maps the normalised coordinate
  ``u`` to ``(u·W − left)/w``: ``fx' = fx·W/w``, ``cx' = (cx·W − left)/w`` (likewise for y).

A shim is called on the list of views of one pair (``shim([src, tgt], rng)``) so that random
choices are shared by both views (one crop window for the pair) unless a shim says otherwise.
Depth maps are first brought onto the image grid, then resampled with nearest neighbour so that
depth edges never blend.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor

from genwarp.data.contract import View

__all__ = [
    "CenterCrop",
    "CenterCropToAspect",
    "Compose",
    "Identity",
    "RandomCrop",
    "RandomCropToAspect",
    "Resize",
    "ResizeShortSide",
    "Shim",
    "SixteenNineToSquare",
    "crop_intrinsics",
    "crop_view",
    "make_shim",
    "resize_view",
]


def _size2(size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(size, int):
        return size, size
    h, w = size
    return int(h), int(w)


def crop_intrinsics(
    K: Float[Tensor, "*batch 3 3"], image_hw: tuple[int, int], top: int, left: int, crop_hw: tuple[int, int]
) -> Float[Tensor, "*batch 3 3"]:
    """Normalised intrinsics of the window ``(top, left, crop_h, crop_w)`` of an ``image_hw`` image."""
    H, W = image_hw
    h, w = crop_hw
    K = K.clone()
    K[..., 0, 0] = K[..., 0, 0] * W / w
    K[..., 0, 1] = K[..., 0, 1] * W / w
    K[..., 0, 2] = (K[..., 0, 2] * W - left) / w
    K[..., 1, 1] = K[..., 1, 1] * H / h
    K[..., 1, 2] = (K[..., 1, 2] * H - top) / h
    return K


def crop_view(view: View, top: int, left: int, height: int, width: int) -> View:
    H, W = view.size
    if top < 0 or left < 0 or top + height > H or left + width > W or height <= 0 or width <= 0:
        raise ValueError(f"crop window (top={top}, left={left}, h={height}, w={width}) outside a {H}x{W} image")
    view = view.aligned_depth()
    sl = (..., slice(top, top + height), slice(left, left + width))
    return View(
        image=view.image[sl],
        intrinsics=crop_intrinsics(view.intrinsics, (H, W), top, left, (height, width)),
        c2w=view.c2w,
        depth=None if view.depth is None else view.depth[sl],
        depth_valid=None if view.depth_valid is None else view.depth_valid[sl],
        depth_source=view.depth_source,
        index=view.index,
        extras=view.extras,
    )


def resize_view(view: View, height: int, width: int) -> View:
    if view.size == (height, width):
        return view
    view = view.aligned_depth()
    H, W = view.size
    down = height < H or width < W
    image = F.interpolate(
        view.image[None].float(), size=(height, width), mode="bilinear", align_corners=False, antialias=down
    )[0].clamp(0, 1)
    depth = valid = None
    if view.depth is not None:
        depth = F.interpolate(view.depth[None].float(), size=(height, width), mode="nearest-exact")[0]
        v = view.depth_valid if view.depth_valid is not None else torch.isfinite(view.depth) & (view.depth > 0)
        valid = F.interpolate(v[None].float(), size=(height, width), mode="nearest-exact")[0] > 0.5
    return View(image, view.intrinsics, view.c2w, depth, valid, view.depth_source, view.index, view.extras)


class Shim:
    """Base class: ``shim(views, rng) -> views`` (one list per pair, shared random choices)."""

    def __call__(self, views: Sequence[View], rng: np.random.Generator | None = None) -> list[View]:
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class Identity(Shim):
    def __call__(self, views: Sequence[View], rng: np.random.Generator | None = None) -> list[View]:
        return list(views)


class Compose(Shim):
    def __init__(self, shims: Sequence[Shim]):
        self.shims = list(shims)

    def __call__(self, views: Sequence[View], rng: np.random.Generator | None = None) -> list[View]:
        out = list(views)
        for shim in self.shims:
            out = shim(out, rng)
        return out


class Resize(Shim):
    """Resize to ``size`` (an int for a square, or (H, W)); the aspect ratio may change."""

    def __init__(self, size: int | Sequence[int]):
        self.size = _size2(size)

    def __call__(self, views: Sequence[View], rng: np.random.Generator | None = None) -> list[View]:
        return [resize_view(v, *self.size) for v in views]


class ResizeShortSide(Shim):
    """Resize so that the shorter side equals ``size``, keeping the aspect ratio (rounded)."""

    def __init__(self, size: int):
        self.size = int(size)

    def __call__(self, views: Sequence[View], rng: np.random.Generator | None = None) -> list[View]:
        out = []
        for v in views:
            H, W = v.size
            s = self.size / min(H, W)
            out.append(resize_view(v, max(1, round(H * s)), max(1, round(W * s))))
        return out


class CenterCrop(Shim):
    """Crop the central ``size`` window (an int for a square, or (H, W))."""

    def __init__(self, size: int | Sequence[int]):
        self.size = _size2(size)

    def __call__(self, views: Sequence[View], rng: np.random.Generator | None = None) -> list[View]:
        h, w = self.size
        out = []
        for v in views:
            H, W = v.size
            out.append(crop_view(v, (H - h) // 2, (W - w) // 2, h, w))
        return out


class RandomCrop(Shim):
    """Crop a random ``size`` window; the same window for every view of the pair when the views
    have one size (``shared=True``), else one window per view."""

    def __init__(self, size: int | Sequence[int], shared: bool = True):
        self.size = _size2(size)
        self.shared = shared

    def __call__(self, views: Sequence[View], rng: np.random.Generator | None = None) -> list[View]:
        rng = rng if rng is not None else np.random.default_rng()
        h, w = self.size
        out, window = [], None
        for v in views:
            H, W = v.size
            if window is None or not self.shared or window[0] != (H, W):
                window = ((H, W), int(rng.integers(0, H - h + 1)), int(rng.integers(0, W - w + 1)))
            out.append(crop_view(v, window[1], window[2], h, w))
        return out


def _aspect_window(H: int, W: int, aspect: float) -> tuple[int, int]:
    """Largest (h, w) with w/h = aspect (rounded) inside (H, W)."""
    if W / H > aspect:
        return H, max(1, min(W, round(H * aspect)))
    return max(1, min(H, round(W / aspect))), W


class CenterCropToAspect(Shim):
    """Crop the largest central window of aspect ``aspect`` = W/H (1.0: square)."""

    def __init__(self, aspect: float = 1.0):
        self.aspect = float(aspect)

    def __call__(self, views: Sequence[View], rng: np.random.Generator | None = None) -> list[View]:
        out = []
        for v in views:
            H, W = v.size
            h, w = _aspect_window(H, W, self.aspect)
            out.append(crop_view(v, (H - h) // 2, (W - w) // 2, h, w))
        return out


class RandomCropToAspect(Shim):
    """Crop the largest window of aspect ``aspect`` at a random offset (shared within a pair)."""

    def __init__(self, aspect: float = 1.0, shared: bool = True):
        self.aspect = float(aspect)
        self.shared = shared

    def __call__(self, views: Sequence[View], rng: np.random.Generator | None = None) -> list[View]:
        rng = rng if rng is not None else np.random.default_rng()
        out, frac = [], None
        for v in views:
            H, W = v.size
            h, w = _aspect_window(H, W, self.aspect)
            if frac is None or not self.shared:
                frac = (float(rng.random()), float(rng.random()))
            out.append(crop_view(v, round(frac[0] * (H - h)), round(frac[1] * (W - w)), h, w))
        return out


def SixteenNineToSquare() -> Shim:  # noqa: N802 (reads as a shim name)
    """RealEstate10K / ACID 16:9 frames → the central square (a :class:`CenterCropToAspect` of 1)."""
    return CenterCropToAspect(1.0)


def make_shim(resolution: int | Sequence[int] | None, crop: str = "center") -> Shim:
    """The usual shim: crop to the target aspect, then resize.

    Args:
        resolution: output size (int → square), or ``None`` to keep frames as they are.
        crop: ``"center"`` (evaluation), ``"random"`` (training augmentation) or ``"none"``
            (squash the frame to ``resolution``).
    """
    if resolution is None:
        return Identity()
    h, w = _size2(resolution)
    if crop == "none":
        return Resize((h, w))
    if crop == "center":
        return Compose([CenterCropToAspect(w / h), Resize((h, w))])
    if crop == "random":
        return Compose([RandomCropToAspect(w / h), Resize((h, w))])
    raise ValueError(f"crop must be 'center', 'random' or 'none', got {crop!r}")
