"""diffusers-style inputs for the pipeline: PIL images and numpy arrays become the tensors the
checks expect (images float (B, 3, H, W) in [0, 1], depth (B, 1, H, W), cameras float32).

Tensors pass through untouched (the checks then judge them), so the tensor path is unchanged.
"""

from __future__ import annotations

import numpy as np
import PIL.Image
import torch
from torch import Tensor


def _as_uint8_or_float(name: str, array: np.ndarray) -> np.ndarray:
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    if np.issubdtype(array.dtype, np.floating):
        return array.astype(np.float32)
    raise ValueError(f"{name} as a numpy array must be uint8 (0–255) or float in [0, 1], got dtype {array.dtype}")


def image_to_tensor(image) -> Tensor:
    """A PIL image, a list of PIL images (same size), or a numpy array (H, W, 3) / (B, H, W, 3)
    (uint8 or float in [0, 1]) → float (B, 3, H, W) in [0, 1]. Tensors are returned as given."""
    if isinstance(image, Tensor) or image is None:
        return image
    if isinstance(image, PIL.Image.Image):
        image = [image]
    if isinstance(image, (list, tuple)) and image and all(isinstance(i, PIL.Image.Image) for i in image):
        sizes = {i.size for i in image}
        if len(sizes) > 1:
            raise ValueError(f"image: a list of PIL images must share one size, got sizes {sorted(sizes)}")
        image = np.stack([np.asarray(i.convert("RGB")) for i in image])
    if isinstance(image, (list, tuple)) and image and all(isinstance(i, np.ndarray) for i in image):
        image = np.stack(image)
    if not isinstance(image, np.ndarray):
        raise ValueError(
            "image must be a torch.Tensor (B, 3, H, W) in [0, 1], a PIL image, a list of PIL images or a numpy "
            f"array (H, W, 3) / (B, H, W, 3), got {type(image).__name__}"
        )
    array = _as_uint8_or_float("image", image)
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4 or array.shape[-1] != 3:
        raise ValueError(f"image as a numpy array must be (H, W, 3) or (B, H, W, 3) (channels last), "
                         f"got shape {image.shape}")
    return torch.from_numpy(np.ascontiguousarray(array)).permute(0, 3, 1, 2).contiguous()


def depth_to_tensor(depth) -> Tensor:
    """A numpy z-depth map (H, W), (B, H, W) or (B, 1, H, W) (or a list of (H, W) maps) → float
    (B, 1, H, W). Tensors are returned as given."""
    if isinstance(depth, Tensor) or depth is None:
        return depth
    if isinstance(depth, PIL.Image.Image):
        raise ValueError("depth must be metric z-depth: a PIL image quantises it; pass a float numpy array or tensor")
    if isinstance(depth, (list, tuple)) and depth and all(isinstance(d, np.ndarray) for d in depth):
        depth = np.stack(depth)
    if not isinstance(depth, np.ndarray) or not np.issubdtype(depth.dtype, np.floating):
        raise ValueError(f"depth must be a float torch.Tensor (B, 1, H, W) or float numpy array (H, W) / (B, H, W) "
                         f"/ (B, 1, H, W), got {type(depth).__name__}"
                         + (f" of dtype {depth.dtype}" if isinstance(depth, np.ndarray) else ""))
    array = depth.astype(np.float32)
    if array.ndim == 2:
        array = array[None, None]
    elif array.ndim == 3:
        array = array[:, None]
    return torch.from_numpy(np.ascontiguousarray(array))


def array_to_tensor(value):
    """numpy camera arrays (intrinsics, transforms, masks) → tensors; anything else as given."""
    if isinstance(value, np.ndarray):
        tensor = torch.from_numpy(np.ascontiguousarray(value))
        return tensor.float() if tensor.is_floating_point() else tensor
    return value


__all__ = ["array_to_tensor", "depth_to_tensor", "image_to_tensor"]
