"""Input validation for the sampling pipeline.

Every check raises a ``ValueError`` that names the argument, what was seen and what was expected,
so a wrong camera convention or a pixel-space intrinsics matrix fails at the door instead of
producing a silently wrong image.
"""

from __future__ import annotations

import torch
from torch import Tensor

# Normalised intrinsics have fx/W, fy/H of order 1 (0.3–3 for common lenses) and principal points
# near 0.5; pixel-space values are in the hundreds. Anything above this is not normalised.
MAX_NORMALIZED_INTRINSIC = 20.0
RIGID_TOLERANCE = 1e-3


def _describe(t: Tensor) -> str:
    return f"shape {tuple(t.shape)}, dtype {t.dtype}"


def check_tensor(name: str, value, ndim: tuple[int, ...], trailing: tuple[int | None, ...]) -> Tensor:
    """``value`` is a floating tensor with one of ``ndim`` dims whose last dims match ``trailing``."""
    if not isinstance(value, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if not value.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got {_describe(value)}")
    if value.ndim not in ndim or any(
        t is not None and s != t for s, t in zip(value.shape[value.ndim - len(trailing) :], trailing)
    ):
        dims = " or ".join(str(n) for n in ndim)
        want = ", ".join("*" if t is None else str(t) for t in trailing)
        raise ValueError(f"{name} must have {dims} dims ending in ({want}), got {_describe(value)}")
    if not torch.isfinite(value).all():
        raise ValueError(f"{name} contains non-finite values (NaN or inf)")
    return value


def check_image(name: str, image: Tensor) -> None:
    check_tensor(name, image, (4,), (3, None, None))
    lo, hi = image.min().item(), image.max().item()
    if lo < -1e-3 or hi > 1 + 1e-3:
        raise ValueError(
            f"{name} must be RGB in [0, 1], got values in [{lo:.4g}, {hi:.4g}] "
            "(divide uint8 images by 255; map [-1, 1] images with x * 0.5 + 0.5)"
        )


def check_depth(name: str, depth: Tensor, image: Tensor, mask: Tensor | None = None) -> None:
    """Positive, finite z-depth of the image's size (only where ``mask`` is True, if given)."""
    if mask is not None:
        if not isinstance(mask, Tensor) or mask.dtype != torch.bool or mask.shape != depth.shape:
            raise ValueError(f"depth_mask must be a bool tensor shaped like {name} {tuple(depth.shape)}, got "
                             f"{_describe(mask) if isinstance(mask, Tensor) else type(mask).__name__}")
        depth = torch.where(mask, depth, torch.ones_like(depth))
    check_tensor(name, depth, (4,), (1, None, None))
    if depth.shape[0] != image.shape[0] or depth.shape[-2:] != image.shape[-2:]:
        raise ValueError(
            f"{name} must be (B, 1, H, W) matching the image {tuple(image.shape)}, got {tuple(depth.shape)}"
        )
    lo = depth.min().item()
    if lo <= 0:
        raise ValueError(f"{name} must be positive z-depth, got a minimum of {lo:.4g} "
                         "(mark unknown pixels with depth_mask instead)")


def check_intrinsics(name: str, K: Tensor) -> None:
    if K.shape[-2:] != (3, 3):
        raise ValueError(f"{name} must end in (3, 3), got {_describe(K)}")
    top = K[..., :2, :].abs().max().item()
    if top > MAX_NORMALIZED_INTRINSIC:
        raise ValueError(
            f"{name} must be normalised by image width/height (fx/W, fy/H, cx/W, cy/H), but holds values "
            f"up to {top:.4g}: convert pixel intrinsics with genwarp.geometry.pixel_to_normalized_intrinsics"
        )
    bottom = K[..., 2, :]
    expected = torch.tensor([0.0, 0.0, 1.0], dtype=K.dtype, device=K.device)
    if not torch.allclose(bottom, expected.expand_as(bottom), atol=1e-6):
        raise ValueError(f"{name} must have last row (0, 0, 1), got {bottom.reshape(-1, 3)[0].tolist()}")
    if (K[..., 0, 0] <= 0).any() or (K[..., 1, 1] <= 0).any():
        raise ValueError(f"{name} must have positive focal lengths, got fx={K[..., 0, 0].min().item():.4g}, "
                         f"fy={K[..., 1, 1].min().item():.4g}")


def check_rigid(name: str, T: Tensor) -> None:
    if T.shape[-2:] != (4, 4):
        raise ValueError(f"{name} must end in (4, 4), got {_describe(T)}")
    T = T.double()
    R = T[..., :3, :3]
    eye = torch.eye(3, dtype=T.dtype, device=T.device)
    ortho = (R.transpose(-1, -2) @ R - eye).abs().max().item()
    det = torch.linalg.det(R)
    bottom = T[..., 3, :]
    bottom_ok = torch.allclose(bottom, torch.tensor([0.0, 0, 0, 1], dtype=T.dtype, device=T.device).expand_as(bottom),
                               atol=1e-6)
    if ortho > RIGID_TOLERANCE or (det - 1).abs().max().item() > RIGID_TOLERANCE or not bottom_ok:
        raise ValueError(
            f"{name} must be a rigid transform [R t; 0 0 0 1] with R a rotation, got |RᵀR − I| = {ortho:.3g}, "
            f"det R = {det.reshape(-1)[0].item():.4g}, last row {bottom.reshape(-1, 4)[0].tolist()} "
            "(scale or shear is not allowed; build it with genwarp.geometry.relative_transform)"
        )


def check_resolution(height: int, width: int, factor: int) -> None:
    for name, value in (("height", height), ("width", width)):
        if not isinstance(value, int) or value <= 0 or value % factor:
            raise ValueError(f"{name} must be a positive multiple of {factor}, got {value!r}")


__all__ = ["check_depth", "check_image", "check_intrinsics", "check_resolution", "check_rigid", "check_tensor"]
