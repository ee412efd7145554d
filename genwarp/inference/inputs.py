"""Reading what a person hands the command line: photos, depth files, and bringing them (with their
intrinsics) to the working resolution.

* Images: anything Pillow reads (PNG, JPEG, WebP, TIFF, BMP…), EXIF orientation applied, as
  (3, H, W) float in [0, 1]. A folder means every image in it (sorted by name).
* Depth files: ``.npy`` (float z-depth, (H, W) or (1, H, W)), a 16-bit PNG / TIFF of integers
  multiplied by ``scale`` (default 0.001: millimetres → metres, the NYU / ScanNet convention), or
  a 32-bit float TIFF. Zero, negative-zero and non-finite pixels mean "unknown" (never warped). The
  map must have exactly the image's size: depth of another size is refused, since stretching it
  would silently misplace every edge.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import PIL.Image
import PIL.ImageOps
import torch
from jaxtyping import Bool, Float
from torch import Tensor
from torch.nn import functional as F

from genwarp.inference.errors import InferenceInputError

__all__ = [
    "DEPTH_EXTENSIONS",
    "IMAGE_EXTENSIONS",
    "Source",
    "crop_window",
    "find_depth_file",
    "list_images",
    "load_depth",
    "load_image",
    "prepare_source",
]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
DEPTH_EXTENSIONS = (".npy", ".png", ".tif", ".tiff")


def list_images(path: str | Path) -> list[Path]:
    """``[path]`` for a file, the sorted images of a folder; an error naming the path otherwise."""
    path = Path(path)
    if path.is_dir():
        images = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
        if not images:
            raise InferenceInputError(
                f"--image folder {path} holds no image ({', '.join(IMAGE_EXTENSIONS)})"
            )
        return images
    if not path.exists():
        raise InferenceInputError(f"--image {path} does not exist (give an image file or a folder of images)")
    return [path]


def load_image(path: str | Path) -> Float[Tensor, "3 h w"]:
    """An RGB image as (3, H, W) float in [0, 1] (alpha dropped, EXIF rotation applied)."""
    path = Path(path)
    try:
        with PIL.Image.open(path) as img:
            img.load()
            img = PIL.ImageOps.exif_transpose(img).convert("RGB")
    except FileNotFoundError:
        raise InferenceInputError(f"image {path} does not exist") from None
    except (OSError, ValueError, PIL.Image.DecompressionBombError) as e:
        raise InferenceInputError(
            f"cannot read image {path} ({type(e).__name__}: {e}); give a PNG, JPEG or another format Pillow reads"
        ) from None
    array = np.asarray(img, dtype=np.uint8)
    return torch.from_numpy(array.copy()).permute(2, 0, 1).float().div_(255.0)


def find_depth_file(image: Path, depth: str | Path) -> Path:
    """The depth file for ``image``: ``depth`` itself, or ``<depth>/<image stem>.{npy,png,tif,tiff}``
    when ``depth`` is a folder (one depth map per image of an image folder)."""
    depth = Path(depth)
    if depth.is_dir():
        for ext in DEPTH_EXTENSIONS:
            candidate = depth / f"{image.stem}{ext}"
            if candidate.is_file():
                return candidate
        raise InferenceInputError(
            f"no depth file for {image.name} in {depth} (expected {image.stem}.npy, .png, .tif or .tiff)"
        )
    if not depth.is_file():
        raise InferenceInputError(f"--depth-file {depth} does not exist")
    return depth


def load_depth(
    path: str | Path, image_hw: tuple[int, int], scale: float = 0.001
) -> tuple[Float[Tensor, "1 h w"], Bool[Tensor, "1 h w"]]:
    """Depth and its validity mask from a ``.npy`` / 16-bit PNG / TIFF file (see the module docstring).

    Args:
        path: the depth file.
        image_hw: (height, width) of the image it belongs to; a map of another size is an error.
        scale: multiplier for integer PNG/TIFF values (float files are read as they are).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    what = f"depth file {path}"
    if suffix == ".npy":
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise InferenceInputError(f"cannot read {what} as a numpy array ({e})") from None
        if array.ndim == 3 and 1 in (array.shape[0], array.shape[-1]):
            array = array.reshape(array.shape[1:] if array.shape[0] == 1 else array.shape[:-1])
        if array.ndim != 2 or not np.issubdtype(array.dtype, np.number):
            raise InferenceInputError(
                f"{what} must hold a numeric (H, W) or (1, H, W) array, got {array.dtype} of shape {array.shape}"
            )
        array = array.astype(np.float32)
    elif suffix in (".png", ".tif", ".tiff"):
        try:
            with PIL.Image.open(path) as img:
                img.load()
                mode = img.mode
                array = np.asarray(img)
        except (OSError, ValueError) as e:
            raise InferenceInputError(f"cannot read {what} ({type(e).__name__}: {e})") from None
        if mode == "F" or array.dtype.kind == "f":
            array = array.astype(np.float32)
        elif mode.startswith("I") and array.ndim == 2:
            if not scale > 0:
                raise InferenceInputError(f"--depth-scale must be positive, got {scale}")
            array = array.astype(np.float32) * float(scale)
        else:
            raise InferenceInputError(
                f"{what} is an image of mode {mode!r} ({array.dtype}); depth must be a 16-bit single-channel PNG "
                "(integers × --depth-scale), a float TIFF, or a .npy array — 8-bit or colour images are not depth"
            )
    else:
        raise InferenceInputError(f"{what}: unsupported extension {suffix!r} (use .npy, 16-bit .png, .tif or .tiff)")
    if tuple(array.shape) != tuple(image_hw):
        raise InferenceInputError(
            f"{what} is {array.shape[1]}x{array.shape[0]} (WxH) but the image is {image_hw[1]}x{image_hw[0]}: "
            "give a depth map of exactly the image's size"
        )
    depth = torch.from_numpy(np.ascontiguousarray(array))[None]
    valid = torch.isfinite(depth) & (depth > 0)
    if bool((torch.isfinite(depth) & (depth < 0)).any()):
        raise InferenceInputError(f"{what} has negative values (min {float(depth.min()):.4g}); depth must be z-depth ≥ 0 "
                                  "(0 = unknown)")
    if not bool(valid.any()):
        raise InferenceInputError(f"{what} has no valid pixel (all zero or non-finite)")
    return torch.where(valid, depth, torch.zeros_like(depth)), valid


def crop_window(height: int, width: int, aspect: float) -> tuple[int, int, int, int]:
    """(top, left, h, w) of the largest central window of aspect ``aspect`` = w/h."""
    if width / height > aspect:
        h, w = height, max(1, min(width, round(height * aspect)))
    else:
        h, w = max(1, min(height, round(width / aspect))), width
    return (height - h) // 2, (width - w) // 2, h, w


@dataclass
class Source:
    """One source view at the working resolution.

    Attributes:
        image: (3, H, W) in [0, 1].
        depth: (1, H, W) z-depth, 0 where unknown (``None`` until estimated).
        depth_mask: (1, H, W) bool, True where the depth is known.
        intrinsics: (3, 3) normalised.
        window: the (top, left, h, w) crop taken from the original image.
    """

    image: Float[Tensor, "3 h w"]
    depth: Float[Tensor, "1 h w"] | None
    depth_mask: Bool[Tensor, "1 h w"] | None
    intrinsics: Float[Tensor, "3 3"]
    window: tuple[int, int, int, int]


def prepare_source(
    image: Float[Tensor, "3 h0 w0"],
    intrinsics: Float[Tensor, "3 3"],
    height: int,
    width: int,
    depth: Float[Tensor, "1 h0 w0"] | None = None,
    depth_mask: Bool[Tensor, "1 h0 w0"] | None = None,
    crop: bool = True,
) -> Source:
    """Centre-crop to the working aspect (``crop``; otherwise squash, as the release does), then
    resize to (height, width): the image with antialiased bilinear filtering, the depth with nearest
    (no mixing across depth edges). ``intrinsics`` (of the full image) are updated for the crop."""
    from genwarp.data.shims import crop_intrinsics

    h0, w0 = image.shape[-2:]
    top, left, h, w = crop_window(h0, w0, width / height) if crop else (0, 0, h0, w0)
    K = crop_intrinsics(intrinsics.float(), (h0, w0), top, left, (h, w)) if crop else intrinsics.float()
    image = image[:, top : top + h, left : left + w]
    if (h, w) != (height, width):
        image = F.interpolate(image[None], size=(height, width), mode="bilinear", antialias=True,
                              align_corners=False)[0].clamp(0, 1)
    if depth is not None:
        depth = depth[:, top : top + h, left : left + w]
        mask = (depth_mask if depth_mask is not None else depth > 0)[:, top : top + h, left : left + w]
        if (h, w) != (height, width):
            depth = F.interpolate(depth[None], size=(height, width), mode="nearest")[0]
            mask = F.interpolate(mask[None].float(), size=(height, width), mode="nearest")[0] > 0.5
        depth_mask = mask
    return Source(image.contiguous(), depth, depth_mask, K, (top, left, h, w))
