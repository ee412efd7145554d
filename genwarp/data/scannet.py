"""ScanNet (SensReader export) pairs with ground-truth depth.

Layout (what ``SensReader`` writes with ``--export_color_images --export_depth_images
--export_poses --export_intrinsics``)::

    <root>/<scene>/color/<i>.jpg                       colour frames (typically 1296×968)
    <root>/<scene>/depth/<i>.png                       uint16 depth in millimetres (typically
                                                       640×480), 0 = no measurement
    <root>/<scene>/pose/<i>.txt                        4×4 camera-to-world (metres, OpenCV axes)
    <root>/<scene>/intrinsic/intrinsic_color.txt       4×4, pixel units (top-left 3×3 used)
    <root>/<scene>/intrinsic/intrinsic_depth.txt       4×4, pixel units

Colour and depth have different sizes *and* slightly different intrinsics. Depth is registered
to the colour camera (same centre and orientation, as the export assumes) by resampling: the
colour pixel at normalised position ``u_c`` sees the ray ``(u_c − cx_c)/fx_c``, which the depth
camera images at ``u_d = fx_d·(u_c − cx_c)/fx_c + cx_d``; depth is sampled there (nearest) on a
grid of the depth image's size, so it carries the colour view's normalised intrinsics. Pixel
intrinsics (integer pixel centres) are converted to normalised ones with ``fx/W`` and
``(cx + 0.5)/W``.

Frames whose pose is not finite (ScanNet marks failed tracking with ``-inf``) are dropped and
counted. Frame indices are the integer file names. Ground-truth depth (``depth="gt"``, the
default) fills both ``src_depth`` and ``tgt_depth``.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from jaxtyping import Float
from PIL import Image
from torch import Tensor

from genwarp.data.base import PairDataset, SceneHandle
from genwarp.data.contract import View
from genwarp.data.health import CorruptDataError, DatasetLayoutError, MissingDataError
from genwarp.data.re10k import load_image
from genwarp.data.samplers import RangeSampler, ViewSampler
from genwarp.data.shims import Shim

__all__ = ["ScanNetDataset", "read_matrix", "register_depth_to_color"]


def read_matrix(path: Path, shape: tuple[int, int] = (4, 4)) -> np.ndarray:
    """Read a whitespace-separated matrix text file (fast path for the many pose files)."""
    try:
        text = path.read_text()
    except FileNotFoundError as e:
        raise MissingDataError(f"{path} does not exist", path=path, kind="missing_pose") from e
    try:
        arr = np.array(text.split(), dtype=np.float64)
        return arr.reshape(shape)
    except ValueError as e:
        raise CorruptDataError(f"{path}: expected {shape[0]}x{shape[1]} numbers: {e}", path=path, kind="corrupt_pose") from e


def _pixel_to_normalized(K: np.ndarray, height: int, width: int) -> Tensor:
    """Pixel intrinsics (integer pixel centres) → normalised (pixel centres at (x+0.5)/W)."""
    out = np.eye(3)
    out[0, 0], out[0, 1], out[0, 2] = K[0, 0] / width, K[0, 1] / width, (K[0, 2] + 0.5) / width
    out[1, 1], out[1, 2] = K[1, 1] / height, (K[1, 2] + 0.5) / height
    return torch.from_numpy(out).float()


def register_depth_to_color(
    depth: Float[Tensor, "1 h w"], K_depth: Float[Tensor, "3 3"], K_color: Float[Tensor, "3 3"]
) -> Float[Tensor, "1 h w"]:
    """Resample a depth map (normalised intrinsics ``K_depth``) onto a grid of the same size
    whose normalised intrinsics are ``K_color`` (same camera centre and orientation); nearest
    neighbour, 0 outside the depth camera's view."""
    h, w = depth.shape[-2:]
    u = (torch.arange(w, dtype=torch.float32) + 0.5) / w
    v = (torch.arange(h, dtype=torch.float32) + 0.5) / h
    x = (u - K_color[0, 2]) / K_color[0, 0]
    y = (v - K_color[1, 2]) / K_color[1, 1]
    ud = K_depth[0, 0] * x + K_depth[0, 2]
    vd = K_depth[1, 1] * y + K_depth[1, 2]
    grid = torch.stack(torch.broadcast_tensors(ud[None, :] * 2 - 1, vd[:, None] * 2 - 1), -1)[None]
    out = F.grid_sample(depth[None].float(), grid, mode="nearest", padding_mode="zeros", align_corners=False)
    return out[0]


class _ScanNetScene(SceneHandle):
    def __init__(self, ds: ScanNetDataset, name: str):
        self.ds = ds
        self.name = name
        self.dir = ds.root / name
        color_dir = self.dir / "color"
        try:
            listing = os.listdir(color_dir)
        except FileNotFoundError as e:
            raise MissingDataError(f"ScanNet scene {name}: {color_dir} does not exist", path=color_dir, kind="missing_sequence") from e
        ids = sorted(int(os.path.splitext(f)[0]) for f in listing if os.path.splitext(f)[0].isdigit() and f.lower().endswith((".jpg", ".jpeg", ".png")))
        self.color_ext = {int(os.path.splitext(f)[0]): f for f in listing if os.path.splitext(f)[0].isdigit()}
        self.K_color_pix = read_matrix(self.dir / "intrinsic" / "intrinsic_color.txt")[:3, :3]
        depth_k = self.dir / "intrinsic" / "intrinsic_depth.txt"
        self.K_depth_pix = read_matrix(depth_k)[:3, :3] if depth_k.is_file() else None
        self.poses: dict[int, np.ndarray] = {}
        for i in ids:
            try:
                pose = read_matrix(self.dir / "pose" / f"{i}.txt")
            except (MissingDataError, CorruptDataError) as e:
                ds.health.record(e.kind, e.path or str(i), str(e))
                continue
            if not np.all(np.isfinite(pose)):
                ds.health.record("invalid_pose", self.dir / "pose" / f"{i}.txt", "non-finite camera-to-world")
                continue
            self.poses[i] = pose
        self.frame_ids = sorted(self.poses)
        if not self.frame_ids:
            raise MissingDataError(f"ScanNet scene {name} has no frame with a valid pose", path=self.dir, kind="missing_sequence")

    def load_view(self, index: int, *, with_depth: bool) -> View:
        pose = self.poses.get(index)
        if pose is None:
            raise MissingDataError(f"ScanNet {self.name}: frame {index} is missing or has an invalid pose", path=self.dir / "pose" / f"{index}.txt", kind="missing_frame")
        fn = self.color_ext.get(index, f"{index}.jpg")
        image = load_image(self.dir / "color" / fn)
        H, W = image.shape[-2:]
        K = _pixel_to_normalized(self.K_color_pix, H, W)
        view = View(image, K, torch.from_numpy(pose).float(), index=index)
        if with_depth:
            view.depth, view.depth_valid = self._load_depth(index, K)
            view.depth_source = "gt"
        return view

    def _load_depth(self, index: int, K_color: Tensor) -> tuple[Tensor, Tensor]:
        path = self.dir / "depth" / f"{index}.png"
        try:
            with Image.open(path) as img:
                arr = np.asarray(img)
        except FileNotFoundError as e:
            raise MissingDataError(f"ScanNet depth {path} does not exist", path=path, kind="missing_depth") from e
        except Exception as e:
            raise CorruptDataError(f"cannot read ScanNet depth {path}: {e}", path=path, kind="corrupt_depth") from e
        if arr.ndim != 2:
            raise CorruptDataError(f"ScanNet depth {path} has shape {arr.shape}, expected a single-channel uint16 image", path=path, kind="corrupt_depth")
        depth = torch.from_numpy(arr.astype(np.float32) / self.ds.depth_scale)[None]
        h, w = depth.shape[-2:]
        if self.K_depth_pix is not None:
            K_depth = _pixel_to_normalized(self.K_depth_pix, h, w)
            depth = register_depth_to_color(depth, K_depth, K_color)
        valid = (depth > 0) & (depth <= self.ds.max_depth)
        return torch.where(valid, depth, torch.zeros(())), valid


class ScanNetDataset(PairDataset):
    """ScanNet pairs (SensReader export) with ground-truth depth.

    Args:
        root: folder holding ``<scene>/color``, ``<scene>/depth``, ``<scene>/pose``,
            ``<scene>/intrinsic``.
        scenes: scene names to use (a list, or a text file with one name per line); default:
            every sub-folder that has ``color/`` and ``pose/``.
        depth_scale: depth PNG units per metre (1000: millimetres).
        max_depth: depth beyond this (metres) is marked invalid.
        sampler: default ``RangeSampler(10, 60)`` (frame-number gaps; 30 fps exports).
        shim, depth, seed, shuffle, repeat, shard: see :class:`PairDataset` (``depth`` defaults
            to ``"gt"``).

    Raises:
        DatasetLayoutError: at construction when ``root`` is missing or holds no scene in the
            expected layout.
    """

    dataset_name = "scannet"
    ground_truth_depth = True

    def __init__(
        self,
        root: str | Path,
        scenes: Sequence[str] | str | Path | None = None,
        *,
        sampler: ViewSampler | None = None,
        shim: Shim | None = None,
        depth: Any = "gt",
        depth_scale: float = 1000.0,
        max_depth: float = 20.0,
        seed: int = 0,
        shuffle: bool = True,
        repeat: bool = False,
        shard: tuple[int, int] | None = None,
    ):
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetLayoutError(f"ScanNet root {self.root} does not exist or is not a folder", path=self.root)
        if isinstance(scenes, (str, Path)):
            path = Path(scenes)
            if not path.is_file():
                raise DatasetLayoutError(f"ScanNet scene list {path} does not exist", path=path)
            scenes = [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]
        if scenes is None:
            scenes = sorted(e.name for e in os.scandir(self.root) if e.is_dir() and (Path(e.path) / "color").is_dir() and (Path(e.path) / "pose").is_dir())
            if not scenes:
                hint = " (it looks like a single scene folder: pass its parent)" if (self.root / "color").is_dir() else ""
                raise DatasetLayoutError(
                    f"ScanNet: no scene under {self.root}; expected <root>/<scene>/color/<i>.jpg, depth/<i>.png, "
                    f"pose/<i>.txt and intrinsic/intrinsic_color.txt (a SensReader export){hint}",
                    path=self.root,
                )
        else:
            scenes = list(scenes)
            absent = [s for s in scenes if not (self.root / s / "color").is_dir()]
            if absent:
                raise DatasetLayoutError(f"ScanNet: scenes {absent[:5]} have no {self.root}/<scene>/color folder", path=self.root / absent[0])
        self._scenes = list(scenes)
        self.depth_scale = float(depth_scale)
        self.max_depth = float(max_depth)
        super().__init__(sampler=sampler if sampler is not None else RangeSampler(10, 60), shim=shim, depth=depth,
                         seed=seed, shuffle=shuffle, repeat=repeat, shard=shard)
        self._handles: OrderedDict[str, _ScanNetScene] = OrderedDict()

    def scene_names(self) -> list[str]:
        return list(self._scenes)

    def open_scene(self, name: str) -> _ScanNetScene:
        h = self._handles.get(name)
        if h is None:
            if not (self.root / name).is_dir():
                raise MissingDataError(f"ScanNet scene {name} not found under {self.root}", path=self.root / name, kind="missing_sequence")
            h = _ScanNetScene(self, name)
            self._handles[name] = h
            while len(self._handles) > 4:
                self._handles.popitem(last=False)
        else:
            self._handles.move_to_end(name)
        return h

    def __repr__(self) -> str:
        return f"ScanNetDataset(root={str(self.root)!r}, {len(self._scenes)} scenes, depth={self.depth_mode!r})"
