"""The training forward: a batch of (source, target) pairs → the diffusion loss.

Wraps the trainable :class:`GenWarpModel` with the frozen parts (latent codec, image encoder) and
the noise schedule, so an Accelerate/DDP loop only has to call ``loss = objective(batch).loss``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from diffusers import DDPMScheduler
from jaxtyping import Float
from torch import Tensor, nn
from torch.nn import functional as F

from genwarp.geometry import build_conditions, relative_transform
from genwarp.models.codecs import default_latent_scale, encode_images
from genwarp.models.genwarp_model import GenWarpModel
from genwarp.models.image_prompt import encode_image_prompt
from genwarp.models.schedules import training_noise_scheduler

def _unwrap(model: nn.Module) -> GenWarpModel:
    while not isinstance(model, GenWarpModel) and hasattr(model, "module"):
        model = model.module
    return model


TIMESTEP_BIAS_STRATEGIES = ("none", "later", "earlier")


def timestep_probabilities(num_timesteps: int, strategy: str = "none", multiplier: float = 1.0,
                           portion: float = 0.25) -> Tensor | None:
    """Training-timestep distribution (``None``: uniform): ``later``/``earlier`` multiply the
    probability of the highest/lowest ``portion`` of the timesteps by ``multiplier``."""
    if strategy not in TIMESTEP_BIAS_STRATEGIES:
        raise ValueError(f"timestep_bias_strategy must be one of {TIMESTEP_BIAS_STRATEGIES}, got {strategy!r}")
    if strategy == "none":
        return None
    if not 0.0 < portion < 1.0 or multiplier <= 0:
        raise ValueError(f"timestep bias needs 0 < portion < 1 and multiplier > 0, got portion={portion}, "
                         f"multiplier={multiplier}")
    weights = torch.ones(num_timesteps)
    n = max(1, int(round(portion * num_timesteps)))
    if strategy == "later":
        weights[-n:] *= multiplier
    else:
        weights[:n] *= multiplier
    return weights / weights.sum()


REQUIRED_KEYS = ("src_image", "tgt_image", "src_depth", "src_intrinsics", "tgt_intrinsics")


@dataclass
class ObjectiveOutput:
    """``loss`` (scalar, weighted mean), ``loss_per_item`` (B,), the sampled ``timesteps`` (B,) and
    the condition-dropout mask ``dropped`` (B,)."""

    loss: Tensor
    loss_per_item: Tensor
    timesteps: Tensor
    dropped: Tensor


class GenWarpObjective(nn.Module):
    """v-prediction (or ε) loss on the zero-terminal-SNR schedule the release samples with.

    Args:
        model: the trainable two-stream model.
        codec: frozen latent codec (``AutoencoderKL`` or ``PixelUnshuffleCodec``).
        image_encoder: frozen CLIP image encoder, or ``None`` for models with ``image_prompt='none'``.
        noise_scheduler: forward process; defaults to :func:`training_noise_scheduler`.
        condition_dropout: per-item probability of dropping the image prompt *and* the reference
            together (what the unconditional branch of classifier-free guidance sees).
        snr_gamma: min-SNR-γ loss weighting (``None``: uniform).
        noise_offset: scale of the per-channel offset noise (0: off).
        near, far: clip planes handed to the warp (used by the release importance weighting).
        timestep_bias_strategy, timestep_bias_multiplier, timestep_bias_portion: as the
            diffusers SDXL training script: ``"later"`` (``"earlier"``) makes the highest (lowest)
            ``portion`` of the timesteps ``multiplier`` times as likely; ``"none"`` is uniform.
            High-noise steps are where the denoiser must take everything from the reference.
    """

    def __init__(
        self,
        model: GenWarpModel,
        codec: nn.Module,
        image_encoder: nn.Module | None = None,
        noise_scheduler: DDPMScheduler | None = None,
        condition_dropout: float = 0.1,
        snr_gamma: float | None = None,
        noise_offset: float = 0.0,
        near: float = 0.01,
        far: float = 100.0,
        timestep_bias_strategy: str = "none",
        timestep_bias_multiplier: float = 1.0,
        timestep_bias_portion: float = 0.25,
    ):
        super().__init__()
        if not 0.0 <= condition_dropout <= 1.0:
            raise ValueError(f"condition_dropout must be in [0, 1], got {condition_dropout}")
        core = _unwrap(model)
        if core.config.image_prompt == "clip" and image_encoder is None:
            raise ValueError("the model uses a CLIP image prompt (image_prompt='clip'): pass image_encoder")
        # ``model`` may be wrapped (DDP/FSDP): forward through the wrapper so gradients sync, read
        # the config from the wrapped GenWarpModel.
        self.model = model
        self.codec = codec.requires_grad_(False).eval()
        self.image_encoder = image_encoder.requires_grad_(False).eval() if image_encoder is not None else None
        self.noise_scheduler = noise_scheduler or training_noise_scheduler(core.config.prediction_type)
        self.condition_dropout = condition_dropout
        self.snr_gamma = snr_gamma
        self.noise_offset = noise_offset
        self.near, self.far = near, far
        self.register_buffer(
            "alphas_cumprod", self.noise_scheduler.alphas_cumprod.clone().float(), persistent=False
        )
        self.timestep_probs = timestep_probabilities(self.noise_scheduler.config.num_train_timesteps,
                                                     timestep_bias_strategy, timestep_bias_multiplier,
                                                     timestep_bias_portion)

    @property
    def core(self) -> GenWarpModel:
        """The GenWarpModel itself, also when ``model`` is a DDP/FSDP wrapper."""
        return _unwrap(self.model)

    @property
    def latent_scale(self) -> float:
        scale = self.core.config.latent_scale
        return float(scale) if scale is not None else default_latent_scale(self.codec)

    def train(self, mode: bool = True) -> GenWarpObjective:
        super().train(mode)
        self.codec.eval()  # frozen parts stay in eval mode
        if self.image_encoder is not None:
            self.image_encoder.eval()
        return self

    @torch.no_grad()
    def prepare(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """Conditions, latents and image prompt of a batch (no gradients: all inputs are frozen)."""
        missing = [k for k in REQUIRED_KEYS if k not in batch]
        if missing:
            raise KeyError(f"training batch lacks {missing}; it has {sorted(batch)}")
        if "src_to_tgt" in batch:
            src_to_tgt = batch["src_to_tgt"]
        elif "src_c2w" in batch and "tgt_c2w" in batch:
            src_to_tgt = relative_transform(batch["src_c2w"].float(), batch["tgt_c2w"].float())
        else:
            raise KeyError("training batch needs 'src_to_tgt' or both 'src_c2w' and 'tgt_c2w'")
        cfg = self.core.config
        src = batch["src_image"].float()
        conds = build_conditions(
            cfg.condition_kind,
            src,
            batch["src_depth"].float(),
            batch["src_intrinsics"].float(),
            batch["tgt_intrinsics"].float(),
            src_to_tgt.float(),
            normalization=cfg.coordinate_normalization,
            num_frequencies=cfg.num_frequencies,
            importance=cfg.warp_importance,
            near=self.near,
            far=self.far,
        )
        encoder = self.image_encoder if cfg.image_prompt == "clip" else None
        return {
            "src_condition": conds.source,
            "tgt_condition": conds.target,
            "ref_latents": encode_images(self.codec, src, self.latent_scale),
            "latents": encode_images(self.codec, batch["tgt_image"].float(), self.latent_scale),
            "image_prompt": encode_image_prompt(encoder, src, cfg.clip_preprocessing, self.core.cross_attention_dim),
        }

    def loss_weights(self, timesteps: Tensor) -> Tensor:
        """Min-SNR-γ weights of the per-item loss (ones when ``snr_gamma`` is None).

        ε-prediction: ``min(snr, γ) / snr``. v-prediction: ``min(snr + 1, γ) / (snr + 1)``, the
        form of the public AnimateAnyone / diffusers training templates. The v-loss already equals
        ``(snr + 1)`` times the x0-loss, so this caps the x0 weight at γ while keeping weight 1 at
        ``snr = 0``. The other common form, ``min(snr, γ) / (snr + 1)``, is 0 at t = 999 of the
        zero-terminal-SNR schedule (and < 0.003 for t ≥ 900), leaving the very steps sampling
        starts from untrained.
        """
        if self.snr_gamma is None:
            return torch.ones_like(timesteps, dtype=torch.float32)
        ac = self.alphas_cumprod.to(timesteps.device)[timesteps]
        snr = ac / (1.0 - ac).clamp(min=1e-8)
        if self.core.config.prediction_type == "v_prediction":
            return (snr + 1.0).clamp(max=self.snr_gamma) / (snr + 1.0)
        return snr.clamp(max=self.snr_gamma) / snr.clamp(min=1e-8)

    def forward(self, batch: dict[str, Tensor], generator: torch.Generator | None = None) -> ObjectiveOutput:
        inputs = self.prepare(batch)
        latents: Float[Tensor, "b c h w"] = inputs["latents"]
        b, device = latents.shape[0], latents.device

        # Draw on the generator's device (CPU generators stay reproducible across machines).
        gen_device = generator.device if generator is not None else device
        noise = torch.randn(latents.shape, generator=generator, device=gen_device).to(device)
        if self.noise_offset:
            offset = torch.randn((b, latents.shape[1], 1, 1), generator=generator, device=gen_device).to(device)
            noise = noise + self.noise_offset * offset
        num_t = self.noise_scheduler.config.num_train_timesteps
        if self.timestep_probs is None:
            timesteps = torch.randint(0, num_t, (b,), generator=generator, device=gen_device).to(device)
        else:
            timesteps = torch.multinomial(self.timestep_probs.to(gen_device), b, replacement=True,
                                          generator=generator).to(device)
        drop_draw = torch.rand((b,), generator=generator, device=gen_device)
        # The reference rows are decided on the host (from a CPU draw, no device read-back).
        dropped_host = drop_draw.cpu() < self.condition_dropout
        ref_index = torch.where(dropped_host, -1, torch.arange(b))
        dropped = dropped_host.to(device)

        noisy = self.noise_scheduler.add_noise(latents, noise, timesteps)
        if self.core.config.prediction_type == "v_prediction":
            target = self.noise_scheduler.get_velocity(latents, noise, timesteps)
        else:
            target = noise
        pred = self.model(
            noisy, timesteps, inputs["ref_latents"], inputs["src_condition"], inputs["tgt_condition"],
            inputs["image_prompt"], ref_index=ref_index,
        )
        per_item = F.mse_loss(pred.float(), target.float(), reduction="none").mean(dim=(1, 2, 3))
        weights = self.loss_weights(timesteps)
        loss = (per_item * weights).mean()
        return ObjectiveOutput(loss=loss, loss_per_item=per_item.detach(), timesteps=timesteps, dropped=dropped)


__all__ = ["GenWarpObjective", "ObjectiveOutput", "TIMESTEP_BIAS_STRATEGIES", "timestep_probabilities"]
