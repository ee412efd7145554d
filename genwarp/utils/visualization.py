"""Image grids for contact sheets, validation images and paper figures."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import PIL.Image
import PIL.ImageDraw
from jaxtyping import Float
from torch import Tensor


def to_uint8(image: Float[Tensor, "c h w"]) -> np.ndarray:
    """(C, H, W) float in [0, 1] (C = 1 or 3) → (H, W, 3) uint8."""
    array = image.detach().float().clamp(0, 1).cpu().numpy()
    if array.shape[0] == 1:
        array = np.repeat(array, 3, axis=0)
    return (array.transpose(1, 2, 0) * 255).round().astype(np.uint8)


def image_grid(
    rows: Sequence[Sequence[Float[Tensor, "c h w"]]],
    column_labels: Sequence[str] | None = None,
    pad: int = 2,
    label_height: int = 14,
    min_tile: int = 0,
) -> PIL.Image.Image:
    """A grid of same-size images (rows × columns) with optional column labels on top.

    Images narrower than ``min_tile`` pixels (default 0: never) are enlarged by an integer factor
    (nearest neighbour, so pixels stay pixels) until they are at least that wide: 32² validation
    images can then be looked at, and a column label fits over its column.
    """
    if not rows or not rows[0]:
        raise ValueError("image_grid needs at least one row with one image")
    h0, w0 = rows[0][0].shape[-2:]
    scale = max(1, -(-min_tile // w0))  # ceil
    h, w = h0 * scale, w0 * scale
    n_cols = max(len(r) for r in rows)
    top = label_height if column_labels else 0
    canvas = PIL.Image.new("RGB", (n_cols * (w + pad) + pad, top + len(rows) * (h + pad) + pad), (255, 255, 255))
    for i, row in enumerate(rows):
        for j, image in enumerate(row):
            if image.shape[-2:] != (h0, w0):
                raise ValueError(f"grid image ({i}, {j}) has size {tuple(image.shape[-2:])}, expected {(h0, w0)}")
            tile = PIL.Image.fromarray(to_uint8(image))
            if scale > 1:
                tile = tile.resize((w, h), PIL.Image.NEAREST)
            canvas.paste(tile, (pad + j * (w + pad), top + pad + i * (h + pad)))
    if column_labels:
        draw = PIL.ImageDraw.Draw(canvas)
        for j, label in enumerate(column_labels):
            draw.text((pad + j * (w + pad) + 2, 1), label, fill=(0, 0, 0))
    return canvas


def save_image_grid(rows, path: str | Path, column_labels: Sequence[str] | None = None, min_tile: int = 0) -> Path:
    """:func:`image_grid` written to ``path`` (PNG); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image_grid(rows, column_labels, min_tile=min_tile).save(path)
    return path


__all__ = ["image_grid", "save_image_grid", "to_uint8"]
