"""The image prompt: a CLIP image embedding of the source view (or nothing).

The release feeds the CLIP image embedding as a single cross-attention token to both U-Nets.
Its preprocessing has a quirk (release-spec §11): the [0, 1] image is truncated to uint8 and then
rescaled by 1/255 *twice*, so CLIP sees an almost constant image. Released checkpoints were
trained that way, so they must be sampled that way (``mode="release"``); our own models use the
correct preprocessing (``mode="standard"``). The choice is stored in each model's config.
"""

from __future__ import annotations

import torch
from jaxtyping import Float
from torch import Tensor, nn
from torch.nn import functional as F

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
PREPROCESSING_MODES = ("release", "standard")


def clip_pixel_values(
    images: Float[Tensor, "b 3 h w"], mode: str = "standard", size: int = 224
) -> Float[Tensor, "b 3 size size"]:
    """CLIP input for images in [0, 1].

    ``release``: nearest resize to ``size``², ``((floor(255·x)/255)/255 − mean)/std`` — the
    release's double rescale with uint8 truncation, reproduced by formula.
    ``standard``: resize the short side to ``size`` (bicubic, antialiased), centre crop, normalise.
    """
    if mode not in PREPROCESSING_MODES:
        raise ValueError(f"clip preprocessing mode must be one of {PREPROCESSING_MODES}, got {mode!r}")
    mean = torch.tensor(CLIP_MEAN, device=images.device, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD, device=images.device, dtype=torch.float32).view(1, 3, 1, 1)
    x = images.float()
    if mode == "release":
        x = F.interpolate(x, size=(size, size))  # torch's default mode: legacy nearest
        if x.min() >= 0:  # diffusers' VaeImageProcessor maps to [-1, 1] and the release maps back
            x = (x * 2.0 - 1.0) * 0.5 + 0.5
        x = torch.floor(x * 255.0) / 255.0 / 255.0
        return (x - mean) / std
    h, w = x.shape[-2:]
    scale = size / min(h, w)
    new_h, new_w = max(size, round(h * scale)), max(size, round(w * scale))
    x = F.interpolate(x, size=(new_h, new_w), mode="bicubic", antialias=True, align_corners=False)
    top, left = (new_h - size) // 2, (new_w - size) // 2
    x = x[:, :, top : top + size, left : left + size].clamp(0.0, 1.0)
    return (x - mean) / std


def encode_image_prompt(
    image_encoder: nn.Module | None,
    images: Float[Tensor, "b 3 h w"],
    mode: str,
    embed_dim: int,
) -> Float[Tensor, "b 1 d"]:
    """The image-prompt token (B, 1, D): CLIP ``image_embeds`` or, without an encoder, zeros."""
    if image_encoder is None:
        return images.new_zeros(images.shape[0], 1, embed_dim)
    pixels = clip_pixel_values(images, mode=mode, size=image_encoder.config.image_size)
    pixels = pixels.to(device=image_encoder.device, dtype=image_encoder.dtype)
    embeds = image_encoder(pixel_values=pixels).image_embeds
    if embeds.shape[-1] != embed_dim:
        raise ValueError(
            f"the image encoder's projection width {embeds.shape[-1]} differs from the U-Net's "
            f"cross_attention_dim {embed_dim}"
        )
    return embeds.unsqueeze(1)


__all__ = ["CLIP_MEAN", "CLIP_STD", "PREPROCESSING_MODES", "clip_pixel_values", "encode_image_prompt"]
