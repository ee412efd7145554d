"""Import of the authors' released checkpoints (release-spec §14).

Layout under the checkpoints root::

    image_encoder/   config.json, pytorch_model.bin        CLIPVisionModelWithProjection
    sd-vae-ft-mse/   config.json, diffusion_pytorch_model.safetensors   AutoencoderKL
    <variant>/       config.json                           UNet2DConditionModel config (both U-Nets)
                     reference_unet.pth                    semantic preserver (no output head)
                     denoising_unet.pth                    denoiser
                     pose_guider.pth                       condition encoder

Every tensor is accounted for: a missing or unexpected key is an error naming it, except the four
output-head tensors the release's reference U-Net does not have (they are never used).
The loaded model is configured to sample exactly as the release does, quirks included.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass
from pathlib import Path

import torch
from diffusers import AutoencoderKL, DDIMScheduler
from transformers import CLIPVisionModelWithProjection

from genwarp.models.condition_encoder import condition_encoder_from_state_dict
from genwarp.models.genwarp_model import GenWarpModel, _clean_unet_config
from genwarp.models.schedules import release_ddim_scheduler

RELEASE_VARIANTS = ("multi1", "multi2")
RELEASE_LATENT_SCALE = 0.18215
PRESERVER_HEAD_KEYS = frozenset(
    {"conv_norm_out.weight", "conv_norm_out.bias", "conv_out.weight", "conv_out.bias"}
)
# Where each file is published (for error messages).
_SOURCES = {
    "variant": "the Hugging Face hub repository Sony/genwarp (folders multi1/ and multi2/)",
    "sd-vae-ft-mse": "the Hugging Face hub repository stabilityai/sd-vae-ft-mse",
    "image_encoder": "the image_encoder/ folder of the Hugging Face hub repository "
    "lambdalabs/sd-image-variations-diffusers",
}

# How the release samples; stored in the model config so the checkpoint samples this way.
RELEASE_MODEL_CONFIG = dict(
    condition_kind="coords",
    num_frequencies=2,
    coordinate_normalization="release",  # x/H, y/W
    warp_importance="release",  # clip-space z with near/far
    image_prompt="clip",
    clip_preprocessing="release",  # uint8 truncation + double 1/255 rescale
    reference_rounding="float16",
    latent_scale=RELEASE_LATENT_SCALE,  # hard-coded in the release, not read from the VAE config
    resize_mode="nearest",
    prediction_type="v_prediction",
    uncond_uses_reference=False,
)


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        raise FileNotFoundError(
            f"release checkpoint file missing: {path}. It is published in {_SOURCES[what]}; "
            "see the README section 'Released checkpoints' for the expected layout."
        )
    return path


def _load_pth(path: Path) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, IndexError, ValueError, pickle.UnpicklingError) as e:  # a cut-off / damaged file
        reason = str(e).split("\n")[0]
        raise OSError(
            f"cannot read {path} as a weights-only PyTorch file ({type(e).__name__}: {reason}); "
            f"it looks truncated or corrupt: delete it and download it again from {_SOURCES['variant']}"
        ) from e
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path} is not a plain state dict of tensors")
    return state


def load_release_model(root: str | Path, variant: str = "multi1", strict: bool = True) -> GenWarpModel:
    """Build a :class:`GenWarpModel` from ``<root>/<variant>/`` of the release layout (float32).

    Args:
        root: the release checkpoints root.
        variant: sub-folder (``multi1``, ``multi2``, or any folder of the same layout).
        strict: if False, keys of ``denoising_unet.pth`` that a stock U-Net does not have are
            ignored (as the release's own ``strict=False`` load does); missing keys are always an
            error, since the release would silently keep random weights for them.
    """
    folder = Path(root) / variant
    if not folder.is_dir():
        raise FileNotFoundError(
            f"release variant folder not found: {folder} (variants: {', '.join(RELEASE_VARIANTS)}). "
            f"It is published in {_SOURCES['variant']}."
        )
    with open(_require(folder / "config.json", "variant")) as f:
        unet_config = _clean_unet_config(json.load(f))
    preserver_state = _load_pth(_require(folder / "reference_unet.pth", "variant"))
    denoiser_state = _load_pth(_require(folder / "denoising_unet.pth", "variant"))
    encoder_state = _load_pth(_require(folder / "pose_guider.pth", "variant"))

    encoder = condition_encoder_from_state_dict(encoder_state)
    model = GenWarpModel(
        unet=unet_config,
        condition_block_channels=tuple(encoder.config.block_out_channels),
        **RELEASE_MODEL_CONFIG,
    )
    if encoder.config.in_channels != model.config.condition_channels:
        raise ValueError(
            f"{folder / 'pose_guider.pth'} takes {encoder.config.in_channels}-channel conditions, "
            f"expected {model.config.condition_channels}"
        )
    if encoder.config.out_channels != model.denoiser.config.block_out_channels[0]:
        raise ValueError(
            f"{folder / 'pose_guider.pth'} outputs {encoder.config.out_channels} channels but the U-Net's "
            f"block_out_channels[0] is {model.denoiser.config.block_out_channels[0]}"
        )
    model.condition_encoder.load_state_dict(encoder.state_dict(), strict=True)

    missing, unexpected = model.preserver.load_state_dict(preserver_state, strict=False)
    bad_missing = sorted(set(missing) - PRESERVER_HEAD_KEYS)
    if bad_missing or unexpected:
        raise ValueError(
            f"{folder / 'reference_unet.pth'} does not match the U-Net config: missing keys {bad_missing}, "
            f"unexpected keys {sorted(unexpected)}"
        )
    missing, unexpected = model.denoiser.load_state_dict(denoiser_state, strict=False)
    if missing or (strict and unexpected):
        hint = " (pass strict=False to ignore unexpected keys as the release does)" if unexpected else ""
        raise ValueError(
            f"{folder / 'denoising_unet.pth'} does not match the U-Net config: missing keys {sorted(missing)}, "
            f"unexpected keys {sorted(unexpected)}{hint}"
        )
    return model


@dataclass
class ReleaseComponents:
    """Everything the release samples with."""

    model: GenWarpModel
    vae: AutoencoderKL
    image_encoder: CLIPVisionModelWithProjection
    scheduler: DDIMScheduler


def load_release(root: str | Path, variant: str = "multi1", strict: bool = True) -> ReleaseComponents:
    """Load the model, the VAE, the CLIP image encoder and the DDIM scheduler of a release root."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(
            f"release checkpoints root not found: {root}. Download {_SOURCES['variant']}, "
            f"{_SOURCES['sd-vae-ft-mse']} and {_SOURCES['image_encoder']} into it "
            "(README: 'Released checkpoints')."
        )
    model = load_release_model(root, variant, strict=strict)
    vae_dir = root / "sd-vae-ft-mse"
    _require(vae_dir / "config.json", "sd-vae-ft-mse")
    vae = AutoencoderKL.from_pretrained(vae_dir)
    enc_dir = root / "image_encoder"
    _require(enc_dir / "config.json", "image_encoder")
    image_encoder = CLIPVisionModelWithProjection.from_pretrained(enc_dir)
    return ReleaseComponents(model=model, vae=vae, image_encoder=image_encoder, scheduler=release_ddim_scheduler())


__all__ = [
    "PRESERVER_HEAD_KEYS",
    "RELEASE_LATENT_SCALE",
    "RELEASE_MODEL_CONFIG",
    "RELEASE_VARIANTS",
    "ReleaseComponents",
    "load_release",
    "load_release_model",
]
