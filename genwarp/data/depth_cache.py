"""On-disk depth cache written by ``scripts/precompute_depth.py`` and read by the loaders.

Layout (one float16 ``.npy`` per frame, so writes are independent and resumable)::

    <root>/meta.json                                  {"name", "estimator", "units", ...}
    <root>/<dataset>/<scene>/<frame:06d>.npy          float16 (H, W) z-depth
    <root>/<dataset>/<scene>/scale.json               optional {"scale", "residual", "pairs": [...]}

``frame`` is the dataset's frame index (the ``src_index`` of a sample). Depth is stored at the
resolution it was estimated at; loaders resample it (nearest) to the frame's size. When a scene
has ``scale.json`` (written by the photometric scale alignment), :meth:`DepthCache.load` returns
``scale × depth`` so that cached metric depth comes out in the units of that scene's poses.
Files are written to a temporary name and renamed, so an interrupted run never leaves a partial
file behind.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

__all__ = ["DepthCache"]


def _safe(part: str) -> str:
    return str(part).replace("/", "__").replace("\\", "__")


class DepthCache:
    """Read / write access to a depth cache folder.

    Args:
        root: the cache folder (created on the first write).
        name: a label for ``depth_source`` (``"cache:<name>"``); defaults to ``meta.json``'s
            ``name`` or the folder name.
        apply_scale: multiply by the scene's ``scale.json`` scale when present.
    """

    def __init__(self, root: str | Path, name: str | None = None, *, apply_scale: bool = True):
        self.root = Path(root)
        meta = self.meta()
        self.name = name or meta.get("name") or self.root.name
        self.apply_scale = apply_scale
        self._scales: dict[tuple[str, str], float | None] = {}

    def meta(self) -> dict[str, Any]:
        p = self.root / "meta.json"
        if p.is_file():
            with open(p) as f:
                return json.load(f)
        return {}

    def write_meta(self, **meta: Any) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        current = self.meta()
        current.update(meta)
        _atomic_write_text(self.root / "meta.json", json.dumps(current, indent=2, sort_keys=True))

    def scene_dir(self, dataset: str, scene: str) -> Path:
        return self.root / _safe(dataset) / _safe(scene)

    def path_for(self, dataset: str, scene: str, index: int) -> Path:
        return self.scene_dir(dataset, scene) / f"{int(index):06d}.npy"

    def has(self, dataset: str, scene: str, index: int) -> bool:
        return self.path_for(dataset, scene, index).is_file()

    def save(self, dataset: str, scene: str, index: int, depth: Float[Tensor, "*one H W"]) -> Path:
        d = depth.detach().float().cpu().reshape(depth.shape[-2:]).numpy()
        d = np.where(np.isfinite(d), d, 0.0).clip(0, 65000).astype(np.float16)
        path = self.path_for(dataset, scene, index)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.save(f, d)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return path

    def load(self, dataset: str, scene: str, index: int) -> Float[Tensor, "1 H W"] | None:
        """The cached depth (float32, (1, H, W), scene scale applied), or ``None`` if absent.

        Raises :class:`~genwarp.data.CorruptDataError` (kind ``corrupt_cached_depth``) naming the
        file when it exists but cannot be read as an (H, W) array.
        """
        from genwarp.data.health import CorruptDataError

        path = self.path_for(dataset, scene, index)
        try:
            arr = np.load(path)
        except FileNotFoundError:
            return None
        except (ValueError, OSError, EOFError) as e:
            raise CorruptDataError(f"cached depth {path} cannot be read ({e}): delete it and rerun "
                                   "scripts/precompute_depth.py (it fills in what is missing)",
                                   path=path, kind="corrupt_cached_depth") from e
        if arr.ndim != 2:
            raise CorruptDataError(f"cached depth {path} has shape {arr.shape}, expected (H, W): delete it and rerun "
                                   "scripts/precompute_depth.py", path=path, kind="corrupt_cached_depth")
        depth = torch.from_numpy(arr.astype(np.float32))[None]
        if self.apply_scale:
            s = self.scene_scale(dataset, scene)
            if s is not None:
                depth = depth * s
        return depth

    def scene_scale(self, dataset: str, scene: str) -> float | None:
        key = (dataset, scene)
        if key not in self._scales:
            p = self.scene_dir(dataset, scene) / "scale.json"
            scale = None
            if p.is_file():
                with open(p) as f:
                    scale = json.load(f).get("scale")
            self._scales[key] = None if scale is None else float(scale)
        return self._scales[key]

    def save_scene_scale(self, dataset: str, scene: str, record: dict[str, Any]) -> None:
        if "scale" not in record:
            raise ValueError("a scale record needs a 'scale'")
        d = self.scene_dir(dataset, scene)
        d.mkdir(parents=True, exist_ok=True)
        _atomic_write_text(d / "scale.json", json.dumps(record, indent=2, sort_keys=True))
        self._scales.pop((dataset, scene), None)

    def __repr__(self) -> str:
        return f"DepthCache({str(self.root)!r}, name={self.name!r})"


def _atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)
