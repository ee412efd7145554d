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

COLOUR_BASES = ("rgb", "opponent")


def opponent_basis(chroma_gain: float = 1.0) -> Float[Tensor, "3 3"]:
    """Rows: luminance ``(R+G+B)/√3`` and the chroma axes ``(R−G)/√2``, ``(R+G−2B)/√6``, the chroma
    rows times ``chroma_gain`` (orthonormal for gain 1)."""
    basis = torch.tensor([[1.0, 1.0, 1.0], [1.0, -1.0, 0.0], [1.0, 1.0, -2.0]])
    basis = basis / basis.norm(dim=1, keepdim=True)
    basis[1:] *= chroma_gain
    return basis


class PixelUnshuffleCodec(ModelMixin, ConfigMixin):
    """Lossless codec: ``[0,1]`` images → ``2x − 1`` → colour basis → pixel-unshuffle by ``factor``.

    Latents have ``3 · factor²`` channels at ``1/factor`` resolution (192 channels at 1/8 for the
    default factor 8). No parameters: saving/loading only stores the config.

    Args:
        factor: unshuffle factor.
        colour_basis: ``rgb`` (the channels as they are) or ``opponent`` (luminance and two chroma
            axes, see :func:`opponent_basis`), which separates colour from brightness for the
            network's inputs and its loss. On the synthetic rooms the chroma axes have half the
            luminance's std, and ``2x − 1`` has a large mean. The main job uses ``opponent`` with the
            luminance centred (docs/learning.md 8: a small gain over ``rgb``).
        chroma_gain: scale of the two chroma axes (``opponent`` only). 2 gives the rooms' three axes
            one std, but trained unstably in docs/learning.md 8 (run E9).
        luminance_offset: subtracted from the luminance axis (``opponent`` only), to centre it on
            the data's mean (``2x − 1`` of dark images is far below 0).
    """

    @register_to_config
    def __init__(self, factor: int = 8, colour_basis: str = "rgb", chroma_gain: float = 1.0,
                 luminance_offset: float = 0.0):
        super().__init__()
        if factor < 1:
            raise ValueError(f"factor must be a positive integer, got {factor}")
        if colour_basis not in COLOUR_BASES:
            raise ValueError(f"colour_basis must be one of {COLOUR_BASES}, got {colour_basis!r}")
        if colour_basis == "rgb" and (chroma_gain != 1.0 or luminance_offset != 0.0):
            raise ValueError(f"chroma_gain={chroma_gain} and luminance_offset={luminance_offset} apply to "
                             "colour_basis='opponent' only")
        if not chroma_gain > 0:
            raise ValueError(f"chroma_gain must be > 0, got {chroma_gain}")
        # An empty buffer: gives diffusers' ModelMixin a device/dtype to report and save_pretrained a
        # weights file to write (from_pretrained expects one even for a parameter-free model).
        self.register_buffer("anchor", torch.zeros(0))

    @property
    def latent_channels(self) -> int:
        return 3 * self.config.factor**2

    def _basis(self, like: Tensor) -> Tensor:
        return opponent_basis(self.config.chroma_gain).to(like.device, like.dtype)

    def encode(self, images: Float[Tensor, "b 3 h w"]) -> Float[Tensor, "b c h/f w/f"]:
        x = images * 2.0 - 1.0
        if self.config.colour_basis == "opponent":
            x = torch.einsum("oc,bchw->bohw", self._basis(x), x)
            x = x - x.new_tensor([self.config.luminance_offset, 0.0, 0.0]).view(1, 3, 1, 1)
        return F.pixel_unshuffle(x, self.config.factor)

    def decode(self, latents: Float[Tensor, "b c h w"]) -> Float[Tensor, "b 3 H W"]:
        x = F.pixel_shuffle(latents, self.config.factor)
        if self.config.colour_basis == "opponent":
            x = x + x.new_tensor([self.config.luminance_offset, 0.0, 0.0]).view(1, 3, 1, 1)
            inverse = torch.linalg.inv(self._basis(x).float()).to(x.dtype)  # (rgb, opponent)
            x = torch.einsum("co,bohw->bchw", inverse, x)
        return (x / 2.0 + 0.5).clamp(0.0, 1.0)


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
    "COLOUR_BASES",
    "Codec",
    "PixelUnshuffleCodec",
    "codec_downsampling_factor",
    "codec_latent_channels",
    "decode_latents",
    "default_latent_scale",
    "encode_images",
    "opponent_basis",
]
