"""The on-disk layout of an evaluation folder (what generate writes and score reads).

::

    <output_dir>/
      manifest.json          the pairs: id, scene, src_index, tgt_index, range (+ index metadata)
      config.yaml            resolved config of the last command run on the folder
      method.json            what produced images/ (method name and settings)
      settings.json          everything that determines the references and images/ (data, depth,
                             resolution, method, checkpoint digest, sampler, seed; see
                             genwarp.evaluation.settings): a run with other settings is refused
      sources/<id>.png       source view           ┐ written once per pair ("references"),
      targets/<id>.png       ground-truth target   │ shared by every method scored here
      visibility/<id>.png    target pixels the source sees (255) / does not see (0)
      images/<id>.png        the method's novel view
      warped/<id>.png        the method's warped source, when it has one
      per_pair.csv / per_pair.json / summary.json / meta.json / results.md   (score; written next to
                             the predictions when a foreign predictions folder is scored, or to results_dir)

Pair ids are ``<scene>__<src_index>__<tgt_index>`` with path-unsafe characters replaced. Every
PNG is 8-bit RGB (masks 8-bit grey) and is written atomically (temporary file + rename), so an
interrupted run never leaves a truncated image behind and a resumed run skips finished pairs.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import PIL.Image
import torch
from jaxtyping import Float
from torch import Tensor

__all__ = ["EvalLayout", "pair_id", "read_png", "write_json", "write_png"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def pair_id(scene: str, src_index: int, tgt_index: int) -> str:
    """File-name-safe identifier of one evaluation pair."""
    return f"{_UNSAFE.sub('-', str(scene))}__{int(src_index)}__{int(tgt_index)}"


def write_png(path: str | os.PathLike, image: Float[Tensor, "c h w"]) -> None:
    """Write a (3, H, W) image or (1, H, W) mask in [0, 1] as an 8-bit PNG, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = (image.detach().float().clamp(0, 1).cpu() * 255).round().to(torch.uint8).numpy()
    img = PIL.Image.fromarray(arr[0], mode="L") if arr.shape[0] == 1 else PIL.Image.fromarray(arr.transpose(1, 2, 0))
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    img.save(tmp, format="PNG")
    os.replace(tmp, path)


def read_png(path: str | os.PathLike, channels: int = 3) -> Float[Tensor, "c h w"]:
    """Read an 8-bit PNG as a float (channels, H, W) tensor in [0, 1]."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"missing image {path}")
    with PIL.Image.open(path) as img:
        img = img.convert("L" if channels == 1 else "RGB")
        arr = np.asarray(img, dtype=np.float32) / 255.0
    t = torch.from_numpy(arr.copy())
    return t[None] if channels == 1 else t.permute(2, 0, 1).contiguous()


def write_json(path: str | os.PathLike, data: Any) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, allow_nan=True) + "\n")
    os.replace(tmp, path)


class EvalLayout:
    """Paths inside one evaluation folder (see the module docstring)."""

    REFERENCE_DIRS = ("sources", "targets", "visibility")

    def __init__(self, root: str | os.PathLike, predictions: str | os.PathLike | None = None,
                 results: str | os.PathLike | None = None):
        self.root = Path(root)
        self.predictions = Path(predictions) if predictions else self.root / "images"
        # score's outputs: the folder itself, or — when scoring a foreign predictions folder — that folder
        self.results = Path(results) if results else (self.predictions if predictions else self.root)

    def path(self, kind: str, pid: str) -> Path:
        """``kind`` is ``sources``/``targets``/``visibility``/``images``/``warped``."""
        base = self.predictions if kind == "images" else self.root / kind
        return base / f"{pid}.png"

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.json"

    def has_references(self, pid: str) -> bool:
        return all(self.path(k, pid).is_file() for k in self.REFERENCE_DIRS)

    def has_image(self, pid: str) -> bool:
        return self.path("images", pid).is_file()

    def read_manifest(self) -> dict[str, Any]:
        """The manifest; a missing, unreadable or empty one is an error naming the file."""
        from genwarp.data.eval_index import read_json

        if not self.manifest.is_file():
            raise FileNotFoundError(
                f"{self.manifest} does not exist: run stage=prepare (or generate) on {self.root} first"
            )
        manifest = read_json(self.manifest, "the evaluation manifest")
        redo = f"run stage=prepare (or generate) on {self.root} again to rewrite it"
        if not isinstance(manifest, dict) or not isinstance(manifest.get("pairs"), list):
            raise ValueError(f"{self.manifest}: not an evaluation manifest (no 'pairs' list): {redo}")
        if not manifest["pairs"]:
            raise ValueError(f"{self.manifest} lists no pairs (nothing to score): {redo} with a non-empty index")
        for i, p in enumerate(manifest["pairs"]):
            if not isinstance(p, dict) or not all(k in p for k in ("id", "scene", "src_index", "tgt_index", "range")):
                raise ValueError(f"{self.manifest}: pair {i} lacks id/scene/src_index/tgt_index/range: {redo}")
        return manifest
