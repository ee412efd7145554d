"""Pixel metrics as pure functions over image batches: PSNR and SSIM, whole image or masked.

Images are float (B, 3, H, W) in [0, 1] (clipped here); every function returns one value per
image, shape (B,), so that a dataset score is the *mean of per-image values* (not one pooled MSE).
A mask (B, 1, H, W) in {0, 1} restricts a metric to a region (the visible / invisible part of the
target); an image whose region is empty gets NaN, which the aggregations skip.
"""

from __future__ import annotations

import math

import torch
from jaxtyping import Float
from torch import Tensor
from torch.nn import functional as F

__all__ = ["PSNR_MSE_FLOOR", "check_pair", "gaussian_window", "masked_mean", "psnr", "ssim", "ssim_map"]

#: MSE floor of :func:`psnr` (identical images score 10·log10(1/1e-10) = 100 dB instead of inf).
PSNR_MSE_FLOOR = 1e-10


def check_pair(pred: Tensor, target: Tensor, mask: Tensor | None = None, name: str = "metric") -> None:
    """Raise ``ValueError`` naming the bad argument unless pred/target/mask are compatible."""
    for arg, t in (("pred", pred), ("target", target)):
        if not isinstance(t, Tensor) or t.ndim != 4 or t.shape[1] != 3 or not t.is_floating_point():
            desc = f"shape {tuple(t.shape)}, dtype {t.dtype}" if isinstance(t, Tensor) else type(t).__name__
            raise ValueError(f"{name}: `{arg}` must be a float (B, 3, H, W) image batch in [0, 1], got {desc}")
    if pred.shape != target.shape:
        raise ValueError(f"{name}: `pred` {tuple(pred.shape)} and `target` {tuple(target.shape)} differ in shape")
    if mask is not None:
        b, _, h, w = pred.shape
        if not isinstance(mask, Tensor) or tuple(mask.shape) != (b, 1, h, w):
            got = tuple(mask.shape) if isinstance(mask, Tensor) else type(mask).__name__
            raise ValueError(f"{name}: `mask` must have shape {(b, 1, h, w)}, got {got}")


def masked_mean(values: Float[Tensor, "b c h w"], mask: Float[Tensor, "b 1 h w"] | None) -> Float[Tensor, " b"]:
    """Per-image mean of ``values`` over all channels and the pixels where ``mask`` is 1 (NaN if none)."""
    if mask is None:
        return values.flatten(1).mean(1)
    m = mask.to(values.dtype).expand_as(values)
    count = m.flatten(1).sum(1)
    total = (values * m).flatten(1).sum(1)
    return torch.where(count > 0, total / count.clamp_min(1e-12), torch.full_like(total, math.nan))


def psnr(
    pred: Float[Tensor, "b 3 h w"],
    target: Float[Tensor, "b 3 h w"],
    mask: Float[Tensor, "b 1 h w"] | None = None,
) -> Float[Tensor, " b"]:
    """Peak signal-to-noise ratio per image (data range 1), in dB.

    ``10·log10(1 / MSE)`` with both images clipped to [0, 1], MSE over the image (or the masked
    pixels, all three channels) and floored at :data:`PSNR_MSE_FLOOR` (identical images → 100 dB).
    """
    check_pair(pred, target, mask, "psnr")
    err = (pred.float().clamp(0, 1) - target.float().clamp(0, 1)) ** 2
    mse = masked_mean(err, mask)
    return -10.0 * torch.log10(mse.clamp_min(PSNR_MSE_FLOOR))


def gaussian_window(kernel_size: int = 11, sigma: float = 1.5, device=None, dtype=torch.float32) -> Tensor:
    """Normalised 1-D Gaussian of ``kernel_size`` taps."""
    x = torch.arange(kernel_size, device=device, dtype=dtype) - (kernel_size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def ssim_map(
    pred: Float[Tensor, "b 3 h w"],
    target: Float[Tensor, "b 3 h w"],
    kernel_size: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
) -> Float[Tensor, "b 3 h w"]:
    """Per-pixel SSIM (Wang et al. 2004) with a Gaussian window, data range 1, reflect padding.

    The map has the input's size (the border pixels' windows see reflected data, as in
    torchmetrics).
    """
    check_pair(pred, target, None, "ssim")
    h, w = pred.shape[-2:]
    if min(h, w) <= kernel_size // 2 * 2:
        raise ValueError(f"ssim: images of {h}x{w} are too small for an {kernel_size}-tap window")
    x = pred.float().clamp(0, 1)
    y = target.float().clamp(0, 1)
    c = x.shape[1]
    g = gaussian_window(kernel_size, sigma, x.device, x.dtype)
    kernel = (g[:, None] * g[None, :]).expand(c, 1, kernel_size, kernel_size)
    pad = kernel_size // 2

    def blur(t: Tensor) -> Tensor:
        return F.conv2d(F.pad(t, (pad, pad, pad, pad), mode="reflect"), kernel, groups=c)

    mu_x, mu_y = blur(x), blur(y)
    sxx = (blur(x * x) - mu_x**2).clamp_min(0)
    syy = (blur(y * y) - mu_y**2).clamp_min(0)
    sxy = blur(x * y) - mu_x * mu_y
    c1, c2 = k1**2, k2**2
    return ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2))


def ssim(
    pred: Float[Tensor, "b 3 h w"],
    target: Float[Tensor, "b 3 h w"],
    mask: Float[Tensor, "b 1 h w"] | None = None,
    kernel_size: int = 11,
    sigma: float = 1.5,
) -> Float[Tensor, " b"]:
    """Structural similarity per image: Gaussian window 11 (σ = 1.5), data range 1.

    The mean of :func:`ssim_map` over the image (with a mask, over the masked pixels): equal to
    ``torchmetrics.functional.structural_similarity_index_measure(reduction="none")``.
    """
    check_pair(pred, target, mask, "ssim")
    return masked_mean(ssim_map(pred, target, kernel_size, sigma), mask)
