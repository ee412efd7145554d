"""Per-pixel embeddings: Fourier coordinate embedding (GenWarp's condition) and Plücker rays.

Coordinate normalisations (:func:`coordinate_grid`):

* ``"release"`` — the official quirk (release-spec §5): pixel (x, y) ↦ (x / H, y / W), i.e. the
  column is divided by the *height* and the row by the *width* (invisible for square images),
  integer pixel positions. Required for the official checkpoints and the goldens.
* ``"pixel_centers"`` (house default) — pixel (x, y) ↦ ((x + 0.5)/W, (y + 0.5)/H), the pixel centres
  in the normalised-intrinsics frame, in (0, 1) for every image size.
"""

from __future__ import annotations

from typing import Literal

import torch
from jaxtyping import Float
from torch import Tensor

from genwarp.geometry.cameras import normalized_to_pixel_intrinsics
from genwarp.geometry.projection import pixel_grid

__all__ = [
    "COORDINATE_NORMALIZATIONS",
    "coordinate_embedding",
    "coordinate_grid",
    "embedding_channels",
    "fourier_embedding",
    "plucker_embedding",
]

COORDINATE_NORMALIZATIONS = ("pixel_centers", "release")
Normalization = Literal["pixel_centers", "release"]


def coordinate_grid(
    height: int,
    width: int,
    normalization: Normalization = "pixel_centers",
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> Float[Tensor, "2 h w"]:
    """Normalised pixel coordinates, channel 0 from the column x, channel 1 from the row y.

    ``"release"``: (x/H, y/W) (official quirk); ``"pixel_centers"``: ((x+0.5)/W, (y+0.5)/H).
    """
    if normalization not in COORDINATE_NORMALIZATIONS:
        raise ValueError(
            f"coordinate_grid: `normalization` must be one of {COORDINATE_NORMALIZATIONS}, "
            f"got {normalization!r}"
        )
    grid = pixel_grid(height, width, device=device, dtype=dtype or torch.float32)
    if normalization == "release":
        return torch.stack([grid[0] / height, grid[1] / width])
    return torch.stack([(grid[0] + 0.5) / width, (grid[1] + 0.5) / height])


def embedding_channels(num_frequencies: int = 2, input_channels: int = 2) -> int:
    """Channels of :func:`fourier_embedding`: ``input_channels · (1 + 2·num_frequencies)``."""
    return input_channels * (1 + 2 * num_frequencies)


def fourier_embedding(
    coords: Float[Tensor, "*batch c h w"], num_frequencies: int = 2
) -> Float[Tensor, "*batch c_out h w"]:
    """NeRF-style Fourier features with the input included (release-spec §5).

    Frequencies 2^0 … 2^(n−1) (log-sampled, no π factor). Channel order, for input channels
    (c0, c1): ``[c0, c1, sin(f0·c0), sin(f0·c1), cos(f0·c0), cos(f0·c1), sin(f1·c0), …]``.

    Args:
        coords: (C, H, W) or (B, C, H, W); the channel axis is dim −3.
        num_frequencies: n ≥ 0.
    Returns:
        (…, C·(1 + 2n), H, W).
    """
    if coords.ndim < 3:
        raise ValueError(
            f"fourier_embedding: `coords` has shape {tuple(coords.shape)}, expected (C, H, W) or (B, C, H, W)"
        )
    if num_frequencies < 0:
        raise ValueError(f"fourier_embedding: `num_frequencies` must be ≥ 0, got {num_frequencies}")
    parts = [coords]
    for k in range(num_frequencies):
        scaled = coords * float(2.0**k)  # powers of two: exact in any float dtype
        parts += [torch.sin(scaled), torch.cos(scaled)]
    return torch.cat(parts, dim=-3)


def coordinate_embedding(
    batch: int,
    height: int,
    width: int,
    normalization: Normalization = "pixel_centers",
    num_frequencies: int = 2,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> Float[Tensor, "b c h w"]:
    """The GenWarp coordinate embedding, (B, 2 + 4n, H, W), identical for every batch item.

    ``coordinate_embedding(B, H, W, "release", 2)`` is the official 10-channel embedding.
    """
    grid = coordinate_grid(height, width, normalization, device=device, dtype=dtype)
    emb = fourier_embedding(grid, num_frequencies)
    return emb.unsqueeze(0).expand(batch, -1, -1, -1).contiguous()


def plucker_embedding(
    intrinsics: Float[Tensor, "b 3 3"],
    cam_to_ref: Float[Tensor, "b 4 4"],
    height: int,
    width: int,
) -> Float[Tensor, "b 6 h w"]:
    """Per-pixel Plücker ray coordinates ``[d, o × d]`` in a reference frame.

    For the camera with normalised ``intrinsics`` whose pose in the reference frame is
    ``cam_to_ref`` (OpenCV, camera → reference), pixel (x, y)'s ray has unit direction
    ``d = normalize(R · K_pix⁻¹ (x, y, 1))`` and passes through the camera centre ``o = t``; its
    moment is ``o × d``. Channels: [d_x, d_y, d_z, m_x, m_y, m_z].
    """
    func = "plucker_embedding"
    if intrinsics.ndim != 3 or tuple(intrinsics.shape[1:]) != (3, 3):
        raise ValueError(f"{func}: `intrinsics` has shape {tuple(intrinsics.shape)}, expected (B, 3, 3)")
    B = intrinsics.shape[0]
    if tuple(cam_to_ref.shape) != (B, 4, 4):
        raise ValueError(f"{func}: `cam_to_ref` has shape {tuple(cam_to_ref.shape)}, expected (B={B}, 4, 4)")
    dtype = intrinsics.dtype if intrinsics.is_floating_point() else torch.float32
    K = normalized_to_pixel_intrinsics(intrinsics.to(dtype), height, width)
    T = cam_to_ref.to(dtype)
    grid = pixel_grid(height, width, device=intrinsics.device, dtype=dtype)
    pix = torch.cat([grid, torch.ones_like(grid[:1])]).reshape(3, -1)  # (3, HW)
    # Directions in the camera frame; solve_triangular instead of an explicit inverse.
    rays = torch.linalg.solve_triangular(K, pix.expand(B, 3, -1), upper=True)
    d = torch.nn.functional.normalize(T[:, :3, :3] @ rays, dim=1)
    o = T[:, :3, 3:].expand_as(d)
    m = torch.linalg.cross(o, d, dim=1)
    return torch.cat([d, m], dim=1).reshape(B, 6, height, width)
