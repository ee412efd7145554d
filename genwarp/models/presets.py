"""Architecture presets and random initialisation for tests, demos and benchmarks.

``sd15`` is the Stable Diffusion 1.x U-Net the release uses (with the sd-vae-ft-mse VAE and the
ViT-L/14 CLIP image encoder); ``tiny`` is a few-hundred-kilobyte model of the same layout that
runs anywhere in seconds. Nothing here downloads: random weights only.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from diffusers import AutoencoderKL
from torch import nn
from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

SD_DOWN_BLOCKS = ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"]
SD_UP_BLOCKS = ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"]

SD15_UNET: dict[str, Any] = dict(
    act_fn="silu",
    attention_head_dim=8,
    block_out_channels=[320, 640, 1280, 1280],
    center_input_sample=False,
    cross_attention_dim=768,
    down_block_types=SD_DOWN_BLOCKS,
    downsample_padding=1,
    flip_sin_to_cos=True,
    freq_shift=0,
    in_channels=4,
    layers_per_block=2,
    mid_block_scale_factor=1,
    norm_eps=1e-5,
    norm_num_groups=32,
    out_channels=4,
    sample_size=64,
    up_block_types=SD_UP_BLOCKS,
)

TINY_UNET: dict[str, Any] = dict(
    SD15_UNET,
    attention_head_dim=4,
    block_out_channels=[32, 32, 48, 48],
    cross_attention_dim=24,
    norm_num_groups=16,
    sample_size=8,
)

SD_VAE: dict[str, Any] = dict(
    act_fn="silu",
    block_out_channels=[128, 256, 512, 512],
    down_block_types=["DownEncoderBlock2D"] * 4,
    up_block_types=["UpDecoderBlock2D"] * 4,
    in_channels=3,
    out_channels=3,
    latent_channels=4,
    layers_per_block=2,
    norm_num_groups=32,
    sample_size=512,
    scaling_factor=0.18215,
)

TINY_VAE: dict[str, Any] = dict(SD_VAE, block_out_channels=[8, 16, 16, 16], layers_per_block=1, norm_num_groups=4,
                                 sample_size=64)

CLIP_VIT_L14: dict[str, Any] = dict(
    hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16, image_size=224,
    patch_size=14, projection_dim=768, hidden_act="quick_gelu",
)
TINY_CLIP: dict[str, Any] = dict(
    hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, image_size=224,
    patch_size=32, projection_dim=24, hidden_act="quick_gelu",
)

PRESETS = {
    "sd15": dict(unet=SD15_UNET, vae=SD_VAE, clip=CLIP_VIT_L14),
    "tiny": dict(unet=TINY_UNET, vae=TINY_VAE, clip=TINY_CLIP),
}


def preset(name: str) -> dict[str, dict[str, Any]]:
    """Configs (``unet``, ``vae``, ``clip``) of a named architecture preset."""
    try:
        return {k: dict(v) for k, v in PRESETS[name].items()}
    except KeyError:
        raise ValueError(f"unknown architecture preset {name!r}; choose one of {sorted(PRESETS)}") from None


def build_vae(name: str) -> AutoencoderKL:
    return AutoencoderKL(**preset(name)["vae"])


def build_clip(name: str) -> CLIPVisionModelWithProjection:
    return CLIPVisionModelWithProjection(CLIPVisionConfig(**preset(name)["clip"]))


@torch.no_grad()
def randomize_weights(module: nn.Module, seed: int = 0) -> nn.Module:
    """Re-draw every parameter from a seeded generator so that nothing is zero or identity.

    Matrices and conv kernels ~ N(0, 1/fan_in); norm weights 1 + 0.1·N; biases and other vectors
    0.05·N. Zero-initialised layers (the condition encoder's output, U-Net output heads) become
    non-zero, so every code path is exercised by tests on random models.
    """
    gen = torch.Generator().manual_seed(seed)
    for name, param in module.named_parameters():
        shape = param.shape
        if param.ndim >= 2:
            fan_in = math.prod(shape[1:])
            value = torch.randn(shape, generator=gen) / math.sqrt(fan_in)
        elif "norm" in name and name.endswith("weight"):
            value = 1.0 + 0.1 * torch.randn(shape, generator=gen)
        else:
            value = 0.05 * torch.randn(shape, generator=gen)
        param.copy_(value.to(param.dtype))
    return module


__all__ = [
    "CLIP_VIT_L14",
    "PRESETS",
    "SD15_UNET",
    "SD_VAE",
    "TINY_CLIP",
    "TINY_UNET",
    "TINY_VAE",
    "build_clip",
    "build_vae",
    "preset",
    "randomize_weights",
]
