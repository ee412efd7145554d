"""Pinhole projection and unprojection in house conventions (see :mod:`genwarp.geometry.cameras`).

All functions take *normalised* intrinsics and work in integer-centred pixel coordinates: pixel
(x, y) — column x, row y — has its centre at (x, y).
"""

from __future__ import annotations

import torch
from jaxtyping import Float
from torch import Tensor

from genwarp.geometry._checks import expect_shape
from genwarp.geometry.cameras import normalized_to_pixel_intrinsics

__all__ = ["pixel_grid", "project", "transform_points", "unproject"]


def pixel_grid(
    height: int,
    width: int,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> Float[Tensor, "2 h w"]:
    """Integer-centred pixel coordinates: channel 0 = x (column), channel 1 = y (row)."""
    dtype = dtype or torch.float32
    ys = torch.arange(height, device=device, dtype=dtype)
    xs = torch.arange(width, device=device, dtype=dtype)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx, gy], dim=0)


def _pixel_intrinsics_entries(K_pix: Tensor) -> tuple[Tensor, ...]:
    # (B, 1, 1) entries, broadcastable against (B, H, W) maps.
    e = lambda i, j: K_pix[:, i, j].reshape(-1, 1, 1)  # noqa: E731
    return e(0, 0), e(0, 1), e(0, 2), e(1, 1), e(1, 2)


def unproject(
    depth: Float[Tensor, "b 1 h w"], intrinsics: Float[Tensor, "b 3 3"]
) -> Float[Tensor, "b 3 h w"]:
    """Lift every pixel to a camera-frame 3-D point, ``X = D(x, y) · K_pix⁻¹ · (x, y, 1)ᵀ``.

    Args:
        depth: z-depth per pixel.
        intrinsics: normalised intrinsics of that camera.
    Returns:
        Camera-frame (OpenCV) points; their z channel equals ``depth``.
    """
    expect_shape("unproject", "depth", depth, ("B", 1, "H", "W"))
    B, _, H, W = depth.shape
    expect_shape("unproject", "intrinsics", intrinsics, (f"B={B}", 3, 3))
    K = normalized_to_pixel_intrinsics(intrinsics.to(depth.dtype), H, W)
    fx, s, cx, fy, cy = _pixel_intrinsics_entries(K)
    grid = pixel_grid(H, W, device=depth.device, dtype=depth.dtype)
    # Closed-form inverse of an upper-triangular K (exact, no 3x3 solve per batch item).
    yn = (grid[1] - cy) / fy
    xn = (grid[0] - cx - s * yn) / fx
    d = depth[:, 0]
    return torch.stack([xn * d, yn * d, d], dim=1)


def transform_points(
    T: Float[Tensor, "b 4 4"], points: Float[Tensor, "b 3 *spatial"]
) -> Float[Tensor, "b 3 *spatial"]:
    """Apply a rigid (or affine) 4×4 transform to points with channel dim 1: ``R·X + t``."""
    if not isinstance(points, Tensor) or points.ndim < 2 or points.shape[1] != 3:
        raise ValueError(f"transform_points: `points` has shape {tuple(points.shape)}, expected (B, 3, ...)")
    B = points.shape[0]
    expect_shape("transform_points", "T", T, (f"B={B}", 4, 4))
    T = T.to(points.dtype)
    flat = points.reshape(B, 3, -1)
    out = T[:, :3, :3] @ flat + T[:, :3, 3:]
    return out.reshape(points.shape)


def project(
    points: Float[Tensor, "b 3 *spatial"],
    intrinsics: Float[Tensor, "b 3 3"],
    height: int,
    width: int,
) -> tuple[Float[Tensor, "b 2 *spatial"], Float[Tensor, "b 1 *spatial"]]:
    """Project camera-frame points into an image of size (height, width).

    Returns:
        ``(xy, z)``: integer-centred pixel coordinates (channel 0 = x, 1 = y) and the z-depth.
        Points with z = 0 give non-finite xy; points behind the camera (z < 0) project (mirrored)
        to finite positions — callers decide what is valid.
    """
    if not isinstance(points, Tensor) or points.ndim < 2 or points.shape[1] != 3:
        raise ValueError(f"project: `points` has shape {tuple(points.shape)}, expected (B, 3, ...)")
    B = points.shape[0]
    expect_shape("project", "intrinsics", intrinsics, (f"B={B}", 3, 3))
    K = normalized_to_pixel_intrinsics(intrinsics.to(points.dtype), height, width)
    flat = points.reshape(B, 3, -1)
    z = flat[:, 2:3]
    xn = flat[:, 0:1] / z
    yn = flat[:, 1:2] / z
    fx, s, cx, fy, cy = (e.reshape(B, 1, 1) for e in _pixel_intrinsics_entries(K))
    u = fx * xn + s * yn + cx
    v = fy * yn + cy
    spatial = points.shape[2:]
    return torch.cat([u, v], dim=1).reshape(B, 2, *spatial), z.reshape(B, 1, *spatial)
