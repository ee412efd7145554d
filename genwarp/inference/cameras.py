"""Target cameras for inference: explicit poses, preset paths and RealEstate10K camera files.

Every path is expressed in the **source camera's frame**: the source camera is the identity, and a
target view is its camera-to-world pose ``c2w`` in that frame (OpenCV axes: x right, y down,
z forward), so ``src_to_tgt = inverse(c2w)``. Translations are in the units of the depth map —
metres for metric estimators such as ZoeDepth — so "forward 0.5" moves the camera half a metre
into a scene whose depth is in metres. Rotations are in degrees:

* **yaw** turns the camera right (positive) or left about its vertical axis;
* **pitch** tilts it up (positive) or down;
* **roll** turns it about the optical axis (positive: clockwise as seen from behind the camera);
* the rotation is ``R = R_yaw · R_pitch · R_roll`` (yaw first, in the source frame).

Presets (``n`` views each; magnitudes default to fractions of the scene's median depth ``d``, so
the same command gives a sensible motion for any depth scale):

=============  ===================================================================================
``orbit``      the camera swings around a pivot ``pivot_depth`` (default ``d``) in front of it, yaw
               from ``−angle`` to ``+angle`` (default 15°), always facing the pivot
``dolly``      straight along the optical axis to ``distance`` (default ``0.3·d``; negative: out)
``pan``        sideways (a "truck" move, orientation unchanged) from ``−distance`` to ``+distance``
               (default ``0.15·d``)
``lookaround`` a small circle of ``radius`` (default ``0.08·d``) in the image plane, facing the
               pivot: the looping "3D photo" wiggle
=============  ===================================================================================
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
from jaxtyping import Float
from torch import Tensor

from genwarp.geometry import fov_to_intrinsics, invert_rigid, relative_transform
from genwarp.inference.errors import InferenceInputError

__all__ = [
    "PRESET_PATHS",
    "CameraPath",
    "camera_file_path",
    "camera_pose",
    "check_camera_rows",
    "dolly_poses",
    "interpolate_poses",
    "intrinsics_from_fov",
    "look_at",
    "lookaround_poses",
    "orbit_poses",
    "pan_poses",
    "preset_path",
    "rotation_matrix",
    "scene_depth",
]

PRESET_PATHS = ("orbit", "dolly", "pan", "lookaround")


@dataclass
class CameraPath:
    """Target views of one source image.

    Attributes:
        c2w: (N, 4, 4) target camera-to-world poses in the source camera's frame (OpenCV axes).
        intrinsics: (N, 3, 3) normalised target intrinsics.
        name: what made the path (``"orbit"``, ``"explicit"``, ``"camera-file"``, …).
    """

    c2w: Float[Tensor, "n 4 4"]
    intrinsics: Float[Tensor, "n 3 3"]
    name: str = "path"

    def __post_init__(self) -> None:
        if self.c2w.ndim != 3 or self.c2w.shape[-2:] != (4, 4):
            raise ValueError(f"CameraPath.c2w must be (N, 4, 4), got {tuple(self.c2w.shape)}")
        if self.intrinsics.shape != (self.c2w.shape[0], 3, 3):
            raise ValueError(
                f"CameraPath.intrinsics must be ({self.c2w.shape[0]}, 3, 3), got {tuple(self.intrinsics.shape)}"
            )

    def __len__(self) -> int:
        return self.c2w.shape[0]

    @property
    def src_to_tgt(self) -> Float[Tensor, "n 4 4"]:
        """Source-camera → target-camera transforms (what the pipeline takes)."""
        return invert_rigid(self.c2w.double()).float()

    def slice(self, start: int, stop: int) -> CameraPath:
        return CameraPath(self.c2w[start:stop], self.intrinsics[start:stop], self.name)

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "convention": "OpenCV axes; c2w of each target in the source camera frame; normalised intrinsics",
            "c2w": [[[round(float(v), 8) for v in row] for row in m] for m in self.c2w],
            "intrinsics": [[[round(float(v), 8) for v in row] for row in m] for m in self.intrinsics],
        }


# ------------------------------------------------------------------------------------------------
# Rotations and poses
# ------------------------------------------------------------------------------------------------


def rotation_matrix(yaw: float = 0.0, pitch: float = 0.0, roll: float = 0.0) -> Float[Tensor, "3 3"]:
    """``R_yaw · R_pitch · R_roll`` (degrees, OpenCV axes; see the module docstring for signs)."""
    y, p, r = (math.radians(float(a)) for a in (yaw, pitch, roll))
    cy, sy, cp, sp, cr, sr = math.cos(y), math.sin(y), math.cos(p), math.sin(p), math.cos(r), math.sin(r)
    r_yaw = torch.tensor([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]], dtype=torch.float64)
    r_pitch = torch.tensor([[1, 0, 0], [0, cp, -sp], [0, sp, cp]], dtype=torch.float64)
    r_roll = torch.tensor([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]], dtype=torch.float64)
    return r_yaw @ r_pitch @ r_roll


def camera_pose(
    yaw: float = 0.0, pitch: float = 0.0, roll: float = 0.0, right: float = 0.0, down: float = 0.0,
    forward: float = 0.0,
) -> Float[Tensor, "4 4"]:
    """Camera-to-world pose in the source frame: rotation (degrees) and position (depth units)."""
    for name, value in (("yaw", yaw), ("pitch", pitch), ("roll", roll), ("right", right), ("down", down),
                        ("forward", forward)):
        if not math.isfinite(float(value)):
            raise InferenceInputError(f"camera {name} must be a finite number, got {value!r}")
    T = torch.eye(4, dtype=torch.float64)
    T[:3, :3] = rotation_matrix(yaw, pitch, roll)
    T[:3, 3] = torch.tensor([right, down, forward], dtype=torch.float64)
    return T


def look_at(eye: Float[Tensor, "*b 3"], target: Float[Tensor, "*b 3"]) -> Float[Tensor, "*b 4 4"]:
    """OpenCV camera-to-world pose at ``eye`` facing ``target``, with the source's "down" (+y) as down."""
    eye, target = torch.broadcast_tensors(eye.double(), target.double())
    z = torch.nn.functional.normalize(target - eye, dim=-1)
    down = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64).expand_as(z)
    x = torch.nn.functional.normalize(torch.linalg.cross(down, z, dim=-1), dim=-1)
    y = torch.linalg.cross(z, x, dim=-1)
    T = torch.zeros(*eye.shape[:-1], 4, 4, dtype=torch.float64)
    T[..., :3, 0], T[..., :3, 1], T[..., :3, 2], T[..., :3, 3] = x, y, z, eye
    T[..., 3, 3] = 1.0
    return T


def _rotation_log(R: Tensor) -> Tensor:
    """Axis-angle vector of a rotation matrix (angle < π)."""
    cos = ((R.diagonal().sum() - 1) / 2).clamp(-1.0, 1.0)
    angle = torch.acos(cos)
    if angle < 1e-9:
        return torch.zeros(3, dtype=R.dtype)
    if math.pi - float(angle) < 1e-6:
        raise InferenceInputError("cannot interpolate towards a 180° rotation: give a smaller yaw/pitch/roll")
    w = torch.stack([R[2, 1] - R[1, 2], R[0, 2] - R[2, 0], R[1, 0] - R[0, 1]]) / (2 * torch.sin(angle))
    return w * angle


def _rotation_exp(v: Tensor) -> Tensor:
    angle = torch.linalg.norm(v)
    if angle < 1e-12:
        return torch.eye(3, dtype=v.dtype)
    k = v / angle
    K = torch.tensor([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]], dtype=v.dtype)
    return torch.eye(3, dtype=v.dtype) + torch.sin(angle) * K + (1 - torch.cos(angle)) * (K @ K)


def interpolate_poses(target: Float[Tensor, "4 4"], n: int) -> Float[Tensor, "n 4 4"]:
    """``n`` poses from the source (excluded) to ``target`` (the last one, exactly): rotation along
    the geodesic, position linearly."""
    target = target.double()
    log = _rotation_log(target[:3, :3])
    out = []
    for i in range(1, n + 1):
        t = i / n
        T = torch.eye(4, dtype=torch.float64)
        T[:3, :3] = _rotation_exp(log * t) if i < n else target[:3, :3]
        T[:3, 3] = target[:3, 3] * t
        out.append(T)
    return torch.stack(out)


# ------------------------------------------------------------------------------------------------
# Presets
# ------------------------------------------------------------------------------------------------


def _sweep(n: int, lo: float, hi: float) -> Tensor:
    """``n`` evenly spaced values from lo to hi (just ``hi`` when n = 1)."""
    return torch.tensor([hi], dtype=torch.float64) if n == 1 else torch.linspace(lo, hi, n, dtype=torch.float64)


def orbit_poses(n: int, angle: float, pivot_depth: float) -> Float[Tensor, "n 4 4"]:
    """Yaw from −angle to +angle (degrees) around a pivot ``pivot_depth`` in front of the source."""
    pivot = torch.tensor([0.0, 0.0, pivot_depth], dtype=torch.float64)
    out = []
    for a in _sweep(n, -angle, angle):
        T = torch.eye(4, dtype=torch.float64)
        R = rotation_matrix(yaw=float(a))
        T[:3, :3] = R
        T[:3, 3] = pivot - R @ pivot  # rotate the whole camera rig about the pivot
        out.append(T)
    return torch.stack(out)


def dolly_poses(n: int, distance: float) -> Float[Tensor, "n 4 4"]:
    """Forward along the optical axis in ``n`` equal steps to ``distance`` (negative: backwards)."""
    T = torch.eye(4, dtype=torch.float64).repeat(n, 1, 1)
    T[:, 2, 3] = torch.arange(1, n + 1, dtype=torch.float64) * distance / n
    return T


def pan_poses(n: int, distance: float) -> Float[Tensor, "n 4 4"]:
    """Sideways from −distance to +distance, orientation unchanged."""
    T = torch.eye(4, dtype=torch.float64).repeat(n, 1, 1)
    T[:, 0, 3] = _sweep(n, -distance, distance)
    return T


def lookaround_poses(n: int, radius: float, pivot_depth: float) -> Float[Tensor, "n 4 4"]:
    """A circle of ``radius`` in the source image plane, facing a pivot ``pivot_depth`` ahead; the
    first view is on the right and it turns clockwise (down first), ending just before it loops."""
    phi = torch.arange(n, dtype=torch.float64) * (2 * math.pi / n)
    eye = torch.stack([radius * torch.cos(phi), radius * torch.sin(phi), torch.zeros_like(phi)], dim=-1)
    return look_at(eye, torch.tensor([0.0, 0.0, pivot_depth], dtype=torch.float64))


def scene_depth(depth: Float[Tensor, "1 h w"] | Float[Tensor, "h w"], mask: Tensor | None = None) -> float:
    """The median valid depth: the scene scale that preset magnitudes default to fractions of."""
    values = depth.reshape(-1).float()
    ok = torch.isfinite(values) & (values > 0)
    if mask is not None:
        ok = ok & mask.reshape(-1)
    if not bool(ok.any()):
        raise InferenceInputError("the depth map has no valid (positive, finite) pixel")
    return float(values[ok].median())


def intrinsics_from_fov(fov_deg: float, height: int, width: int) -> Float[Tensor, "3 3"]:
    """Normalised intrinsics of a centred pinhole with a vertical field of view of ``fov_deg``."""
    if not (0.0 < float(fov_deg) < 179.0):
        raise InferenceInputError(f"--fov must be a vertical field of view in degrees in (0, 179), got {fov_deg}")
    return fov_to_intrinsics(math.radians(fov_deg), width / height, dtype=torch.float32)


def preset_path(
    name: str,
    n: int,
    intrinsics: Float[Tensor, "3 3"],
    *,
    scene_scale: float,
    angle: float | None = None,
    distance: float | None = None,
    radius: float | None = None,
    pivot_depth: float | None = None,
) -> CameraPath:
    """One of :data:`PRESET_PATHS` with ``n`` views; unset magnitudes default to fractions of
    ``scene_scale`` (the median depth, see :func:`scene_depth`)."""
    if name not in PRESET_PATHS:
        raise InferenceInputError(f"--path must be one of {', '.join(PRESET_PATHS)}, got {name!r}")
    if n < 1:
        raise InferenceInputError(f"--num-views must be at least 1, got {n}")
    for flag, value in (("--angle", angle), ("--distance", distance), ("--radius", radius),
                        ("--pivot-depth", pivot_depth), ("scene scale", scene_scale)):
        if value is not None and not math.isfinite(float(value)):
            raise InferenceInputError(f"{flag} must be a finite number, got {value!r}")
    pivot = scene_scale if pivot_depth is None else float(pivot_depth)
    if pivot <= 0:
        raise InferenceInputError(f"--pivot-depth must be positive (depth units), got {pivot}")
    if name == "orbit":
        c2w = orbit_poses(n, 15.0 if angle is None else float(angle), pivot)
    elif name == "dolly":
        c2w = dolly_poses(n, 0.3 * scene_scale if distance is None else float(distance))
    elif name == "pan":
        c2w = pan_poses(n, 0.15 * scene_scale if distance is None else float(distance))
    else:
        c2w = lookaround_poses(n, 0.08 * scene_scale if radius is None else float(radius), pivot)
    return CameraPath(c2w.float(), intrinsics.float().expand(n, 3, 3).clone(), name)


# ------------------------------------------------------------------------------------------------
# RealEstate10K camera files
# ------------------------------------------------------------------------------------------------


ROTATION_TOLERANCE = 1e-3  # max |RᵀR − I| entry and |det R − 1| accepted from a camera file


def check_camera_rows(path: str | Path, cams, rows: list[int]) -> None:
    """Refuse camera-file rows that are not a camera: non-finite values, a focal length ≤ 0, or a
    rotation that is not orthonormal with determinant +1 (within :data:`ROTATION_TOLERANCE`; a
    scaled, sheared, mirrored or singular matrix). The error names the file, the row (0-based, as
    ``--source-frame`` / ``--frames`` count) and its timestamp."""
    dropped = getattr(cams, "dropped", None) or {}
    for row in dict.fromkeys(rows):  # each once, in order
        where = f"camera file {path} row {row} (timestamp {int(cams.timestamps[row])})"
        if row in dropped:
            raise InferenceInputError(f"{where} cannot be used: {dropped[row][1]}")
        K = cams.intrinsics[row].double()
        c2w = cams.c2w[row].double()
        if not (bool(torch.isfinite(K).all()) and bool(torch.isfinite(c2w).all())):
            raise InferenceInputError(f"{where}: non-finite camera values")
        fx, fy = float(K[0, 0]), float(K[1, 1])
        if not (fx > 0 and fy > 0):
            raise InferenceInputError(f"{where}: focal lengths fx={fx:g}, fy={fy:g} must be positive (normalised "
                                      "fx/W, fy/H)")
        R = c2w[:3, :3]
        ortho = float((R.T @ R - torch.eye(3, dtype=torch.float64)).abs().max())
        det = float(torch.linalg.det(R))
        if ortho > ROTATION_TOLERANCE or abs(det - 1.0) > ROTATION_TOLERANCE:
            raise InferenceInputError(
                f"{where}: the 3x3 rotation of the world-to-camera matrix is not a rotation (max |RᵀR − I| = "
                f"{ortho:.3g}, det = {det:.4g}; a rigid camera needs an orthonormal matrix with det +1 within "
                f"{ROTATION_TOLERANCE:g})"
            )


def camera_file_path(
    path: str | Path,
    source_frame: int = 0,
    frames: list[int] | None = None,
    num_views: int | None = None,
    translation_scale: float = 1.0,
) -> tuple[Float[Tensor, "3 3"], CameraPath]:
    """Source intrinsics and target views from a RealEstate10K-style camera file.

    The file is a URL line, then one line per frame: timestamp, ``fx fy cx cy`` (normalised),
    ``0 0``, and a row-major 3×4 world-to-camera matrix (19 numbers). Row ``source_frame``
    (0-based) is the input image's camera; the targets are ``frames`` (default: every other row, in
    file order), evenly subsampled to ``num_views`` if given. RealEstate10K translations have an
    arbitrary scale per sequence: ``translation_scale`` multiplies them to bring them into the
    depth map's units. The rows used are checked first (:func:`check_camera_rows`): finite values,
    positive focal lengths, rigid rotations.
    """
    from genwarp.data.health import DataError
    from genwarp.data.re10k import read_camera_file

    if not (math.isfinite(float(translation_scale)) and float(translation_scale) > 0):
        raise InferenceInputError(f"--translation-scale must be a positive finite number, got {translation_scale!r}")

    try:
        cams = read_camera_file(path)
    except DataError as e:
        raise InferenceInputError(
            f"{e} — a RealEstate10K camera file has a URL line, then per frame 19 numbers: timestamp, "
            "fx fy cx cy (normalised), 0 0, and the 3x4 world-to-camera matrix row by row"
        ) from None
    n_rows = len(cams)
    if not 0 <= source_frame < n_rows:
        raise InferenceInputError(f"--source-frame {source_frame} is out of range: {path} has {n_rows} frames (0…{n_rows - 1})")
    if frames is None:
        frames = [i for i in range(n_rows) if i != source_frame]
    bad = [f for f in frames if not 0 <= f < n_rows]
    if bad:
        raise InferenceInputError(f"--frames {bad} out of range: {path} has {n_rows} frames (0…{n_rows - 1})")
    if not frames:
        raise InferenceInputError(f"{path} has a single frame: there is no target camera (pass --frames)")
    if num_views is not None and num_views < len(frames):
        idx = torch.linspace(0, len(frames) - 1, num_views).round().long().tolist()
        frames = [frames[i] for i in idx]
    K = cams.intrinsics
    if float(K[:, :2, :].abs().max()) > 20:
        raise InferenceInputError(
            f"{path}: intrinsics look like pixels (values up to {float(K.abs().max()):.4g}); RealEstate10K "
            "files store fx/W, fy/H, cx/W, cy/H"
        )
    check_camera_rows(path, cams, [source_frame, *frames])
    src = cams.c2w[source_frame].double()
    tgt = cams.c2w[frames].double()
    rel = invert_rigid(relative_transform(src.expand_as(tgt), tgt))  # target c2w in the source frame
    rel[:, :3, 3] *= float(translation_scale)
    return K[source_frame].float(), CameraPath(rel.float(), K[frames].float(), "camera-file")
