"""Build the trainable model and its frozen companions from a :class:`ModelConfig`.

Initialisations are chosen by name from a small registry; a missing weight is one clear error
naming what was looked for and where.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from diffusers import AutoencoderKL, DiffusionPipeline, UNet2DConditionModel
from omegaconf import OmegaConf
from torch import nn
from transformers import CLIPVisionModelWithProjection

from genwarp.models import GenWarpModel, PixelUnshuffleCodec, load_release
from genwarp.models.presets import build_clip, build_vae, preset
from genwarp.models.schedules import release_ddim_scheduler
from genwarp.training.config import ModelConfig

# Model-config fields that are sampling behaviour (stored in GenWarpModel's config).
BEHAVIOUR_FIELDS = ("condition_kind", "num_frequencies", "coordinate_normalization", "warp_importance",
                    "clip_preprocessing", "reference_attention", "uncond_uses_reference", "latent_scale")


@dataclass
class Components:
    """The trainable model and the frozen parts the objective and the sampler need."""

    model: GenWarpModel
    codec: nn.Module
    image_encoder: nn.Module | None


def _load(what: str, loader: Callable[[], Any], where: str, hint: str) -> Any:
    try:
        return loader()
    except (OSError, ValueError, EnvironmentError) as err:
        if isinstance(err, FileNotFoundError) and "could not load" in str(err):
            raise  # already ours, naming what and where
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise FileNotFoundError(f"could not load the {what} from {where}: {reason} {hint}") from err


def _behaviour(cfg: ModelConfig) -> dict[str, Any]:
    return {k: getattr(cfg, k) for k in BEHAVIOUR_FIELDS} | {"image_prompt": cfg.image_prompt}


PIXEL_FACTORS = (1, 2, 4, 8)


def _unet_config(cfg: ModelConfig) -> dict[str, Any]:
    unet = preset(cfg.architecture)["unet"]
    if cfg.codec == "pixel":
        unet.update(in_channels=3 * cfg.pixel_factor**2, out_channels=3 * cfg.pixel_factor**2)
    # Hydra hands list values (``+model.unet_overrides.up_block_types=[...]``) over as ListConfig,
    # which the U-Net would keep in its config and the export could not write as JSON.
    unet.update(OmegaConf.to_container(OmegaConf.create(dict(cfg.unet_overrides)), resolve=True))
    return unet


def _condition_stages(cfg: ModelConfig) -> tuple[int, ...]:
    """Condition-encoder widths whose stride matches the codec (8 for the VAE)."""
    factor = cfg.pixel_factor if cfg.codec == "pixel" else 8
    if factor not in PIXEL_FACTORS:
        raise ValueError(f"model.pixel_factor must be one of {PIXEL_FACTORS}, got {factor}")
    stages = PIXEL_FACTORS.index(factor) + 1
    if cfg.condition_block_channels is None:
        return (16, 32, 64, 128)[:stages]
    widths = tuple(int(c) for c in cfg.condition_block_channels)
    if len(widths) != stages or min(widths) < 1:
        raise ValueError(
            f"model.condition_block_channels={list(widths)} gives a stride of {2 ** (len(widths) - 1)}, but the "
            f"codec downsamples by {factor}: give {stages} positive widths, e.g. {list((16, 32, 64, 128)[:stages])}"
        )
    return widths


CONDITION_ENCODER_INITS = ("zero", "kaiming")
# ModelConfig fields that only model.init=random uses, with their defaults.
RANDOM_INIT_KNOBS = {"condition_block_channels": None, "condition_encoder_init": "zero", "condition_encoder_gain": 1.0,
                     "preserver_from_denoiser": False, "attention_init": "default", "attention_init_scale": 1.0}


@torch.no_grad()
def kaiming_condition_encoder_init(encoder: nn.Module, gain: float = 1.0) -> None:
    """Variance-preserving init of every conv of the condition encoder (zero biases).

    PyTorch's default conv init shrinks activations about threefold per layer, so a random
    encoder's output is ~0.05 rms against ~1 of a U-Net's ``conv_in`` output: the coordinate code
    is then too faint for attention to key on. Kaiming-normal (fan-in, ReLU gain, close to SiLU's)
    keeps it near the input's scale; ``gain`` then scales the output conv, so that the coordinate
    code can outweigh the image content (or noise) in the residual stream it is added to.
    """
    for module in encoder.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            nn.init.zeros_(module.bias)
    encoder.conv_out.weight.mul_(gain)


ATTENTION_INITS = ("default", "similarity")


@torch.no_grad()
def similarity_attention_init(unet: UNet2DConditionModel, scale: float = 1.0) -> int:
    """Set ``to_q`` ← scale·``to_q`` and ``to_k`` ← ``to_q`` in every self-attention of ``unet``.

    Then ``q·k = |W x|²``-like: each token's scores favour tokens with similar features, which is
    what a pretrained U-Net's self-attention starts from. Returns the number of layers changed.
    """
    n = 0
    for name, module in unet.named_modules():
        if name.endswith(".attn1") and hasattr(module, "to_q") and hasattr(module, "to_k"):
            module.to_q.weight.mul_(scale)
            module.to_k.weight.copy_(module.to_q.weight)
            n += 1
    return n


def _check_init_knobs(cfg: ModelConfig) -> None:
    """The from-scratch knobs: known values, and none set that would be ignored."""
    if cfg.condition_encoder_init not in CONDITION_ENCODER_INITS:
        raise ValueError(f"model.condition_encoder_init must be one of {CONDITION_ENCODER_INITS}, "
                         f"got {cfg.condition_encoder_init!r}")
    if cfg.attention_init not in ATTENTION_INITS:
        raise ValueError(f"model.attention_init must be one of {ATTENTION_INITS}, got {cfg.attention_init!r}")
    if cfg.condition_encoder_gain != 1.0 and cfg.condition_encoder_init != "kaiming":
        raise ValueError(f"model.condition_encoder_gain={cfg.condition_encoder_gain} scales the kaiming init only; "
                         "set model.condition_encoder_init=kaiming or remove the override")
    if cfg.attention_init_scale != 1.0 and cfg.attention_init != "similarity":
        raise ValueError(f"model.attention_init_scale={cfg.attention_init_scale} applies to "
                         "model.attention_init=similarity only: set it or remove the override")


def _random_model(cfg: ModelConfig) -> GenWarpModel:
    _check_init_knobs(cfg)
    model = GenWarpModel(unet=_unet_config(cfg), condition_block_channels=_condition_stages(cfg), **_behaviour(cfg))
    if cfg.condition_encoder_init == "kaiming":
        kaiming_condition_encoder_init(model.condition_encoder, cfg.condition_encoder_gain)
    if cfg.preserver_from_denoiser:
        if dict(model.preserver.config) != dict(model.denoiser.config):
            raise ValueError("model.preserver_from_denoiser needs one U-Net config for both streams")
        model.preserver.load_state_dict(model.denoiser.state_dict())
    if cfg.attention_init == "similarity":  # after the copy: both streams get the same kernel
        for unet in (model.denoiser, model.preserver):
            similarity_attention_init(unet, cfg.attention_init_scale)
    return model


def _sd_model(cfg: ModelConfig) -> GenWarpModel:
    if not cfg.pretrained:
        raise ValueError("model.init=stable_diffusion needs model.pretrained (a local dir or hub id)")
    return GenWarpModel.from_stable_diffusion(cfg.pretrained, subfolder=cfg.pretrained_subfolder, **_behaviour(cfg))


MODEL_INITS: dict[str, Callable[[ModelConfig], GenWarpModel] | None] = {
    "random": _random_model,
    "stable_diffusion": _sd_model,
    "release": None,  # model, VAE and CLIP come together from the release root
    "pretrained": None,  # model, codec and image encoder come together from our export
}


def build_codec(cfg: ModelConfig) -> nn.Module:
    if cfg.codec == "pixel":
        _condition_stages(cfg)  # validates the factor
        return PixelUnshuffleCodec(cfg.pixel_factor, colour_basis=cfg.pixel_colour_basis,
                                   chroma_gain=cfg.pixel_chroma_gain, luminance_offset=cfg.pixel_luminance_offset)
    if cfg.pixel_colour_basis != "rgb" or cfg.pixel_chroma_gain != 1.0 or cfg.pixel_luminance_offset != 0.0:
        raise ValueError("model.pixel_colour_basis / pixel_chroma_gain / pixel_luminance_offset set the pixel codec: "
                         "they need model.codec=pixel")
    if cfg.codec != "vae":
        raise ValueError(f"model.codec must be 'vae' or 'pixel', got {cfg.codec!r}")
    if cfg.vae:
        return _load("VAE", lambda: AutoencoderKL.from_pretrained(cfg.vae, subfolder=cfg.vae_subfolder), cfg.vae,
                     "Use a local AutoencoderKL folder or a hub id such as 'stabilityai/sd-vae-ft-mse' "
                     "(downloaded beforehand on a machine with hub access).")
    return build_vae(cfg.architecture)


def build_image_encoder(cfg: ModelConfig) -> nn.Module | None:
    if cfg.image_prompt == "none":
        return None
    if cfg.image_prompt != "clip":
        raise ValueError(f"model.image_prompt must be 'clip' or 'none', got {cfg.image_prompt!r}")
    if cfg.image_encoder:
        return _load(
            "CLIP image encoder",
            lambda: CLIPVisionModelWithProjection.from_pretrained(cfg.image_encoder,
                                                                  subfolder=cfg.image_encoder_subfolder or ""),
            cfg.image_encoder,
            "Use a local CLIPVisionModelWithProjection folder or 'lambdalabs/sd-image-variations-diffusers' "
            "with model.image_encoder_subfolder=image_encoder.",
        )
    return build_clip(cfg.architecture)


def build_components(cfg: ModelConfig) -> Components:
    """Model (initialised as ``cfg.init`` says), codec and image encoder, with trainability set."""
    if cfg.init not in MODEL_INITS:
        raise ValueError(f"model.init must be one of {sorted(MODEL_INITS)}, got {cfg.init!r}")
    if cfg.init != "random":
        ignored = [k for k, default in RANDOM_INIT_KNOBS.items() if getattr(cfg, k) != default]
        if ignored:
            # Announced, not refused: the default experiment sets these for its random model, so a user
            # switching model.init on the command line would otherwise have to undo them one by one.
            logging.getLogger(__name__).warning(
                "model.init=%s takes its weights from the checkpoint: the random-init settings %s are not used",
                cfg.init, ", ".join(f"model.{k}={getattr(cfg, k)}" for k in ignored))
    if cfg.init in ("release", "pretrained") and not cfg.pretrained:
        raise ValueError(f"model.init={cfg.init} needs model.pretrained (the checkpoint folder)")
    if cfg.init == "release":
        parts = load_release(cfg.pretrained, cfg.release_variant)
        model, codec, encoder = parts.model, parts.vae, parts.image_encoder
    elif cfg.init == "pretrained":
        from genwarp.pipelines import GenWarpPipeline

        pipe = _load("GenWarp pipeline", lambda: GenWarpPipeline.from_pretrained(cfg.pretrained), cfg.pretrained,
                     "Expected the folder written by training at <output_dir>/model/.")
        model, codec, encoder = pipe.model, pipe.codec, pipe.image_encoder
    else:
        model = MODEL_INITS[cfg.init](cfg)
        codec, encoder = build_codec(cfg), build_image_encoder(cfg)
    set_trainable(model, cfg)
    if cfg.gradient_checkpointing:
        model.enable_gradient_checkpointing()
    return Components(model=model, codec=codec, image_encoder=encoder)


def set_trainable(model: GenWarpModel, cfg: ModelConfig) -> None:
    """Switch the three trainable parts on/off (the preserver's dead tail is always frozen)."""
    model.requires_grad_(False)
    if cfg.train_denoiser:
        model.denoiser.requires_grad_(True)
    if cfg.train_condition_encoder:
        model.condition_encoder.requires_grad_(True)
    if cfg.train_preserver and model.config.reference_attention:
        for name, p in model.preserver.named_parameters():
            p.requires_grad_(not name.startswith(model.preserver_unused_prefixes()))
    if not model.trainable_parameters():
        raise ValueError("nothing to train: model.train_preserver/train_denoiser/train_condition_encoder are all off")


def make_pipeline(model: GenWarpModel, codec: nn.Module, image_encoder: nn.Module | None) -> DiffusionPipeline:
    """A sampling pipeline around (unwrapped) training components, with the release DDIM."""
    from genwarp.pipelines import GenWarpPipeline

    pipe = GenWarpPipeline(model=model, codec=codec, scheduler=release_ddim_scheduler(model.config.prediction_type),
                           image_encoder=image_encoder)
    pipe.set_progress_bar_config(disable=True)
    return pipe


__all__ = [
    "BEHAVIOUR_FIELDS",
    "Components",
    "MODEL_INITS",
    "build_codec",
    "build_components",
    "build_image_encoder",
    "make_pipeline",
    "set_trainable",
]
