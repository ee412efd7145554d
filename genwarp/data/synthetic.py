"""Procedural synthetic scenes: the embedded default dataset (no download, runs anywhere).

Each scene is a room — an axis-aligned box whose walls, floor and ceiling carry procedural
textures (mixtures of gradients, soft checkers, stripes, value noise and random colours) — with
random boxes (rotated about the vertical) and spheres inside, seen along an indoor-walkthrough
camera path (forward motion, lateral motion, yaw, a fixed pitch), so that pairs of frames have
parallax, occlusions and disocclusions.

Rendering is exact ray casting in torch: one ray through every pixel centre, analytic
intersections, and the **exact z-depth** of the first hit. Shading is Lambertian with a fixed
light (view-independent), so a surface point has one colour in every view: warping a source view
with its exact depth reproduces the target on the pixels both views see.

World frame: OpenCV-like (x right, y down, z forward at heading 0); the floor is at
``y = +floor``, the ceiling at ``y = −ceiling``. Cameras are camera-to-world, OpenCV axes.

Everything is deterministic per scene seed. Scene geometry, textures and the camera path do not
depend on the output resolution (only the rays do), so one scene can be rendered at 64² or 512².
Scene names are ``"train_<n>"`` (the infinite training stream, n = 0, 1, 2, …) and
``"test_<n>"`` (a fixed set of ``num_test_scenes`` scenes, seeded apart from the training ones).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

from genwarp.data.base import PairDataset, SceneHandle, stable_seed
from genwarp.data.contract import Sample, View
from genwarp.data.health import MissingDataError
from genwarp.data.samplers import RangeSampler, ViewSampler
from genwarp.data.shims import Shim

__all__ = [
    "SyntheticScene",
    "SyntheticSceneConfig",
    "SyntheticScenesDataset",
    "generate_scene",
    "render_views",
    "scene_seed",
]

_NUM_PATTERNS = 4  # gradient, checker, stripes, value noise
_NOISE_GRID = 16


@dataclass(frozen=True)
class SyntheticSceneConfig:
    """Knobs of the scene generator (all lengths in metres, angles in degrees).

    Attributes:
        frames_per_scene: length of each camera path.
        fov_deg: vertical field-of-view range (square pixels; the horizontal FoV follows from
            the aspect ratio).
        step_range: camera translation per path step (its norm); the baseline of a pair with
            frame gap g is about g × step.
        yaw_rate_range: |yaw change| per step.
        pitch_range: |constant pitch| of a path.
        lateral_fraction: the largest share of sideways motion (0: straight forward walks,
            1: purely sideways ones are possible too).
        clutter: (min, max) number of primitives (boxes and spheres) in a room.
        box_size_range / sphere_radius_range: primitive sizes.
        room_margin_range: free space between the path's bounding box and the walls.
        texture_frequency_range: spatial frequency of the checker / stripe patterns (cycles/m).
        clearance: minimum distance between the camera path and any primitive.
    """

    frames_per_scene: int = 40
    fov_deg: tuple[float, float] = (50.0, 70.0)
    step_range: tuple[float, float] = (0.03, 0.08)
    yaw_rate_range: tuple[float, float] = (0.0, 2.0)
    pitch_range: tuple[float, float] = (0.0, 8.0)
    lateral_fraction: float = 1.0
    clutter: tuple[int, int] = (3, 8)
    box_size_range: tuple[float, float] = (0.25, 1.1)
    sphere_radius_range: tuple[float, float] = (0.15, 0.6)
    room_margin_range: tuple[float, float] = (1.2, 3.5)
    texture_frequency_range: tuple[float, float] = (0.4, 1.6)
    clearance: float = 0.4

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SyntheticScene:
    """Tensors describing one scene (float32, CPU)."""

    seed: int
    room_lo: Tensor  # (3,)
    room_hi: Tensor  # (3,)
    box_center: Tensor  # (NB, 3)
    box_half: Tensor  # (NB, 3)
    box_rot: Tensor  # (NB, 3, 3) local → world
    sphere_center: Tensor  # (NS, 3)
    sphere_radius: Tensor  # (NS,)
    tex_color_a: Tensor  # (NT, 3), one texture per surface: 6 room faces, then boxes, then spheres
    tex_color_b: Tensor  # (NT, 3)
    tex_weights: Tensor  # (NT, 4) pattern mixture weights (sum to 1)
    tex_freq: Tensor  # (NT,) cycles per metre
    tex_angle: Tensor  # (NT, 2) (cos, sin) of the stripe / gradient direction
    tex_phase: Tensor  # (NT, 2)
    tex_noise: Tensor  # (NT, G, G) value-noise lattice
    tex_detail: Tensor  # (NT,) amplitude of the fine multiplicative noise
    light: Tensor  # (3,) unit vector towards the light
    c2w: Tensor  # (F, 4, 4) camera path
    fov_y: float  # radians
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return int(self.c2w.shape[0])

    def intrinsics(self, height: int, width: int) -> Float[Tensor, "3 3"]:
        """Normalised intrinsics for an (height, width) image: square pixels, centred."""
        fy = 0.5 / math.tan(0.5 * self.fov_y)
        fx = fy * height / width
        return torch.tensor([[fx, 0.0, 0.5], [0.0, fy, 0.5], [0.0, 0.0, 1.0]], dtype=torch.float32)


def scene_seed(base_seed: int, name: str) -> int:
    """The generator seed of scene ``name`` (``train_<n>`` / ``test_<n>``)."""
    m = re.fullmatch(r"(train|test)_(\d+)", name)
    if m is None:
        raise MissingDataError(f"synthetic scene names are 'train_<n>' or 'test_<n>', got {name!r}", path=name, kind="unknown_scene")
    return stable_seed(int(base_seed), "synthetic", m.group(1), int(m.group(2))) % (2**63)


# ----------------------------------------------------------------------------------------------
# Scene generation (numpy, float64; converted once to torch)
# ----------------------------------------------------------------------------------------------


def _rot_x(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def _random_colors(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` random colours: uniform hue, moderate saturation / value (HSV → RGB)."""
    h = rng.random(n)
    s = rng.uniform(0.15, 0.85, n)
    v = rng.uniform(0.25, 0.95, n)
    k = (np.array([5.0, 3.0, 1.0])[None, :] + h[:, None] * 6) % 6
    return v[:, None] - v[:, None] * s[:, None] * np.clip(np.minimum(k, 4 - k), 0, 1)


def _rot_y_batch(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    R = np.zeros((len(a), 3, 3))
    R[:, 0, 0], R[:, 0, 2], R[:, 1, 1], R[:, 2, 0], R[:, 2, 2] = c, s, 1.0, -s, c
    return R


def _camera_path(rng: np.random.Generator, cfg: SyntheticSceneConfig) -> np.ndarray:
    F = cfg.frames_per_scene
    step = rng.uniform(*cfg.step_range)
    lateral = rng.uniform(-1.0, 1.0) * cfg.lateral_fraction
    # direction of travel in the camera's horizontal plane: mostly forward, some sideways
    motion = np.array([lateral, 0.0, math.sqrt(max(0.0, 1.0 - lateral**2))])
    if rng.random() < 0.2:  # some walks go backwards (reverse dolly)
        motion[2] = -motion[2]
    motion /= np.linalg.norm(motion)
    yaw_rate = math.radians(rng.uniform(*cfg.yaw_rate_range)) * rng.choice([-1.0, 1.0])
    pitch = math.radians(rng.uniform(*cfg.pitch_range)) * rng.choice([-1.0, 1.0])
    yaw0 = rng.uniform(-math.pi, math.pi)
    bob = rng.uniform(0.0, 0.01)
    k = np.arange(F)
    Ry = _rot_y_batch(yaw0 + yaw_rate * k)
    c2w = np.tile(np.eye(4), (F, 1, 1))
    c2w[:, :3, :3] = Ry @ _rot_x(pitch)
    steps = Ry @ (step * motion)  # (F, 3): the move made after frame k
    pos = np.concatenate([np.zeros((1, 3)), np.cumsum(steps[:-1], axis=0)])
    pos[:, 1] += bob * np.sin(0.7 * k)
    c2w[:, :3, 3] = pos
    return c2w


def generate_scene(seed: int, config: SyntheticSceneConfig | None = None) -> SyntheticScene:
    """Generate one scene deterministically from ``seed``."""
    cfg = config or SyntheticSceneConfig()
    rng = np.random.default_rng(seed)
    c2w = _camera_path(rng, cfg)
    cams = c2w[:, :3, 3]
    fov_y = math.radians(rng.uniform(*cfg.fov_deg))

    # room around the path
    lo = cams.min(0) - rng.uniform(*cfg.room_margin_range, size=3)
    hi = cams.max(0) + rng.uniform(*cfg.room_margin_range, size=3)
    lo[1] = cams[:, 1].min() - rng.uniform(0.8, 1.6)  # ceiling (y up is negative)
    hi[1] = cams[:, 1].max() + rng.uniform(1.2, 1.8)  # floor

    # primitives: candidates drawn in one batch, mostly in front of some camera of the path, some
    # anywhere in the room; the first n that fit the room and keep clear of the path are kept
    n_prims = int(rng.integers(cfg.clutter[0], cfg.clutter[1] + 1))
    m = max(8, 6 * n_prims)
    is_box = rng.random(m) < 0.6
    half = rng.uniform(*cfg.box_size_range, size=(m, 3)) / 2
    radius = rng.uniform(*cfg.sphere_radius_range, size=m)
    half = np.where(is_box[:, None], half, radius[:, None])
    bound_r = np.where(is_box, np.linalg.norm(half, axis=1), radius)
    frame = rng.integers(len(cams), size=m)
    dist = rng.uniform(1.0, 4.0, size=m)
    ang = rng.uniform(-0.6, 0.6, size=m) * fov_y
    d_cam = np.stack([np.sin(ang), rng.uniform(-0.15, 0.35, size=m), np.cos(ang)], 1)
    in_view = cams[frame] + np.einsum("mij,mj->mi", c2w[frame, :3, :3], dist[:, None] * d_cam)
    anywhere = lo + half + rng.random((m, 3)) * np.maximum(hi - lo - 2 * half, 0)
    center = np.where((rng.random(m) < 0.75)[:, None], in_view, anywhere)
    on_floor = rng.random(m) < 0.6
    center[:, 1] = np.where(on_floor, hi[1] - half[:, 1], center[:, 1])
    yaws = rng.uniform(-math.pi, math.pi, size=m)
    fits = np.all(center - half >= lo + 0.05, axis=1) & np.all(center + half <= hi - 0.05, axis=1)
    clear = np.min(np.linalg.norm(cams[None] - center[:, None], axis=2), axis=1) >= bound_r + cfg.clearance
    keep = np.flatnonzero(fits & clear)[:n_prims]
    kb = keep[is_box[keep]]
    ks = keep[~is_box[keep]]
    boxes_c, boxes_h, boxes_yaw = list(center[kb]), list(half[kb]), list(yaws[kb])
    sph_c, sph_r = list(center[ks]), list(radius[ks])

    nb, ns = len(boxes_c), len(sph_c)
    nt = 6 + nb + ns
    color_a = _random_colors(rng, nt)
    color_b = _random_colors(rng, nt)
    weights = rng.dirichlet(np.full(_NUM_PATTERNS, 0.5), size=nt)
    flat = rng.random(nt) < 0.12  # a few plain surfaces (random colour + fine detail only)
    weights[flat] = np.array([1.0, 0.0, 0.0, 0.0])
    color_b[flat] = color_a[flat] * rng.uniform(0.8, 1.2, size=(int(flat.sum()), 1))
    freq = rng.uniform(*cfg.texture_frequency_range, size=nt)
    ang = rng.uniform(0, math.pi, size=nt)
    angle = np.stack([np.cos(ang), np.sin(ang)], 1)
    phase = rng.uniform(0, 1, size=(nt, 2))
    noise = rng.random((nt, _NOISE_GRID, _NOISE_GRID))
    detail = rng.uniform(0.04, 0.15, size=nt)
    light = np.array([rng.uniform(-0.6, 0.6), -1.0, rng.uniform(-0.6, 0.6)])
    light /= np.linalg.norm(light)

    f32 = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float32))  # noqa: E731
    box_rot = _rot_y_batch(np.asarray(boxes_yaw)) if nb else np.zeros((0, 3, 3))
    return SyntheticScene(
        seed=int(seed),
        room_lo=f32(lo),
        room_hi=f32(hi),
        box_center=f32(np.reshape(boxes_c, (nb, 3))),
        box_half=f32(np.reshape(boxes_h, (nb, 3))),
        box_rot=f32(box_rot),
        sphere_center=f32(np.reshape(sph_c, (ns, 3))),
        sphere_radius=f32(np.reshape(sph_r, (ns,))),
        tex_color_a=f32(color_a),
        tex_color_b=f32(color_b),
        tex_weights=f32(weights),
        tex_freq=f32(freq),
        tex_angle=f32(angle),
        tex_phase=f32(phase),
        tex_noise=f32(noise),
        tex_detail=f32(detail),
        light=f32(light),
        c2w=f32(c2w),
        fov_y=fov_y,
        extras={"num_boxes": nb, "num_spheres": ns},
    )


# ----------------------------------------------------------------------------------------------
# Rendering (torch)
# ----------------------------------------------------------------------------------------------

_EPS = 1e-4
_BIG = 1e10


def _safe_inv(d: Tensor) -> Tensor:
    return 1.0 / torch.where(d.abs() < 1e-12, torch.full_like(d, 1e-12), d)


# per-surface parameter table columns (gathered once per ray)
_COL_A, _COL_B, _W, _FREQ, _ANG, _PH, _DET = slice(0, 3), slice(3, 6), slice(6, 10), 10, slice(11, 13), slice(13, 15), 15


def _param_table(scene: SyntheticScene) -> Tensor:
    table = scene.extras.get("_table")
    if table is None:
        table = torch.cat(
            [scene.tex_color_a, scene.tex_color_b, scene.tex_weights, scene.tex_freq[:, None],
             scene.tex_angle, scene.tex_phase, scene.tex_detail[:, None]], 1
        ).contiguous()
        scene.extras["_table"] = table
    return table


def _value_noise2(tex: Tensor, sid: Tensor, uv: Tensor) -> Tensor:
    """Bilinear (smoothstep) value-noise lookups in each surface's periodic lattice.

    ``uv``: (K, 2, R) — K (u, v) coordinate pairs per ray (channel-first: fast on CPU);
    returns (K, R).
    """
    G = tex.shape[-1]
    f = torch.floor(uv)
    t = uv - f
    t = t * t * (3 - 2 * t)
    i = f.long() & (G - 1)  # G is a power of two: a floor-modulo that also wraps negatives
    i1 = (i + 1) & (G - 1)
    base = sid * (G * G)
    row0 = base + i[:, 1] * G
    row1 = base + i1[:, 1] * G
    idx = torch.stack([row0 + i[:, 0], row0 + i1[:, 0], row1 + i[:, 0], row1 + i1[:, 0]], 0)  # (4, K, R)
    vals = torch.take(tex, idx)
    tu, tv = t[:, 0], t[:, 1]
    top = torch.lerp(vals[0], vals[1], tu)
    bot = torch.lerp(vals[2], vals[3], tu)
    return torch.lerp(top, bot, tv)


def _shade(scene: SyntheticScene, sid: Tensor, uv: Tensor, normal: Tensor, dirs: Tensor) -> Tensor:
    """Texture colour × Lambertian shading; all inputs per ray."""
    p = _param_table(scene).index_select(0, sid)  # (R, 16)
    u, v = uv[:, 0], uv[:, 1]
    freq = p[:, _FREQ]
    ca, ph, w = p[:, _ANG], p[:, _PH], p[:, _W]
    two_pi = 2 * math.pi
    along = u * ca[:, 0] + v * ca[:, 1]
    fu, fv, fa = freq * u, freq * v, freq * along
    waves = torch.sin(two_pi * torch.stack([0.15 * fa + ph[:, 0], fu + ph[:, 0], fv + ph[:, 1], fa + ph[:, 1]], 0))
    grad = 0.5 + 0.5 * waves[0]
    chk = 0.5 + 0.5 * torch.tanh(2.5 * waves[1] * waves[2])
    stripes = 0.5 + 0.5 * torch.tanh(2.0 * waves[3])
    nuv = torch.stack([2.0 * fu + 3.1, 2.0 * fv + 7.7, 9.0 * u + 0.37, 9.0 * v + 0.61], 0).view(2, 2, -1)
    nz = _value_noise2(scene.tex_noise, sid, nuv)  # (2, R): pattern noise, fine detail
    t = w[:, 0] * grad + w[:, 1] * chk + w[:, 2] * stripes + w[:, 3] * nz[0]
    ca_col, cb_col = p[:, _COL_A], p[:, _COL_B]
    # fine multiplicative detail, Lambertian term with the normal facing the viewer
    # (closed opaque surfaces: view independent)
    nd = (normal * dirs).sum(-1)
    nl = (normal * scene.light).sum(-1)
    lambert = torch.where(nd > 0, -nl, nl).clamp(min=0)
    gain = (1.0 + p[:, _DET] * 2.0 * (nz[1] - 0.5)) * (0.62 + 0.38 * lambert)
    color = torch.addcmul(ca_col, cb_col - ca_col, t[:, None]) * gain[:, None]
    return color.clamp(0, 1)


def _other_axes(axis: Tensor, p: Tensor) -> Tensor:
    """(u, v) = the two coordinates of ``p`` orthogonal to ``axis`` (0, 1 or 2)."""
    idx = torch.stack([torch.where(axis == 0, 2, 0), torch.where(axis == 1, 2, 1)], -1)
    return p.gather(-1, idx)


_RAY_CACHE: dict[tuple, Tensor] = {}


def _camera_rays(intrinsics: Tensor, height: int, width: int) -> Tensor:
    """Camera-frame ray directions (z = 1) through every pixel centre, (V, H·W, 3); cached."""
    key = (height, width, tuple(intrinsics.reshape(-1).tolist()))
    rays = _RAY_CACHE.get(key)
    if rays is None:
        V = intrinsics.shape[0]
        xs = (torch.arange(width, dtype=torch.float32) + 0.5) / width
        ys = (torch.arange(height, dtype=torch.float32) + 0.5) / height
        fx, fy = intrinsics[:, 0, 0], intrinsics[:, 1, 1]
        cx, cy = intrinsics[:, 0, 2], intrinsics[:, 1, 2]
        skew = intrinsics[:, 0, 1]
        yc = ((ys[None, :] - cy[:, None]) / fy[:, None])[:, :, None].expand(V, height, width)
        xc = (xs[None, None, :] - cx[:, None, None] - skew[:, None, None] * yc) / fx[:, None, None]
        rays = torch.stack([xc, yc, torch.ones_like(xc)], -1).reshape(V, height * width, 3).contiguous()
        if len(_RAY_CACHE) >= 32:
            _RAY_CACHE.clear()
        _RAY_CACHE[key] = rays
    return rays


@torch.no_grad()
def render_views(
    scene: SyntheticScene,
    c2w: Float[Tensor, "V 4 4"],
    intrinsics: Float[Tensor, "V 3 3"],
    height: int,
    width: int,
) -> tuple[Float[Tensor, "V 3 H W"], Float[Tensor, "V 1 H W"]]:
    """Ray-cast ``V`` views of ``scene``: RGB in [0, 1] and exact z-depth.

    One ray per pixel centre ((x+0.5)/W, (y+0.5)/H in normalised coordinates). Rays are
    parameterised by z-depth (camera-space direction with z = 1), so the hit parameter *is* the
    z-depth.
    """
    V = c2w.shape[0]
    dtype = torch.float32
    c2w = c2w.to(dtype)
    N = height * width
    d_cam = _camera_rays(intrinsics.to(dtype), height, width)  # (V, N, 3), z = 1
    rot = c2w[:, :3, :3]
    cam = c2w[:, :3, 3]  # (V, 3) ray origins, one per view
    # world directions: x·r0 + y·r1 + r2 (the camera z component is 1)
    dirs_v = torch.addcmul(torch.addcmul(rot[:, None, :, 2], d_cam[..., 0:1], rot[:, None, :, 0]), d_cam[..., 1:2], rot[:, None, :, 1])
    dirs = dirs_v.reshape(-1, 3)
    R = dirs.shape[0]
    inv = _safe_inv(dirs_v)

    # room (inside of an axis-aligned box): exit distance
    bound = torch.where(dirs_v > 0, scene.room_hi, scene.room_lo)
    t_axes = (bound - cam[:, None, :]) * inv
    t_best, room_axis = t_axes.reshape(R, 3).min(-1)
    sid = room_axis * 2 + (dirs.gather(-1, room_axis[:, None])[:, 0] > 0).long()
    hit_axis = room_axis
    kind = torch.zeros(R, dtype=torch.long)  # 0 room, 1 box, 2 sphere
    prim = torch.zeros(R, dtype=torch.long)

    nb = scene.box_center.shape[0]
    if nb:
        rot_t = scene.box_rot.transpose(1, 2)  # world → local, (B, 3, 3)
        o_l = torch.einsum("bij,vbj->vbi", rot_t, cam[:, None, :] - scene.box_center[None])  # (V, B, 3)
        d_l = torch.einsum("bij,vnj->vnbi", rot_t, dirs_v)  # (V, N, B, 3)
        inv_l = _safe_inv(d_l)
        # slab test: entry/exit along each local axis are -h|1/d| - o/d and h|1/d| - o/d
        a = o_l[:, None] * inv_l
        h = scene.box_half[None, None] * inv_l.abs()
        t_near, near_axis = (-h - a).max(-1)
        t_far = (h - a).min(-1).values
        hit = (t_far >= t_near) & (t_near > _EPS)
        t_box = torch.where(hit, t_near, _BIG).reshape(R, nb)
        tb, bi = t_box.min(-1)
        closer = tb < t_best
        t_best = torch.where(closer, tb, t_best)
        kind = torch.where(closer, 1, kind)
        prim = torch.where(closer, bi, prim)
        hit_axis = torch.where(closer, near_axis.reshape(R, nb).gather(-1, bi[:, None])[:, 0], hit_axis)

    ns = scene.sphere_center.shape[0]
    if ns:
        oc = cam[:, None, :] - scene.sphere_center[None]  # (V, S, 3)
        a = (dirs_v * dirs_v).sum(-1, keepdim=True)  # (V, N, 1)
        b = dirs_v @ oc.transpose(1, 2)  # (V, N, S)
        c = ((oc * oc).sum(-1) - scene.sphere_radius[None] ** 2)[:, None, :]  # (V, 1, S)
        disc = b * b - a * c
        ts = (-b - torch.sqrt(disc.clamp(min=0))) / a
        ts = torch.where((disc > 0) & (ts > _EPS), ts, _BIG).reshape(R, ns)
        tsb, si = ts.min(-1)
        closer = tsb < t_best
        t_best = torch.where(closer, tsb, t_best)
        kind = torch.where(closer, 2, kind)
        prim = torch.where(closer, si, prim)

    origins = cam[:, None, :].expand(V, N, 3).reshape(R, 3)
    points = torch.addcmul(origins, t_best[:, None], dirs)

    # normals and texture coordinates
    normal = torch.zeros(R, 3, dtype=dtype).scatter_(1, hit_axis[:, None], 1.0)  # sign fixed in _shade
    uv = _other_axes(hit_axis, points)
    if nb:
        is_box = torch.nonzero(kind == 1)[:, 0]
        if is_box.numel():
            bidx = prim[is_box]
            brot = scene.box_rot[bidx]
            p_local = (brot.transpose(1, 2) @ (points[is_box] - scene.box_center[bidx])[:, :, None])[:, :, 0]
            ax = hit_axis[is_box]
            normal[is_box] = brot.gather(2, ax[:, None, None].expand(-1, 3, 1))[:, :, 0]
            uv[is_box] = _other_axes(ax, p_local) + 1.7 * ax[:, None].to(dtype)
            sid[is_box] = 6 + bidx
    if ns:
        is_sph = torch.nonzero(kind == 2)[:, 0]
        if is_sph.numel():
            sidx = prim[is_sph]
            rel = points[is_sph] - scene.sphere_center[sidx]
            r = scene.sphere_radius[sidx]
            n = rel / r[:, None]
            normal[is_sph] = n
            lon = torch.atan2(n[:, 0], n[:, 2]) * r
            lat = torch.asin(n[:, 1].clamp(-1, 1)) * r
            uv[is_sph] = torch.stack([lon, lat], -1)
            sid[is_sph] = 6 + nb + sidx

    color = _shade(scene, sid, uv, normal, dirs)
    image = color.reshape(V, height, width, 3).permute(0, 3, 1, 2).contiguous()
    depth = t_best.reshape(V, 1, height, width).contiguous()
    return image, depth


# ----------------------------------------------------------------------------------------------
# Dataset
# ----------------------------------------------------------------------------------------------


class _SyntheticHandle(SceneHandle):
    def __init__(self, ds: SyntheticScenesDataset, name: str):
        self.ds = ds
        self.name = name
        self.scene = generate_scene(scene_seed(ds.seed, name), ds.config)
        self.frame_ids = list(range(self.scene.num_frames))

    def render(self, indices: Sequence[int]) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        for i in indices:
            if not 0 <= i < self.scene.num_frames:
                raise MissingDataError(f"{self.name} has frames 0..{self.scene.num_frames - 1}, asked for {i}", path=f"{self.name}:{i}", kind="missing_frame")
        h, w = self.ds.resolution
        c2w = self.scene.c2w[list(indices)]
        K = self.scene.intrinsics(h, w).expand(len(indices), 3, 3)
        image, depth = render_views(self.scene, c2w, K, h, w)
        return image, depth, K, c2w

    def load_view(self, index: int, *, with_depth: bool) -> View:
        image, depth, K, c2w = self.render([index])
        return View(
            image=image[0], intrinsics=K[0].clone(), c2w=c2w[0].clone(),
            depth=depth[0] if with_depth else None,
            depth_valid=torch.ones_like(depth[0], dtype=torch.bool) if with_depth else None,
            depth_source="gt", index=index,
        )


class SyntheticScenesDataset(PairDataset):
    """Procedurally generated rooms, rendered on the fly (see the module docstring).

    Args:
        split: ``"train"`` — an infinite stream of new scenes (``train_0``, ``train_1``, …,
            split across workers/ranks); ``"test"`` — the fixed scenes ``test_0`` …
            ``test_<num_test_scenes−1>`` (one epoch visits each once).
        resolution: render size, an int (square) or (H, W).
        config: :class:`SyntheticSceneConfig` (FoV, baseline per step, clutter, …).
        sampler: view sampler; default ``RangeSampler(2, 12)`` (frame gaps).
        shim: applied after rendering (default: none; the renderer already produces
            ``resolution``).
        num_test_scenes: size of the test split.
        depth: ``"gt"`` (exact depth, default) or ``"none"`` (or a cache / estimator).
        depth_noise: strength of the MDE-like corruption applied to the exact source depth
            (:class:`genwarp.depth.MDECorruptor`; 0 = exact). Seeded per (scene, frame).
        seed: base seed; scene ``name`` is generated from ``stable_seed(seed, name)``.
        shuffle: shuffle the test scenes per epoch (the train stream is always fresh scenes).
    """

    dataset_name = "synthetic"
    ground_truth_depth = True

    def __init__(
        self,
        split: str = "train",
        resolution: int | Sequence[int] = 64,
        *,
        config: SyntheticSceneConfig | None = None,
        sampler: ViewSampler | None = None,
        shim: Shim | None = None,
        num_test_scenes: int = 64,
        depth: Any = "gt",
        depth_noise: float = 0.0,
        seed: int = 0,
        shuffle: bool | None = None,
        repeat: bool = False,
        shard: tuple[int, int] | None = None,
    ):
        if split not in ("train", "test"):
            raise ValueError(f"SyntheticScenesDataset split must be 'train' or 'test', got {split!r}")
        self.split = split
        self.resolution = (int(resolution), int(resolution)) if isinstance(resolution, int) else tuple(int(r) for r in resolution)
        self.config = config or SyntheticSceneConfig()
        self.num_test_scenes = int(num_test_scenes)
        self.depth_noise = float(depth_noise)
        super().__init__(
            sampler=sampler if sampler is not None else RangeSampler(2, 12),
            shim=shim,
            depth=depth,
            seed=seed,
            shuffle=(split == "train") if shuffle is None else shuffle,
            repeat=repeat,
            shard=shard,
        )
        self._corruptor = None
        if self.depth_noise > 0:
            from genwarp.depth.corrupt import MDECorruptor

            self._corruptor = MDECorruptor(self.depth_noise)
        self._last: _SyntheticHandle | None = None

    def scene_names(self) -> list[str]:
        if self.split == "train":
            raise TypeError("the synthetic train split is an infinite stream; it has no scene list")
        return [f"test_{i}" for i in range(self.num_test_scenes)]

    def open_scene(self, name: str) -> _SyntheticHandle:
        if self._last is not None and self._last.name == name:
            return self._last
        handle = _SyntheticHandle(self, name)
        self._last = handle
        return handle

    def _iter_epoch(self, epoch: int) -> Iterator[Sample]:
        if self.split == "test" or self.sampler.scenes() is not None:
            yield from super()._iter_epoch(epoch)
            return
        shard, num_shards = self.shard_info()
        rng = np.random.default_rng(stable_seed(self.seed, "train-stream", shard))
        n = shard
        while True:  # infinite stream of fresh scenes
            handle = self.open_scene(f"train_{n}")
            for src, tgt in self.sampler.scene_pairs(handle.name, handle.frame_ids, rng):
                yield self._make_pair(handle, src, tgt, rng)
            n += num_shards

    def _make_pair(self, handle: SceneHandle, src_index: int, tgt_index: int, rng: np.random.Generator) -> Sample:
        if self.depth_mode != "gt" or not isinstance(handle, _SyntheticHandle):
            return super()._make_pair(handle, src_index, tgt_index, rng)
        # fast path: render both views in one batch
        image, depth, K, c2w = handle.render([src_index, tgt_index])
        ones = torch.ones_like(depth[0], dtype=torch.bool)
        src = View(image[0], K[0].clone(), c2w[0].clone(), depth[0], ones, "gt", src_index)
        tgt = View(image[1], K[1].clone(), c2w[1].clone(), depth[1], ones, "gt", tgt_index)
        src, tgt = self.shim([src, tgt], rng)
        src = self._postprocess_source(handle, src, rng)
        from genwarp.data.contract import make_sample

        return make_sample(src, tgt, dataset=self.dataset_name, scene=handle.name, src_index=src_index, tgt_index=tgt_index)

    def _postprocess_source(self, handle: SceneHandle, src: View, rng: np.random.Generator) -> View:
        if self._corruptor is None or src.depth is None:
            return src
        gen = torch.Generator().manual_seed(stable_seed(self.seed, "depth-noise", handle.name, src.index) % (2**63))
        src.depth = self._corruptor(src.depth[None], generator=gen)[0]
        src.depth_source = f"corrupted:{self.depth_noise:g}"
        return src

    def describe(self) -> dict[str, Any]:
        """What defines this dataset's content (recorded in evaluation indices)."""
        d = {"split": self.split, "seed": self.seed, "num_test_scenes": self.num_test_scenes, "config": self.config.to_dict()}
        return json.loads(json.dumps(d))  # JSON types (tuples -> lists), as stored in an index
