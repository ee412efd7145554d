"""Random-weight pipelines of a named architecture (tests, the quickstart demo, benchmarks)."""

from __future__ import annotations

from typing import Any

import torch

from genwarp.models.codecs import PixelUnshuffleCodec
from genwarp.models.genwarp_model import GenWarpModel
from genwarp.models.presets import build_clip, build_vae, preset, randomize_weights
from genwarp.models.schedules import release_ddim_scheduler
from genwarp.pipelines.pipeline_genwarp import GenWarpPipeline


def random_model(
    architecture: str = "tiny", codec: str = "vae", seed: int = 0, randomize: bool = True, **model_config: Any
) -> GenWarpModel:
    """A :class:`GenWarpModel` with random weights.

    ``codec="pixel"`` widens the U-Nets' input/output to the pixel-unshuffle codec's 192 channels.
    ``randomize`` re-draws every weight (incl. zero-initialised ones) with :func:`randomize_weights`.
    """
    unet = preset(architecture)["unet"]
    if codec == "pixel":
        unet.update(in_channels=192, out_channels=192)
    elif codec != "vae":
        raise ValueError(f"codec must be 'vae' or 'pixel', got {codec!r}")
    torch.manual_seed(seed)
    model = GenWarpModel(unet=unet, **model_config)
    return randomize_weights(model, seed) if randomize else model


def random_pipeline(
    architecture: str = "tiny",
    codec: str = "vae",
    image_prompt: str = "clip",
    seed: int = 0,
    randomize: bool = True,
    **model_config: Any,
) -> GenWarpPipeline:
    """A complete :class:`GenWarpPipeline` with random weights (no download)."""
    model = random_model(architecture, codec, seed, randomize, image_prompt=image_prompt, **model_config)
    latent_codec = PixelUnshuffleCodec(8) if codec == "pixel" else randomize_weights(build_vae(architecture), seed + 1)
    encoder = randomize_weights(build_clip(architecture), seed + 2) if image_prompt == "clip" else None
    return GenWarpPipeline(model=model, codec=latent_codec, scheduler=release_ddim_scheduler(), image_encoder=encoder)


__all__ = ["random_model", "random_pipeline"]
