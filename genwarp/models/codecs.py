"""Latent codecs: the Stable Diffusion VAE (release) or a parameter-free pixel-unshuffle codec.

Both map images in [0, 1] to latents and back through :func:`encode_images` /
:func:`decode_latents`, so the rest of the code does not care which one it holds. The pixel
codec lets tiny models train from scratch in minutes on a CPU: it is lossless, so anything the
model gets wrong is the model's fault.
"""

from __future__ import annotations

import torch
from diffusers import AutoencoderKL
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from jaxtyping import Float
from torch import Tensor, nn
from torch.nn import functional as F


class PixelUnshuffleCodec(ModelMixin, ConfigMixin):
    """Lossless codec: ``[0,1]`` images → ``2x − 1`` → pixel-unshuffle by ``factor``.

    Latents have ``3 · factor²`` channels at ``1/factor`` resolution (192 channels at 1/8 for the
    default factor 8). No parameters: saving/loading only stores the config.
    """

    @register_to_config
    def __init__(self, factor: int = 8):
        super().__init__()
        if factor < 1:
            raise ValueError(f"factor must be a positive integer, got {factor}")
        # An empty buffer: gives diffusers' ModelMixin a device/dtype to report and save_pretrained a
        # weights file to write (from_pretrained expects one even for a parameter-free model).
        self.register_buffer("anchor", torch.zeros(0))

    @property
    def latent_channels(self) -> int:
        return 3 * self.config.factor**2

    def encode(self, images: Float[Tensor, "b 3 h w"]) -> Float[Tensor, "b c h/f w/f"]:
        return F.pixel_unshuffle(images * 2.0 - 1.0, self.config.factor)

    def decode(self, latents: Float[Tensor, "b c h w"]) -> Float[Tensor, "b 3 H W"]:
        return (F.pixel_shuffle(latents, self.config.factor) / 2.0 + 0.5).clamp(0.0, 1.0)


Codec = AutoencoderKL | PixelUnshuffleCodec


def codec_downsampling_factor(codec: nn.Module) -> int:
    """Spatial factor between images and latents (8 for the SD VAE)."""
    if isinstance(codec, PixelUnshuffleCodec):
        return codec.config.factor
    if isinstance(codec, AutoencoderKL):
        return 2 ** (len(codec.config.block_out_channels) - 1)
    raise TypeError(f"unsupported latent codec {type(codec).__name__}")


def codec_latent_channels(codec: nn.Module) -> int:
    if isinstance(codec, PixelUnshuffleCodec):
        return codec.latent_channels
    if isinstance(codec, AutoencoderKL):
        return codec.config.latent_channels
    raise TypeError(f"unsupported latent codec {type(codec).__name__}")


def default_latent_scale(codec: nn.Module) -> float:
    """The codec's own latent scale (the VAE config's ``scaling_factor``; 1 for the pixel codec)."""
    if isinstance(codec, AutoencoderKL):
        return float(codec.config.scaling_factor)
    return 1.0


def encode_images(codec: nn.Module, images: Float[Tensor, "b 3 h w"], scale: float) -> Float[Tensor, "b c hl wl"]:
    """Images in [0, 1] → scaled latents. The VAE uses the posterior mean (no sampling), as the release."""
    images = images.to(codec.dtype)
    if isinstance(codec, AutoencoderKL):
        return codec.encode(images * 2.0 - 1.0).latent_dist.mean * scale
    return codec.encode(images) * scale


def decode_latents(codec: nn.Module, latents: Float[Tensor, "b c hl wl"], scale: float) -> Float[Tensor, "b 3 h w"]:
    """Scaled latents → images in [0, 1]."""
    latents = latents.to(codec.dtype) / scale
    if isinstance(codec, AutoencoderKL):
        return (codec.decode(latents).sample / 2.0 + 0.5).clamp(0.0, 1.0)
    return codec.decode(latents)


__all__ = [
    "Codec",
    "PixelUnshuffleCodec",
    "codec_downsampling_factor",
    "codec_latent_channels",
    "decode_latents",
    "default_latent_scale",
    "encode_images",
]
