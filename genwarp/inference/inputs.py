"""Reading what a person hands the command line: photos, depth files, and bringing them (with their
intrinsics) to the working resolution.

* Images: PNG, JPEG, WebP, TIFF, BMP, GIF (:data:`IMAGE_EXTENSIONS`), EXIF orientation applied,
  as (3, H, W) float in [0, 1]. Every Pillow mode is scaled to [0, 1] by its own range: 8-bit
  modes (L, P, RGB, CMYK, LA, …) by 255, 16-bit grey (``I;16*``) and 32-bit integer (``I``)
  images with values up to 65535 by 65535, float (``F``) images in [0, 1] as they are; integer
  or float images outside those ranges are stretched min→0, max→1 with a warning. Alpha is
  dropped; an animated GIF / multi-page TIFF gives its first frame, with a warning. A folder means
  every image in it (sorted by name; other files are listed in one warning and skipped).
* Sizes (:func:`check_image_size`): an image under :data:`MIN_IMAGE_SIDE` pixels on a side is
  refused; a centre crop that keeps under half the image, a squash (``crop=False``) that distorts
  the aspect more than 2×, or an upscale of more than 4× is done with a warning naming the file,
  its size and what happens to it.
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

from genwarp.inference.errors import InferenceInputError, warn_input

__all__ = [
    "DEPTH_EXTENSIONS",
    "IMAGE_EXTENSIONS",
    "MIN_IMAGE_SIDE",
    "Source",
    "check_image_size",
    "check_unique_stems",
    "crop_window",
    "find_depth_file",
    "list_images",
    "load_depth",
    "load_image",
    "prepare_source",
]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif")
DEPTH_EXTENSIONS = (".npy", ".png", ".tif", ".tiff")
MIN_IMAGE_SIDE = 16  # pixels: below this an image carries too little to generate views from
MIN_CROP_FRACTION = 0.5  # a centre crop that keeps less of the image than this is announced
MAX_SQUASH = 2.0  # an aspect-ratio distortion (crop=False) beyond this factor is announced
MAX_UPSCALE = 4.0  # an upscale beyond this factor (per side) is announced


def _names(paths: list[Path], limit: int = 5) -> str:
    names = [p.name for p in paths]
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def list_images(path: str | Path) -> list[Path]:
    """``[path]`` for a file, the sorted images of a folder; an error naming the path otherwise.

    In a folder, files that are not images of :data:`IMAGE_EXTENSIONS` are skipped with one warning
    naming them (hidden files and sub-folders are skipped without one)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        images = [p for p in files if p.suffix.lower() in IMAGE_EXTENSIONS]
        if not images:
            raise InferenceInputError(
                f"--image folder {path} holds no image ({', '.join(IMAGE_EXTENSIONS)})"
            )
        others = [p for p in files if p.suffix.lower() not in IMAGE_EXTENSIONS]
        if others:
            warn_input(f"--image folder {path}: skipping {len(others)} file(s) that are not images "
                       f"({', '.join(IMAGE_EXTENSIONS)}): {_names(others)}")
        return images
    if not path.exists():
        raise InferenceInputError(f"--image {path} does not exist (give an image file or a folder of images)")
    return [path]


def check_unique_stems(images: list[Path]) -> None:
    """Refuse images whose file names differ only by extension (or case), e.g. ``x.png`` and
    ``x.jpg``: their outputs (``<output>/<stem>/``) and their depth files (``<stem>.npy``) would
    collide, and one result would silently replace the other."""
    by_stem: dict[str, list[Path]] = {}
    for p in images:
        by_stem.setdefault(p.stem.casefold(), []).append(p)
    clashes = [group for group in by_stem.values() if len(group) > 1]
    if clashes:
        pairs = "; ".join(" and ".join(p.name for p in group) for group in clashes)
        raise InferenceInputError(
            f"--image folder {images[0].parent}: {pairs} have the same name apart from the extension, so their "
            f"outputs (<output>/{clashes[0][0].stem}/) and depth files would collide; rename one of them"
        )


def _float_rgb(img: PIL.Image.Image, path: Path) -> np.ndarray:
    """(H, W, 3) float32 in [0, 1] from any Pillow mode, scaled by the mode's own range."""
    mode = img.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        array = np.asarray(img).astype(np.float64)
        if not np.isfinite(array).all():
            raise InferenceInputError(f"image {path} ({mode}) has non-finite pixel values; give a finite image")
        lo, hi = float(array.min()), float(array.max())
        if mode == "F" and lo >= 0.0 and hi <= 1.0:
            pass  # a float image in [0, 1]
        elif mode != "F" and lo >= 0.0 and hi <= 65535.0:
            array = array / 65535.0  # 16-bit (I;16*, or 16-bit data that Pillow opened as I)
        else:
            what = "float" if mode == "F" else "integer"
            warn_input(f"image {path}: {mode} {what} values span [{lo:.6g}, {hi:.6g}], outside "
                       f"{'[0, 1]' if mode == 'F' else '[0, 65535]'}; stretched min→0, max→1")
            array = (array - lo) / (hi - lo) if hi > lo else np.zeros_like(array)
        return np.repeat(array.astype(np.float32)[..., None], 3, axis=-1)
    if mode == "La":  # premultiplied grey + alpha: Pillow converts it only via LA
        img = img.convert("LA")
    elif mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")  # palette transparency: go through RGBA so Pillow does not warn
    try:
        rgb = img.convert("RGB")
    except ValueError as e:
        raise InferenceInputError(f"cannot convert image {path} of mode {mode!r} to RGB ({e}); save it as an "
                                  "RGB or greyscale PNG") from None
    return np.asarray(rgb, dtype=np.uint8).astype(np.float32) / 255.0


def load_image(path: str | Path) -> Float[Tensor, "3 h w"]:
    """An RGB image as (3, H, W) float in [0, 1] (alpha dropped, EXIF rotation applied; every mode
    scaled by its own range, see the module docstring; an animated image gives its first frame)."""
    path = Path(path)
    try:
        with PIL.Image.open(path) as img:
            frames = int(getattr(img, "n_frames", 1) or 1)
            img.seek(0)
            img.load()
            img = PIL.ImageOps.exif_transpose(img)
            array = _float_rgb(img, path)
    except FileNotFoundError:
        raise InferenceInputError(f"image {path} does not exist") from None
    except (OSError, ValueError, EOFError, SyntaxError, PIL.Image.DecompressionBombError) as e:
        if isinstance(e, InferenceInputError):
            raise
        raise InferenceInputError(
            f"cannot read image {path} ({type(e).__name__}: {e}); give a PNG, JPEG or another format Pillow reads"
        ) from None
    if frames > 1:
        warn_input(f"image {path} has {frames} frames (animated or multi-page): using the first frame only")
    return torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1).contiguous()


def check_image_size(name: str | Path, image_hw: tuple[int, int], height: int, width: int, crop: bool = True) -> None:
    """Refuse an image too small to generate from; warn (naming the file, its size and what is done)
    when it is cropped to a small part of itself, squashed out of shape, or blown up a lot on its
    way to the ``height`` × ``width`` working size (thresholds: the ``MIN_*`` / ``MAX_*`` constants)."""
    h0, w0 = (int(v) for v in image_hw)
    size = f"{w0}x{h0}"
    if min(h0, w0) < MIN_IMAGE_SIDE:
        raise InferenceInputError(
            f"image {name} is {size} (WxH): too small to generate views from (at least {MIN_IMAGE_SIDE} pixels per "
            f"side; the working size is {width}x{height})"
        )
    _, _, h, w = crop_window(h0, w0, width / height) if crop else (0, 0, h0, w0)
    if crop and h * w < MIN_CROP_FRACTION * h0 * w0:
        warn_input(
            f"image {name} is {size} (WxH): the centre crop to the {width}x{height} working aspect keeps {w}x{h}, "
            f"only {h * w / (h0 * w0):.0%} of it (pass --no-crop to squash the whole image instead, or set "
            "--width/--height nearer its aspect)"
        )
    if not crop:
        distortion = (w0 / h0) / (width / height)
        distortion = max(distortion, 1 / distortion)
        if distortion > MAX_SQUASH:
            warn_input(
                f"image {name} is {size} (WxH): squashed to the {width}x{height} working size, its shapes are "
                f"stretched {distortion:.1f}x (drop --no-crop to centre-crop instead, or set --width/--height nearer "
                "its aspect)"
            )
    upscale = max(height / h, width / w)
    if upscale > MAX_UPSCALE:
        warn_input(
            f"image {name} is {size} (WxH): {'its crop ' if crop and (h, w) != (h0, w0) else ''}{w}x{h} is upscaled "
            f"{upscale:.1f}x to the {width}x{height} working size; expect a blurry, low-detail result (a larger photo "
            "or a smaller --width/--height helps)"
        )


def find_depth_file(image: Path, depth: str | Path) -> Path:
    """The depth file for ``image``: ``depth`` itself, or ``<depth>/<image stem>.{npy,png,tif,tiff}``
    when ``depth`` is a folder (one depth map per image of an image folder)."""
    depth = Path(depth)
    if depth.is_dir():
        found = [depth / f"{image.stem}{ext}" for ext in DEPTH_EXTENSIONS if (depth / f"{image.stem}{ext}").is_file()]
        if len(found) > 1:
            raise InferenceInputError(
                f"{depth} holds {len(found)} depth files for {image.name} ({', '.join(p.name for p in found)}); "
                "keep one"
            )
        if found:
            return found[0]
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
