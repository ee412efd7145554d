"""Forward warping by softmax z-weighted bilinear splatting (pure torch).

Pipeline of :func:`forward_warp`, each step public so it can be tested and reused:

1. :func:`warp_coordinates` — unproject every source pixel with its depth, move it into the target
   camera, project: target pixel position (x', y') and target z-depth z' of every *source* pixel.
2. :func:`splat_validity` — which source points may splat at all.
3. :func:`splat_importance` — per-point log-weight in [−10, 0] (nearer = larger), so that in the
   softmax splat foreground points dominate background points landing on the same pixel.
4. :func:`softmax_splat` — bilinear forward splatting of ``values·exp(w)`` and ``exp(w)`` into the
   four integer neighbours of each target position; output = numerator / (denominator + eps).

Two importance modes:

``"release"`` — the official GenWarp behaviour (release-spec §6), quirks included, matching the
    official goldens up to float32 rounding of the target positions:
    importance from the *clip-space* z of the target OpenGL projection,
    ``z_clip = ((far + near)·z' − 2·far·near)/(far − near)``, ``imp = 0.5/z_clip`` normalised with
    min/max over **all** points (invalid ones included); a point is invalid iff its screen z ≤ 0,
    i.e. 0 < z' ≤ near — points **behind** the target camera are *kept* and project mirrored.
    Needed for the official checkpoints and the goldens; ``near``/``far`` matter.

``"inverse_depth"`` (house default) — the same softmax splat, but a point is invalid iff z' ≤ near
    (so behind-camera points are dropped) and the importance is 1/z' normalised to [−10, 0] by the
    min/max over the **valid** points of each item (scale-invariant: multiplying depths and
    translations by a constant does not change the weights). ``far`` is unused. The log-weights
    are shifted to [0, 10] before splatting so that ``eps`` does not darken far points (the release
    loses up to ≈2.2 % there); see :class:`SplatInputs`.

Conventions: see :mod:`genwarp.geometry.cameras` (OpenCV axes, normalised intrinsics,
integer-centred pixels, z-depth).
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import torch
from jaxtyping import Bool, Float
from torch import Tensor

from genwarp.geometry._checks import expect_shape
from genwarp.geometry.projection import pixel_grid, project, transform_points, unproject

__all__ = [
    "IMPORTANCE_MODES",
    "HOUSE_LOG_WEIGHT_SHIFT",
    "INVALID_COORDINATE",
    "SplatInputs",
    "forward_warp",
    "prepare_splat",
    "softmax_splat",
    "splat_importance",
    "splat_validity",
    "warp_coordinates",
]

IMPORTANCE_MODES = ("inverse_depth", "release")
#: Fill value of ``correspondence`` for invalid source points (as the release, float32 mode).
INVALID_COORDINATE = -1e6

Importance = Literal["inverse_depth", "release"]


# --------------------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------------------


def _compute_dtype(*tensors: Tensor) -> torch.dtype:
    # float32 unless the caller asked for float64 precision; half types are upcast (the splat's
    # accumulation and the 1/z normalisation are not safe in fp16/bf16).
    return torch.float64 if any(t.dtype == torch.float64 for t in tensors) else torch.float32


def _per_item(func: str, name: str, x: float | Tensor, B: int, like: Tensor) -> Tensor:
    """A scalar or (B,) tensor → (B, 1, 1, 1) on ``like``'s device/dtype."""
    t = torch.as_tensor(x, dtype=like.dtype, device=like.device)
    if t.ndim == 0:
        t = t.expand(B)
    elif t.ndim != 1 or t.shape[0] != B:
        raise ValueError(
            f"{func}: `{name}` has shape {tuple(t.shape)}, expected a float, a 0-d tensor or (B={B},)"
        )
    return t.reshape(B, 1, 1, 1)


def _check_importance(func: str, importance: str) -> None:
    if importance not in IMPORTANCE_MODES:
        raise ValueError(f"{func}: `importance` must be one of {IMPORTANCE_MODES}, got {importance!r}")


def _check_out_size(func: str, out_size: object, default: tuple[int, int]) -> tuple[int, int]:
    if out_size is None:
        return default
    try:
        h, w = (int(s) for s in out_size)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise ValueError(f"{func}: `out_size` must be (height, width), got {out_size!r}") from None
    if h <= 0 or w <= 0:
        raise ValueError(f"{func}: `out_size` must be positive, got {out_size!r}")
    return h, w


# --------------------------------------------------------------------------------------------------
# Steps
# --------------------------------------------------------------------------------------------------


def warp_coordinates(
    depth: Float[Tensor, "b 1 h w"],
    src_intrinsics: Float[Tensor, "b 3 3"],
    tgt_intrinsics: Float[Tensor, "b 3 3"],
    src_to_tgt: Float[Tensor, "b 4 4"],
    *,
    out_size: tuple[int, int] | None = None,
) -> tuple[Float[Tensor, "b 2 h w"], Float[Tensor, "b 1 h w"]]:
    """Target pixel position and target z-depth of every source pixel.

    Computed in ``depth``'s dtype. Non-finite positions (z' = 0) are possible; see
    :func:`splat_validity`.

    Args:
        depth: source z-depth.
        src_intrinsics, tgt_intrinsics: normalised intrinsics (target normalised by ``out_size``).
        src_to_tgt: OpenCV source-camera → target-camera transform.
        out_size: target image (height, width); default the source size.
    Returns:
        ``(target_xy, target_depth)``: integer-centred target pixel coordinates (x', y') and z'.
    """
    func = "warp_coordinates"
    expect_shape(func, "depth", depth, ("B", 1, "H", "W"))
    B, _, H, W = depth.shape
    expect_shape(func, "src_intrinsics", src_intrinsics, (f"B={B}", 3, 3))
    expect_shape(func, "tgt_intrinsics", tgt_intrinsics, (f"B={B}", 3, 3))
    expect_shape(func, "src_to_tgt", src_to_tgt, (f"B={B}", 4, 4))
    Ho, Wo = _check_out_size(func, out_size, (H, W))
    dt = depth.dtype
    points = unproject(depth, src_intrinsics.to(dt))
    points = transform_points(src_to_tgt.to(dt), points)
    return project(points, tgt_intrinsics.to(dt), Ho, Wo)


def _release_clip_z(target_depth: Tensor, near: Tensor, far: Tensor) -> Tensor:
    # Clip-space z of the release's target projection BEFORE the perspective divide, written in
    # terms of the OpenCV depth z' (the release's eye z is −z').
    return ((far + near) * target_depth - 2.0 * far * near) / (far - near)


def splat_validity(
    target_xy: Float[Tensor, "b 2 h w"],
    target_depth: Float[Tensor, "b 1 h w"],
    *,
    importance: Importance = "inverse_depth",
    near: float | Tensor = 0.01,
    far: float | Tensor = 100.0,
) -> Bool[Tensor, "b 1 h w"]:
    """Which source points may splat.

    * ``"inverse_depth"``: z' > near and a finite target position.
    * ``"release"``: the release's screen z > 0, i.e. NOT (0 < z' ≤ near); behind-camera points
      (z' < 0) stay valid, as in the official code. Evaluated exactly as the release does
      (``0.5·z_clip/z' + 0.5 > 0``) so that the boundary rounds the same way; z' = 0 is invalid.

    Points that fall outside the target image are still *valid* (their correspondence is reported);
    the splat simply drops their out-of-image neighbours.
    """
    func = "splat_validity"
    _check_importance(func, importance)
    expect_shape(func, "target_depth", target_depth, ("B", 1, "H", "W"))
    B, _, H, W = target_depth.shape
    expect_shape(func, "target_xy", target_xy, (f"B={B}", 2, f"H={H}", f"W={W}"))
    finite = torch.isfinite(target_xy).all(dim=1, keepdim=True) & torch.isfinite(target_depth)
    n = _per_item(func, "near", near, B, target_depth)
    if importance == "inverse_depth":
        return finite & (target_depth > n)
    f = _per_item(func, "far", far, B, target_depth)
    screen_z = 0.5 * (_release_clip_z(target_depth, n, f) / target_depth) + 0.5
    return finite & (screen_z > 0)  # NaN (z' = 0 with 0/0) compares False → invalid


def splat_importance(
    target_depth: Float[Tensor, "b 1 h w"],
    valid: Bool[Tensor, "b 1 h w"] | None = None,
    *,
    importance: Importance = "inverse_depth",
    near: float | Tensor = 0.01,
    far: float | Tensor = 100.0,
) -> Float[Tensor, "b 1 h w"]:
    """Per-point splat log-weights in [−10, 0] (larger = nearer = wins the softmax).

    * ``"release"``: ``imp = 0.5/z_clip`` over all points (``valid`` ignored, as the release),
      ``imp −= min``, ``imp /= (max + 1e-6)``, ``imp = 10·imp − 10``.
    * ``"inverse_depth"``: ``1/z'`` min/max-normalised over the valid points of each item, then
      ``10·imp − 10``; invalid points get −10 (they are masked out of the splat anyway). Without a
      ``valid`` mask, ``z' > near`` is used.
    """
    func = "splat_importance"
    _check_importance(func, importance)
    expect_shape(func, "target_depth", target_depth, ("B", 1, "H", "W"))
    B = target_depth.shape[0]
    dims = (1, 2, 3)
    n = _per_item(func, "near", near, B, target_depth)
    if importance == "release":
        f = _per_item(func, "far", far, B, target_depth)
        imp = 0.5 / _release_clip_z(target_depth, n, f)
        # Non-finite entries (missing depth, or z_clip = 0 exactly) are left out of the min/max —
        # the release would turn the whole item into NaN; for finite inputs this is the release.
        finite = torch.isfinite(imp)
        imp = imp - torch.where(finite, imp, torch.inf).amin(dim=dims, keepdim=True)
        imp = imp / (torch.where(finite, imp, -torch.inf).amax(dim=dims, keepdim=True) + 1e-6)
        # A no-op for finite values (already in [−10, 0)); maps ±inf to 0 / −10.
        return (10.0 * imp - 10.0).clamp(-10.0, 0.0)

    if valid is None:
        valid = target_depth > n
    expect_shape(func, "valid", valid, tuple(target_depth.shape))
    valid = valid.to(torch.bool)
    # Sanitise invalid entries first so no inf/NaN reaches the arithmetic (or its gradient).
    inv = torch.where(valid, 1.0 / torch.where(valid, target_depth, torch.ones_like(target_depth)), 0.0)
    big = torch.finfo(inv.dtype).max
    lo = torch.where(valid, inv, big).amin(dim=dims, keepdim=True)
    hi = torch.where(valid, inv, -big).amax(dim=dims, keepdim=True)
    # Relative (not absolute) guard: a scene where every valid point has the same depth gets
    # uniform weights instead of 0/0; no valid point at all → the guard keeps everything finite.
    span = (hi - lo).clamp_min(0.0)
    lo = torch.where(span.isfinite(), lo, 0.0)
    span = torch.where(span.isfinite(), span, 1.0).clamp_min(torch.finfo(inv.dtype).tiny)
    imp = ((inv - lo) / span).clamp(0.0, 1.0)
    return torch.where(valid, 10.0 * imp - 10.0, -10.0)


def softmax_splat(
    values: Float[Tensor, "b c h w"],
    target_xy: Float[Tensor, "b 2 h w"],
    log_weight: Float[Tensor, "b 1 h w"],
    valid: Bool[Tensor, "b 1 h w"],
    *,
    eps: float = 1e-6,
    out_size: tuple[int, int] | None = None,
) -> tuple[Float[Tensor, "b c ho wo"], Float[Tensor, "b 1 ho wo"]]:
    """Softmax (exp-weighted) bilinear forward splatting.

    Every valid source point p with target position (px, py) adds ``w·exp(log_weight)·value`` to the
    numerator and ``w·exp(log_weight)`` to the denominator of its four integer neighbours
    (x0 = ⌊px⌋, y0 = ⌊py⌋) with bilinear weights ``w(x0, y0) = (x0+1−px)(y0+1−py)`` etc.;
    neighbours outside the output image are dropped. Output = numerator / (denominator + eps).

    Implemented with ``index_add_`` (deterministic on CPU; CUDA uses atomics), differentiable
    w.r.t. ``values``, ``log_weight`` and ``target_xy`` (piecewise). Accumulates in float32
    (float64 if ``values`` or ``target_xy`` is float64) and returns ``values.dtype``.

    Returns:
        ``(warped, visibility)``: visibility is 1 where the denominator is > 0 (some point landed),
        0 elsewhere; holes of ``warped`` are exactly 0.
    """
    func = "softmax_splat"
    expect_shape(func, "values", values, ("B", "C", "H", "W"))
    B, C, H, W = values.shape
    expect_shape(func, "target_xy", target_xy, (f"B={B}", 2, f"H={H}", f"W={W}"))
    expect_shape(func, "log_weight", log_weight, (f"B={B}", 1, f"H={H}", f"W={W}"))
    expect_shape(func, "valid", valid, (f"B={B}", 1, f"H={H}", f"W={W}"))
    Ho, Wo = _check_out_size(func, out_size, (H, W))
    cdt = _compute_dtype(values, target_xy)
    device = values.device
    N = B * H * W

    # (B·H·W, C+1) rows: [value, 1] so numerator and denominator share one index_add per corner.
    rows = values.to(cdt).permute(0, 2, 3, 1).reshape(N, C)
    rows = torch.cat([rows, torch.ones(N, 1, dtype=cdt, device=device)], dim=1)

    ok = valid.reshape(N).to(torch.bool)
    px = target_xy[:, 0].reshape(N).to(cdt)
    py = target_xy[:, 1].reshape(N).to(cdt)
    # Invalid points are moved off-image (all neighbours dropped) and far-away points clamped just
    # outside it: no inf/NaN/huge value reaches floor()/long() or the gradients, and a point beyond
    # [−1, size] contributes nothing whether clamped or not.
    px = torch.where(ok, px, -2.0).clamp(-2.0, Wo + 1.0)
    py = torch.where(ok, py, -2.0).clamp(-2.0, Ho + 1.0)
    e = torch.where(ok, torch.exp(torch.where(ok, log_weight.reshape(N).to(cdt), 0.0)), 0.0)

    x0 = torch.floor(px)
    y0 = torch.floor(py)
    # Weights written as the release kernel does ((x0+1) − p rather than 1 − frac) so rounding matches.
    wx = ((x0 + 1.0) - px, px - x0)
    wy = ((y0 + 1.0) - py, py - y0)
    x0i = x0.to(torch.long)
    y0i = y0.to(torch.long)
    base = torch.arange(B, device=device).repeat_interleave(H * W) * (Ho * Wo)
    dummy = B * Ho * Wo  # one extra row collects dropped contributions (always with weight 0)

    acc = torch.zeros(dummy + 1, C + 1, dtype=cdt, device=device)
    for dy in (0, 1):
        yi = y0i + dy
        in_y = (yi >= 0) & (yi < Ho)
        for dx in (0, 1):
            xi = x0i + dx
            inb = in_y & (xi >= 0) & (xi < Wo)
            w = torch.where(inb, wx[dx] * wy[dy] * e, 0.0)
            idx = torch.where(inb, base + yi * Wo + xi, dummy)
            acc.index_add_(0, idx, rows * w.unsqueeze(1))

    acc = acc[:dummy].reshape(B, Ho, Wo, C + 1).permute(0, 3, 1, 2)
    num, den = acc[:, :C], acc[:, C:]
    warped = num / (den + eps)
    visibility = (den > 0).to(cdt)
    return warped.to(values.dtype), visibility.to(values.dtype)


#: Shift added to the house-mode importance before splatting, see :class:`SplatInputs`.
HOUSE_LOG_WEIGHT_SHIFT = 10.0


class SplatInputs(NamedTuple):
    """Per-source-point quantities the softmax splat needs (see :func:`prepare_splat`).

    ``log_weight`` is what :func:`softmax_splat` receives. For ``"release"`` it is the release's
    importance in [−10, 0], unchanged. For ``"inverse_depth"`` it is the importance + 10, in
    [0, 10]: the softmax is invariant to a common shift, but the absolute ``eps`` in
    ``num / (den + eps)`` is not — with weights down to e^−10 ≈ 4.5e−5 an eps of 1e−6 darkens the
    farthest points by ≈2.2 % (more at pixels that receive only a small bilinear weight), which the
    release does (and the goldens record) but our own models should not learn.
    """

    target_xy: Tensor  # (B, 2, H, W) target pixel position of every source pixel
    target_depth: Tensor  # (B, 1, H, W) z' in the target camera
    valid: Tensor  # (B, 1, H, W) bool
    log_weight: Tensor  # (B, 1, H, W): release [−10, 0]; inverse_depth [0, 10] (see above)


def prepare_splat(
    depth: Float[Tensor, "b 1 h w"],
    src_intrinsics: Float[Tensor, "b 3 3"],
    tgt_intrinsics: Float[Tensor, "b 3 3"],
    src_to_tgt: Float[Tensor, "b 4 4"],
    *,
    importance: Importance = "inverse_depth",
    near: float | Tensor = 0.01,
    far: float | Tensor = 100.0,
    out_size: tuple[int, int] | None = None,
) -> SplatInputs:
    """Steps 1–3 of :func:`forward_warp`: positions, validity and log-weights of the source points.

    Source pixels whose depth is not finite and positive (missing sensor depth) are invalid in both
    modes. Useful when several quantities derived from the target geometry (e.g. the target depth)
    are to be splatted together in one :func:`softmax_splat` call. Computed in float32 (float64 if
    ``depth`` is float64); cameras are cast to that dtype.
    """
    func = "prepare_splat"
    _check_importance(func, importance)
    expect_shape(func, "depth", depth, ("B", 1, "H", "W"))
    B, _, H, W = depth.shape
    cdt = _compute_dtype(depth)
    d = depth.to(cdt)
    _per_item(func, "near", near, B, d)  # validate early, naming the argument
    _per_item(func, "far", far, B, d)
    for name, t, n in (("src_intrinsics", src_intrinsics, 3), ("tgt_intrinsics", tgt_intrinsics, 3),
                       ("src_to_tgt", src_to_tgt, 4)):
        expect_shape(func, name, t, (f"B={B}", n, n))
    target_xy, target_depth = warp_coordinates(
        d, src_intrinsics.to(cdt), tgt_intrinsics.to(cdt), src_to_tgt.to(cdt), out_size=out_size
    )
    valid = splat_validity(target_xy, target_depth, importance=importance, near=near, far=far)
    # Missing source depth (0, negative or non-finite, as in sensor depth maps) never splats.
    valid = valid & torch.isfinite(d) & (d > 0)
    log_weight = splat_importance(target_depth, valid, importance=importance, near=near, far=far)
    if importance == "inverse_depth":
        log_weight = log_weight + HOUSE_LOG_WEIGHT_SHIFT
    if importance == "release":
        # The release hands the splat a flow (target − source pixel) and its kernel recomputes the
        # position as pixel + flow in float32; do the same round trip so positions round alike.
        grid = pixel_grid(H, W, device=d.device, dtype=cdt)
        target_xy = grid + (target_xy - grid)
    return SplatInputs(target_xy, target_depth, valid, log_weight)


def forward_warp(
    values: Float[Tensor, "b c h w"],
    depth: Float[Tensor, "b 1 h w"],
    src_intrinsics: Float[Tensor, "b 3 3"],
    tgt_intrinsics: Float[Tensor, "b 3 3"],
    src_to_tgt: Float[Tensor, "b 4 4"],
    *,
    importance: Importance = "inverse_depth",
    near: float | Tensor = 0.01,
    far: float | Tensor = 100.0,
    eps: float = 1e-6,
    return_correspondence: bool = False,
    out_size: tuple[int, int] | None = None,
) -> (
    tuple[Float[Tensor, "b c ho wo"], Float[Tensor, "b 1 ho wo"]]
    | tuple[Float[Tensor, "b c ho wo"], Float[Tensor, "b 1 ho wo"], Float[Tensor, "b 2 h w"]]
):
    """Forward-warp ``values`` from a source view into a target view (softmax z-splatting).

    Args:
        values: per-source-pixel features to carry (image, embeddings, ...).
        depth: source z-depth.
        src_intrinsics: normalised source intrinsics.
        tgt_intrinsics: normalised target intrinsics (normalised by ``out_size``).
        src_to_tgt: OpenCV source-camera → target-camera transform (``X_tgt = T·X_src``).
        importance: ``"inverse_depth"`` (house default) or ``"release"`` (official behaviour); see
            the module docstring for the exact difference.
        near, far: floats or per-item (B,) tensors; ``near`` drops points too close to (or, with
            ``"inverse_depth"``, behind) the target camera; ``far`` is used by ``"release"`` only.
        eps: softmax-splat denominator guard, ``num / (den + eps)`` (the release uses 1e-6; with
            ``"release"`` it darkens far points by up to ≈2.2 %, as the release does).
        return_correspondence: also return the target position of every source pixel.
        out_size: target (height, width); default the source size.

    Returns:
        ``(warped, visibility)`` or ``(warped, visibility, correspondence)``:
        ``warped`` (B, C, Ho, Wo) in ``values.dtype``, exactly 0 at holes; ``visibility``
        (B, 1, Ho, Wo) 1 where at least one source point landed; ``correspondence`` (B, 2, H, W)
        target pixel (x', y') of each SOURCE pixel, −1e6 in both channels for invalid points (in the
        compute dtype, float32/float64, because −1e6 is not representable in float16).

    Computed in float32 (float64 if ``values`` or ``depth`` is float64). Deterministic on CPU.
    """
    func = "forward_warp"
    _check_importance(func, importance)
    expect_shape(func, "values", values, ("B", "C", "H", "W"))
    B, C, H, W = values.shape
    expect_shape(func, "depth", depth, (f"B={B}", 1, f"H={H}", f"W={W}"))
    expect_shape(func, "src_intrinsics", src_intrinsics, (f"B={B}", 3, 3))
    expect_shape(func, "tgt_intrinsics", tgt_intrinsics, (f"B={B}", 3, 3))
    expect_shape(func, "src_to_tgt", src_to_tgt, (f"B={B}", 4, 4))
    Ho, Wo = _check_out_size(func, out_size, (H, W))
    cdt = _compute_dtype(values, depth)
    _per_item(func, "near", near, B, depth)  # validate here so the error names this function
    _per_item(func, "far", far, B, depth)
    splat = prepare_splat(
        depth.to(cdt),
        src_intrinsics,
        tgt_intrinsics,
        src_to_tgt,
        importance=importance,
        near=near,
        far=far,
        out_size=(Ho, Wo),
    )
    target_xy, valid = splat.target_xy, splat.valid
    log_weight = splat.log_weight
    warped, visibility = softmax_splat(
        values, target_xy, log_weight, valid, eps=eps, out_size=(Ho, Wo)
    )
    if not return_correspondence:
        return warped, visibility
    correspondence = torch.where(valid, target_xy, torch.full_like(target_xy, INVALID_COORDINATE))
    return warped, visibility, correspondence
