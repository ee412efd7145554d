"""Camera conventions and conversions.

House convention (DESIGN.md §3):

* **Axes**: OpenCV — x right, y down, z forward. A point in front of a camera has z > 0.
* **Extrinsics**: camera-to-world 4×4 (``c2w``). A relative pose ``src_to_tgt`` maps source-camera
  coordinates to target-camera coordinates: ``X_tgt = src_to_tgt · X_src``.
* **Intrinsics**: 3×3, *normalised* by the image size: ``fx/W, fy/H, cx/W, cy/H`` in a frame where
  pixel (x, y) has its centre at ``((x + 0.5)/W, (y + 0.5)/H)`` (the RealEstate10K convention).
  Resizing an image therefore never changes its normalised intrinsics.
* **Pixel intrinsics** (what the math runs on): pixel (x, y) — column x, row y — has its centre at
  integer coordinates (x, y). Hence ``fx_pix = fx·W`` and ``cx_pix = cx·W − 0.5``.
* **Depth**: z-depth (distance along the optical axis), in the units of the translations.

The official GenWarp release uses OpenGL-style matrices (eye space x right, y up, looking down −z;
projection matrix + viewport). They are converted at the edge with :func:`from_opengl` (and back
with :func:`to_opengl`); nothing else in the codebase should see OpenGL conventions.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from jaxtyping import Float
from torch import Tensor

__all__ = [
    "OpenGLConversion",
    "check_rigid",
    "focal_length_to_fov",
    "fov_to_intrinsics",
    "from_opengl",
    "invert_rigid",
    "normalized_to_pixel_intrinsics",
    "opengl_look_at",
    "opengl_projection_matrix",
    "pixel_to_normalized_intrinsics",
    "relative_transform",
    "sph2cart",
    "to_opengl",
]


# --------------------------------------------------------------------------------------------------
# Intrinsics
# --------------------------------------------------------------------------------------------------


def _check_matrix(name: str, m: Tensor, n: int, func: str) -> None:
    if not isinstance(m, Tensor):
        raise TypeError(f"{func}: `{name}` must be a torch.Tensor, got {type(m).__name__}")
    if m.ndim < 2 or tuple(m.shape[-2:]) != (n, n):
        raise ValueError(
            f"{func}: `{name}` has shape {tuple(m.shape)}, expected (..., {n}, {n})"
        )


def _pixel_from_normalized(height: int, width: int, like: Tensor) -> Tensor:
    """A = [[W, 0, -1/2], [0, H, -1/2], [0, 0, 1]] with K_pix = A · K_norm.

    Written as a matrix product (rather than per-entry scaling) so a skew term is handled too.
    """
    a = torch.zeros(3, 3, dtype=like.dtype, device=like.device)
    a[0, 0] = float(width)
    a[1, 1] = float(height)
    a[0, 2] = -0.5
    a[1, 2] = -0.5
    a[2, 2] = 1.0
    return a


def normalized_to_pixel_intrinsics(
    K: Float[Tensor, "*batch 3 3"], height: int, width: int
) -> Float[Tensor, "*batch 3 3"]:
    """Normalised intrinsics → pixel intrinsics with integer pixel centres.

    ``fx_pix = fx·W``, ``fy_pix = fy·H``, ``cx_pix = cx·W − 0.5``, ``cy_pix = cy·H − 0.5`` (skew
    scales with W). The −0.5 moves the origin from the image corner (normalised convention,
    pixel centres at (x + 0.5)/W) to the centre of pixel (0, 0).

    Args:
        K: normalised intrinsics, any leading batch dimensions.
        height, width: image size in pixels.
    """
    _check_matrix("K", K, 3, "normalized_to_pixel_intrinsics")
    return _pixel_from_normalized(height, width, K) @ K


def pixel_to_normalized_intrinsics(
    K_pix: Float[Tensor, "*batch 3 3"], height: int, width: int
) -> Float[Tensor, "*batch 3 3"]:
    """Inverse of :func:`normalized_to_pixel_intrinsics`.

    ``fx = fx_pix/W``, ``cx = (cx_pix + 0.5)/W`` (likewise for y). For example the release's
    ``cx_pix = W/2`` becomes ``cx = (W/2 + 0.5)/W``.
    """
    _check_matrix("K_pix", K_pix, 3, "pixel_to_normalized_intrinsics")
    a_inv = torch.zeros(3, 3, dtype=K_pix.dtype, device=K_pix.device)
    a_inv[0, 0] = 1.0 / width
    a_inv[1, 1] = 1.0 / height
    a_inv[0, 2] = 0.5 / width
    a_inv[1, 2] = 0.5 / height
    a_inv[2, 2] = 1.0
    return a_inv @ K_pix


def fov_to_intrinsics(
    fov_y: float | Float[Tensor, "*batch"],
    aspect_wh: float | Float[Tensor, "*batch"] = 1.0,
    *,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> Float[Tensor, "*batch 3 3"]:
    """Normalised intrinsics of a pinhole camera with square pixels and a centred principal point.

    ``fy = 1/(2·tan(fov_y/2))`` (normalised by H), ``fx = fy/aspect_wh`` (normalised by W, so that
    the pixels are square for an image with W/H = aspect_wh), ``cx = cy = 0.5`` (the geometric image
    centre; note the release's ``cx_pix = W/2`` is half a pixel off this, see
    :func:`from_opengl`).

    Args:
        fov_y: vertical field of view in radians; a float or a tensor of any shape.
        aspect_wh: image width / height.
    Returns:
        (..., 3, 3) with the shape of ``fov_y`` (and ``aspect_wh``) as leading dims.
    """
    if dtype is None:
        dtype = fov_y.dtype if isinstance(fov_y, Tensor) and fov_y.is_floating_point() else torch.float32
    if device is None and isinstance(fov_y, Tensor):
        device = fov_y.device
    fov = torch.as_tensor(fov_y, dtype=dtype, device=device)
    aspect = torch.as_tensor(aspect_wh, dtype=dtype, device=device)
    fov, aspect = torch.broadcast_tensors(fov, aspect)
    fy = 0.5 / torch.tan(0.5 * fov)
    fx = fy / aspect
    K = torch.zeros(*fov.shape, 3, 3, dtype=dtype, device=device)
    K[..., 0, 0] = fx
    K[..., 1, 1] = fy
    K[..., 0, 2] = 0.5
    K[..., 1, 2] = 0.5
    K[..., 2, 2] = 1.0
    return K


def focal_length_to_fov(focal_length: float | Tensor, sensor: float = 24.0) -> float | Tensor:
    """Field of view (radians) of a lens of ``focal_length`` mm on a ``sensor`` mm sensor side.

    ``2·atan(sensor / focal_length / 2)``, as the release's demo helper (default 24 mm = the vertical
    side of a full-frame sensor).
    """
    if isinstance(focal_length, Tensor):
        return 2.0 * torch.atan(sensor / focal_length / 2.0)
    return 2.0 * math.atan(sensor / focal_length / 2.0)


# --------------------------------------------------------------------------------------------------
# Extrinsics
# --------------------------------------------------------------------------------------------------


def invert_rigid(T: Float[Tensor, "*batch 4 4"]) -> Float[Tensor, "*batch 4 4"]:
    """Inverse of a rigid transform [R t; 0 1] as [Rᵀ −Rᵀt; 0 1].

    Exact for rigid matrices and cheaper/better conditioned than a general 4×4 inverse. The last row
    of the input is ignored (assumed to be 0 0 0 1).
    """
    _check_matrix("T", T, 4, "invert_rigid")
    R = T[..., :3, :3]
    t = T[..., :3, 3:]
    Rt = R.transpose(-1, -2)
    out = torch.zeros_like(T)
    out[..., :3, :3] = Rt
    out[..., :3, 3:] = -Rt @ t
    out[..., 3, 3] = 1.0
    return out


def relative_transform(
    src_c2w: Float[Tensor, "*batch 4 4"], tgt_c2w: Float[Tensor, "*batch 4 4"]
) -> Float[Tensor, "*batch 4 4"]:
    """Source-camera → target-camera transform from two camera-to-world poses.

    ``src_to_tgt = inv(tgt_c2w) · src_c2w``, so ``X_tgt = src_to_tgt · X_src``.
    """
    _check_matrix("src_c2w", src_c2w, 4, "relative_transform")
    _check_matrix("tgt_c2w", tgt_c2w, 4, "relative_transform")
    return invert_rigid(tgt_c2w) @ src_c2w


def check_rigid(T: Tensor, name: str = "T", atol: float = 1e-4) -> None:
    """Raise ValueError unless ``T`` is a batch of rigid 4×4 transforms (orthonormal R, det +1).

    Optional helper for callers that validate user input; the geometry functions do not call it
    (they are pure and should not pay for a device sync on every step).
    """
    _check_matrix(name, T, 4, "check_rigid")
    if T.numel() == 0:
        return
    Td = T.detach().to(torch.float64)
    R = Td[..., :3, :3]
    eye = torch.eye(3, dtype=torch.float64, device=T.device)
    err_orth = (R.transpose(-1, -2) @ R - eye).abs().amax().item()
    if err_orth > atol:
        raise ValueError(f"`{name}`: rotation block is not orthonormal (max |RᵀR − I| = {err_orth:.3g})")
    if (torch.linalg.det(R) - 1.0).abs().amax().item() > atol:
        raise ValueError(f"`{name}`: rotation block has determinant ≠ +1 (a reflection)")
    bottom = torch.tensor([0.0, 0.0, 0.0, 1.0], dtype=torch.float64, device=T.device)
    if (Td[..., 3, :] - bottom).abs().amax().item() > atol:
        raise ValueError(f"`{name}`: last row must be (0, 0, 0, 1)")


# --------------------------------------------------------------------------------------------------
# Official-release (OpenGL-style) helpers and the one conversion at the edge
# --------------------------------------------------------------------------------------------------

# S = diag(1, −1, −1, 1) flips y and z: OpenGL eye axes (y up, looking down −z) ↔ OpenCV axes.
_GL_CV_FLIP = (1.0, -1.0, -1.0, 1.0)


def _flip(like: Tensor) -> Tensor:
    return torch.diag(torch.tensor(_GL_CV_FLIP, dtype=like.dtype, device=like.device))


def opengl_projection_matrix(
    fovy: float | Float[Tensor, "*batch"],
    aspect_wh: float | Float[Tensor, "*batch"],
    near: float | Float[Tensor, "*batch"],
    far: float | Float[Tensor, "*batch"],
    *,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> Float[Tensor, "*batch 4 4"]:
    """The release's OpenGL-style projection matrix (release-spec §2).

    ``P = [[1/(tan(fovy/2)·aspect), 0, 0, 0], [0, −1/tan(fovy/2), 0, 0],
    [0, 0, −(f+n)/(f−n), −2fn/(f−n)], [0, 0, −1, 0]]``; the negative P[1,1] makes image rows grow
    downwards. Arguments broadcast together; the result has their shape as leading dims.
    """
    if dtype is None:
        dtype = next(
            (a.dtype for a in (fovy, aspect_wh, near, far) if isinstance(a, Tensor) and a.is_floating_point()),
            torch.float32,
        )
    if device is None:
        device = next((a.device for a in (fovy, aspect_wh, near, far) if isinstance(a, Tensor)), None)
    fovy, aspect, n, f = torch.broadcast_tensors(
        *(torch.as_tensor(a, dtype=dtype, device=device) for a in (fovy, aspect_wh, near, far))
    )
    t = torch.tan(0.5 * fovy)
    P = torch.zeros(*fovy.shape, 4, 4, dtype=dtype, device=device)
    P[..., 0, 0] = 1.0 / (t * aspect)
    P[..., 1, 1] = -1.0 / t
    P[..., 2, 2] = -(f + n) / (f - n)
    P[..., 2, 3] = -2.0 * f * n / (f - n)
    P[..., 3, 2] = -1.0
    return P


def opengl_look_at(
    eye: Float[Tensor, "*batch 3"], target: Float[Tensor, "*batch 3"], up: Float[Tensor, "*batch 3"]
) -> Float[Tensor, "*batch 4 4"]:
    """The release's ``camera_lookat``: world → OpenGL eye matrix ``R·T(−eye)``.

    Rows of R: ``l = normalize(up × f)``, ``u = normalize(f × l)``, ``f = normalize(eye − target)``
    (the eye looks down its −z axis, towards ``target``).
    """
    eye, target, up = torch.broadcast_tensors(eye, target, up)
    f = torch.nn.functional.normalize(eye - target, dim=-1)
    l = torch.nn.functional.normalize(torch.linalg.cross(up, f, dim=-1), dim=-1)
    u = torch.nn.functional.normalize(torch.linalg.cross(f, l, dim=-1), dim=-1)
    R = torch.stack([l, u, f], dim=-2)
    M = torch.zeros(*eye.shape[:-1], 4, 4, dtype=eye.dtype, device=eye.device)
    M[..., :3, :3] = R
    M[..., :3, 3] = -(R @ eye.unsqueeze(-1)).squeeze(-1)
    M[..., 3, 3] = 1.0
    return M


def sph2cart(
    azi: float | Float[Tensor, "*batch"],
    ele: float | Float[Tensor, "*batch"],
    r: float | Float[Tensor, "*batch"],
) -> Float[Tensor, "*batch 3"]:
    """The release's ``sph2cart``: ``(r·cos(ele)·cos(azi), r·cos(ele)·sin(azi), r·sin(ele))``."""
    dtype = next((a.dtype for a in (azi, ele, r) if isinstance(a, Tensor) and a.is_floating_point()), None)
    dtype = dtype or torch.get_default_dtype()
    device = next((a.device for a in (azi, ele, r) if isinstance(a, Tensor)), None)
    azi, ele, r = torch.broadcast_tensors(
        *(torch.as_tensor(a, dtype=dtype, device=device) for a in (azi, ele, r))
    )
    return torch.stack(
        [r * torch.cos(ele) * torch.cos(azi), r * torch.cos(ele) * torch.sin(azi), r * torch.sin(ele)],
        dim=-1,
    )


class OpenGLConversion(NamedTuple):
    """Result of :func:`from_opengl`: the release's matrices in house (OpenCV) conventions."""

    src_intrinsics: Tensor  # (B, 3, 3) normalised
    tgt_intrinsics: Tensor  # (B, 3, 3) normalised
    src_to_tgt: Tensor  # (B, 4, 4) OpenCV source camera → target camera
    near: Tensor  # (B,) target projection's near plane (needed by importance="release")
    far: Tensor  # (B,) target projection's far plane


def _opengl_proj_to_pixel_K(P: Tensor, height: int, width: int) -> Tensor:
    # Viewport V maps NDC to screen pixels with pixel centres at integer coords (release-spec §2):
    # fx = P00·W/2, fy = −P11·H/2, cx = (W/2)(1 − P02), cy = (H/2)(1 − P12).
    K = torch.zeros(*P.shape[:-2], 3, 3, dtype=P.dtype, device=P.device)
    K[..., 0, 0] = P[..., 0, 0] * (width / 2.0)
    K[..., 1, 1] = -P[..., 1, 1] * (height / 2.0)
    K[..., 0, 2] = (width / 2.0) * (1.0 - P[..., 0, 2])
    K[..., 1, 2] = (height / 2.0) * (1.0 - P[..., 1, 2])
    K[..., 2, 2] = 1.0
    return K


def from_opengl(
    src_proj: Float[Tensor, "*batch 4 4"],
    tgt_proj: Float[Tensor, "*batch 4 4"],
    rel_view: Float[Tensor, "*batch 4 4"],
    height: int,
    width: int,
) -> OpenGLConversion:
    """Convert the release's OpenGL-style camera inputs to house conventions (release-spec §2).

    Args:
        src_proj, tgt_proj: OpenGL projection matrices of the form
            ``[[a, 0, e, 0], [0, b, f, 0], [0, 0, c, d], [0, 0, −1, 0]]``.
        rel_view: the release's ``rel_view_mtx``: source eye coords → target eye coords (OpenGL axes).
        height, width: the working resolution the release's viewport was built for.

    Returns:
        :class:`OpenGLConversion` with normalised ``src_intrinsics``/``tgt_intrinsics``,
        ``src_to_tgt = S·rel_view·S`` (S = diag(1, −1, −1, 1)) and the target projection's
        ``near = d/(c − 1)``, ``far = d/(c + 1)`` — which ``forward_warp(importance="release")``
        needs to reproduce the release's clip-space importance. Computed in float64 and returned in
        the input dtype.
    """
    for name, m in (("src_proj", src_proj), ("tgt_proj", tgt_proj), ("rel_view", rel_view)):
        _check_matrix(name, m, 4, "from_opengl")
    dtype = src_proj.dtype
    # float64 internally: the conversion is cheap and should not add rounding of its own.
    Ps, Pt, V = (m.to(torch.float64) for m in (src_proj, tgt_proj, rel_view))
    K_src = pixel_to_normalized_intrinsics(_opengl_proj_to_pixel_K(Ps, height, width), height, width)
    K_tgt = pixel_to_normalized_intrinsics(_opengl_proj_to_pixel_K(Pt, height, width), height, width)
    S = _flip(V)
    T = S @ V @ S
    near = Pt[..., 2, 3] / (Pt[..., 2, 2] - 1.0)
    far = Pt[..., 2, 3] / (Pt[..., 2, 2] + 1.0)
    return OpenGLConversion(
        src_intrinsics=K_src.to(dtype),
        tgt_intrinsics=K_tgt.to(dtype),
        src_to_tgt=T.to(dtype),
        near=near.to(dtype),
        far=far.to(dtype),
    )


def _pixel_K_to_opengl_proj(K_pix: Tensor, near: Tensor, far: Tensor, height: int, width: int) -> Tensor:
    P = torch.zeros(*K_pix.shape[:-2], 4, 4, dtype=K_pix.dtype, device=K_pix.device)
    P[..., 0, 0] = 2.0 * K_pix[..., 0, 0] / width
    P[..., 1, 1] = -2.0 * K_pix[..., 1, 1] / height
    P[..., 0, 2] = 1.0 - 2.0 * K_pix[..., 0, 2] / width
    P[..., 1, 2] = 1.0 - 2.0 * K_pix[..., 1, 2] / height
    P[..., 2, 2] = -(far + near) / (far - near)
    P[..., 2, 3] = -2.0 * far * near / (far - near)
    P[..., 3, 2] = -1.0
    return P


def to_opengl(
    src_intrinsics: Float[Tensor, "*batch 3 3"],
    tgt_intrinsics: Float[Tensor, "*batch 3 3"],
    src_to_tgt: Float[Tensor, "*batch 4 4"],
    height: int,
    width: int,
    near: float | Float[Tensor, "*batch"] = 0.01,
    far: float | Float[Tensor, "*batch"] = 100.0,
) -> tuple[Tensor, Tensor, Tensor]:
    """Inverse of :func:`from_opengl`: house cameras → ``(src_proj, tgt_proj, rel_view)``.

    Both projections get the same ``near``/``far`` (the release's demo does the same). Skew is not
    representable in the release's matrices and is dropped.
    """
    _check_matrix("src_intrinsics", src_intrinsics, 3, "to_opengl")
    _check_matrix("tgt_intrinsics", tgt_intrinsics, 3, "to_opengl")
    _check_matrix("src_to_tgt", src_to_tgt, 4, "to_opengl")
    dtype = src_intrinsics.dtype
    Ks, Kt, T = (m.to(torch.float64) for m in (src_intrinsics, tgt_intrinsics, src_to_tgt))
    n = torch.as_tensor(near, dtype=torch.float64, device=Ks.device)
    f = torch.as_tensor(far, dtype=torch.float64, device=Ks.device)
    Ps = _pixel_K_to_opengl_proj(normalized_to_pixel_intrinsics(Ks, height, width), n, f, height, width)
    Pt = _pixel_K_to_opengl_proj(normalized_to_pixel_intrinsics(Kt, height, width), n, f, height, width)
    S = _flip(T)
    V = S @ T @ S
    return Ps.to(dtype), Pt.to(dtype), V.to(dtype)
