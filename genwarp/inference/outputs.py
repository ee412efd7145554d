"""Writing results: per-view PNGs, an MP4 and a GIF of the path, a contact sheet, a depth preview.

MP4s are H.264 (yuv420p, playable in browsers) through PyAV when it is installed (the ``infer`` /
``demo`` extras), otherwise MPEG-4 Part 2 through OpenCV; one frame per view, in path order.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import PIL.Image
import torch
from jaxtyping import Float
from torch import Tensor
from torch.nn import functional as F

from genwarp.utils import image_grid, to_uint8

__all__ = [
    "count_video_frames",
    "depth_preview",
    "save_png",
    "write_contact_sheet",
    "write_gif",
    "write_mp4",
]


def save_png(image: Float[Tensor, "c h w"], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    PIL.Image.fromarray(to_uint8(image)).save(path)
    return path


def _frames_uint8(frames: Sequence[Float[Tensor, "3 h w"]] | Float[Tensor, "n 3 h w"]) -> list[np.ndarray]:
    out = [to_uint8(f) for f in frames]
    if not out:
        raise ValueError("a video needs at least one frame")
    return out


def write_mp4(frames: Sequence[Float[Tensor, "3 h w"]] | Float[Tensor, "n 3 h w"], path: str | Path, fps: float = 8.0) -> Path:
    """An MP4 with exactly one frame per view (even sizes are padded by one pixel if needed)."""
    arrays = _frames_uint8(frames)
    h, w = arrays[0].shape[:2]
    ph, pw = h % 2, w % 2  # yuv420p needs even sizes
    if ph or pw:
        arrays = [np.pad(a, ((0, ph), (0, pw), (0, 0)), mode="edge") for a in arrays]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import av
    except ImportError:
        return _write_mp4_opencv(arrays, path, fps)
    from fractions import Fraction

    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264" if "libx264" in av.codecs_available else "mpeg4",
                                      rate=Fraction(fps).limit_denominator(1000))
        stream.width, stream.height = arrays[0].shape[1], arrays[0].shape[0]
        stream.pix_fmt = "yuv420p"
        if stream.codec_context.name == "libx264":
            stream.options = {"crf": "18", "preset": "medium"}
        for a in arrays:
            for packet in stream.encode(av.VideoFrame.from_ndarray(a, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def _write_mp4_opencv(arrays: list[np.ndarray], path: Path, fps: float) -> Path:
    import cv2

    h, w = arrays[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (w, h))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {path}; install PyAV (pip install av) for MP4 output")
    try:
        for a in arrays:
            writer.write(a[:, :, ::-1].copy())
    finally:
        writer.release()
    return path


def write_gif(frames: Sequence[Float[Tensor, "3 h w"]] | Float[Tensor, "n 3 h w"], path: str | Path, fps: float = 8.0,
              loop: bool = True) -> Path:
    """An animated GIF, one frame per view."""
    images = [PIL.Image.fromarray(a) for a in _frames_uint8(frames)]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    images[0].save(path, save_all=True, append_images=images[1:], duration=max(1, round(1000 / fps)),
                   loop=0 if loop else 1, optimize=False, disposal=1)
    return path


def count_video_frames(path: str | Path) -> int:
    """Decoded frame count of a video (PyAV if installed, else OpenCV)."""
    try:
        import av
    except ImportError:
        import cv2

        cap = cv2.VideoCapture(str(path))
        n = 0
        while cap.read()[0]:
            n += 1
        cap.release()
        return n
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def _thumb(image: Tensor, max_side: int) -> Tensor:
    h, w = image.shape[-2:]
    s = max_side / max(h, w)
    if s >= 1:
        return image
    size = (max(1, round(h * s)), max(1, round(w * s)))
    return F.interpolate(image[None].float(), size=size, mode="bilinear", antialias=True, align_corners=False)[0].clamp(0, 1)


def write_contact_sheet(
    source: Float[Tensor, "3 h w"],
    warped: Float[Tensor, "n 3 h w"],
    generated: Float[Tensor, "n 3 h w"],
    path: str | Path,
    max_side: int = 256,
) -> Path:
    """One row per view: input | warped | generated (tiles at most ``max_side`` pixels)."""
    if warped.shape[0] != generated.shape[0]:
        raise ValueError(f"{warped.shape[0]} warped views but {generated.shape[0]} generated ones")
    src = _thumb(source, max_side)
    rows = [[src, _thumb(w, max_side), _thumb(g, max_side)] for w, g in zip(warped, generated)]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image_grid(rows, ["input", "warped", "generated"]).save(path)
    return path


def depth_preview(depth: Float[Tensor, "1 h w"], mask: Tensor | None = None) -> Float[Tensor, "3 h w"]:
    """Inverse depth normalised to [0, 1] (near = bright) as a grey RGB image; unknown pixels black."""
    d = depth.float()
    ok = torch.isfinite(d) & (d > 0)
    if mask is not None:
        ok = ok & mask
    inv = torch.where(ok, 1.0 / d.clamp(min=1e-6), torch.zeros_like(d))
    if bool(ok.any()):
        lo, hi = inv[ok].min(), inv[ok].max()
        inv = torch.where(ok, (inv - lo) / (hi - lo).clamp(min=1e-12) * 0.9 + 0.1, torch.zeros_like(inv))
    return inv.expand(3, -1, -1).clamp(0, 1)
