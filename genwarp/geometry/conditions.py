"""Warped-condition builders: GenWarp's coordinate conditions and the embedding ablations.

Each kind produces a *source* condition (what the semantic-preserver stream sees with the source
image) and a *target* condition (what the denoising stream sees for the novel view), both
(B, Cc, H, W), plus the forward-warped source image and its visibility:

========  ====  =================================================================================
kind      Cc    source / target
========  ====  =================================================================================
coords    2+4n  [Fourier coordinate embedding, zeros] / [warped embedding, hole]  (the paper; 11 ch
          +1    with n = 2; with ``normalization="release", importance="release"`` this is exactly
                the official condition, release-spec §7)
depth     2     [median_src / D, zeros] / [median_src / z' warped, hole] — inverse depth normalised
                by the source's median depth; the target channel is measured in the TARGET view
image     4     [image, zeros] / [warped image, hole]
plucker   6     Plücker rays of the source camera / of the target camera, both in the source
                frame (no hole channel; the warp still runs for ``warped_image``/``visibility``)
========  ====  =================================================================================

``hole = 1 − visibility`` (1 where no source point landed).

Every builder does exactly ONE softmax splat per call: all warped channels are splatted together
with the image (as the release splats [embedding, image] as 13 channels), so they share weights.

Several target views of one source: pass the source repeated along the batch, one item per target
(``src_to_tgt`` is (B, 4, 4)); all functions accept any batch size.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Float
from torch import Tensor

from genwarp.geometry._checks import expect_shape
from genwarp.geometry.cameras import invert_rigid
from genwarp.geometry.embeddings import (
    Normalization,
    coordinate_embedding,
    embedding_channels,
    plucker_embedding,
)
from genwarp.geometry.splatting import (
    INVALID_COORDINATE,
    Importance,
    prepare_splat,
    softmax_splat,
)

__all__ = ["CONDITION_KINDS", "Conditions", "build_conditions", "condition_channels"]

CONDITION_KINDS = ("coords", "depth", "image", "plucker")


@dataclass(frozen=True)
class Conditions:
    """Output of :func:`build_conditions` (all in the image's dtype except ``correspondence``)."""

    source: Float[Tensor, "b cc h w"]
    target: Float[Tensor, "b cc h w"]
    warped_image: Float[Tensor, "b 3 h w"]
    visibility: Float[Tensor, "b 1 h w"]  # 1 where some source point landed
    correspondence: Float[Tensor, "b 2 h w"]  # target pixel of each source pixel; −1e6 if invalid


def condition_channels(kind: str, num_frequencies: int = 2) -> int:
    """Channels of the source/target condition of ``kind`` (11 for "coords" with 2 frequencies)."""
    if kind == "coords":
        return embedding_channels(num_frequencies) + 1
    if kind == "depth":
        return 2
    if kind == "image":
        return 4
    if kind == "plucker":
        return 6
    raise ValueError(f"condition_channels: `kind` must be one of {CONDITION_KINDS}, got {kind!r}")


def build_conditions(
    kind: str,
    image: Float[Tensor, "b 3 h w"],
    depth: Float[Tensor, "b 1 h w"],
    src_intrinsics: Float[Tensor, "b 3 3"],
    tgt_intrinsics: Float[Tensor, "b 3 3"],
    src_to_tgt: Float[Tensor, "b 4 4"],
    *,
    normalization: Normalization = "pixel_centers",
    num_frequencies: int = 2,
    importance: Importance = "inverse_depth",
    near: float | Tensor = 0.01,
    far: float | Tensor = 100.0,
) -> Conditions:
    """Build the source and target conditions of one kind (see the module docstring).

    Args:
        kind: one of :data:`CONDITION_KINDS`.
        image: source image in [0, 1].
        depth: source z-depth.
        src_intrinsics, tgt_intrinsics: normalised intrinsics (target at the same size).
        src_to_tgt: OpenCV source → target camera transform.
        normalization, num_frequencies: coordinate embedding settings ("coords" only).
        importance, near, far: splat settings, see :func:`~genwarp.geometry.splatting.forward_warp`.
            ``normalization="release", importance="release"`` reproduces the official conditions.
    """
    func = "build_conditions"
    if kind not in CONDITION_KINDS:
        raise ValueError(f"{func}: `kind` must be one of {CONDITION_KINDS}, got {kind!r}")
    expect_shape(func, "image", image, ("B", 3, "H", "W"))
    B, _, H, W = image.shape
    expect_shape(func, "depth", depth, (f"B={B}", 1, f"H={H}", f"W={W}"))
    expect_shape(func, "src_intrinsics", src_intrinsics, (f"B={B}", 3, 3))
    expect_shape(func, "tgt_intrinsics", tgt_intrinsics, (f"B={B}", 3, 3))
    expect_shape(func, "src_to_tgt", src_to_tgt, (f"B={B}", 4, 4))
    out_dtype = image.dtype
    cdt = torch.float64 if torch.float64 in (image.dtype, depth.dtype) else torch.float32
    device = image.device
    img = image.to(cdt)
    d = depth.to(cdt)

    splat = prepare_splat(
        d, src_intrinsics, tgt_intrinsics, src_to_tgt, importance=importance, near=near, far=far
    )

    # Channels carried through the (single) splat, in front of the image.
    if kind == "coords":
        src_extra = coordinate_embedding(
            B, H, W, normalization, num_frequencies, device=device, dtype=cdt
        )
        carried = src_extra
    elif kind == "depth":
        # Median of the source depth: a per-item scale, so the condition does not depend on the
        # scene's units (lower median, deterministic).
        # Missing depth (≤ 0 or non-finite) is left out of the median and gets 0 ("no depth").
        src_ok = torch.isfinite(d) & (d > 0)
        median = torch.where(src_ok, d, torch.nan).reshape(B, -1).nanmedian(dim=1).values
        median = torch.nan_to_num(median, nan=1.0).reshape(B, 1, 1, 1)
        src_extra = torch.where(src_ok, median / torch.where(src_ok, d, 1.0), 0.0)
        z = splat.target_depth
        # Invalid points are never splatted; keep their value finite (z' may be 0 there).
        carried = torch.where(splat.valid, median / torch.where(splat.valid, z, 1.0), 0.0)
    else:
        src_extra = None
        carried = None

    stacked = img if carried is None else torch.cat([carried, img], dim=1)
    warped, visibility = softmax_splat(
        stacked, splat.target_xy, splat.log_weight, splat.valid, eps=1e-6
    )
    warped_image = warped[:, -3:]
    hole = 1.0 - visibility
    zeros = torch.zeros_like(hole)

    if kind in ("coords", "depth"):
        source = torch.cat([src_extra, zeros], dim=1)
        target = torch.cat([warped[:, :-3], hole], dim=1)
    elif kind == "image":
        source = torch.cat([img, zeros], dim=1)
        target = torch.cat([warped_image, hole], dim=1)
    else:  # plucker
        eye = torch.eye(4, dtype=cdt, device=device).expand(B, 4, 4)
        source = plucker_embedding(src_intrinsics.to(cdt), eye, H, W)
        # The target camera's pose in the source frame is the inverse of src_to_tgt.
        target = plucker_embedding(tgt_intrinsics.to(cdt), invert_rigid(src_to_tgt.to(cdt)), H, W)

    correspondence = torch.where(
        splat.valid, splat.target_xy, torch.full_like(splat.target_xy, INVALID_COORDINATE)
    )
    return Conditions(
        source=source.to(out_dtype),
        target=target.to(out_dtype),
        warped_image=warped_image.to(out_dtype),
        visibility=visibility.to(out_dtype),
        correspondence=correspondence,
    )
