"""The two-stream GenWarp model: semantic preserver + denoiser + condition encoder.

Both streams are stock ``diffusers.UNet2DConditionModel``s. They differ only in the attention
processors installed on their self-attention layers (see :mod:`genwarp.models.reference_attention`)
and share one condition encoder whose features are added after each U-Net's ``conv_in``
(:mod:`genwarp.models.conv_in`).

The config also records *how the checkpoint must be sampled*: which warped condition it was
trained with, the embedding normalisation, the warp's importance weights, the CLIP preprocessing,
whether reference features are rounded to fp16, the latent scale and how inputs are resized.
Released checkpoints get the release's values (quirks included, see
:func:`genwarp.models.release.load_release_model`); new models default to the correct behaviour.
"""

from __future__ import annotations

from typing import Any

import torch
from diffusers import UNet2DConditionModel
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from jaxtyping import Float, Int
from torch import Tensor

from genwarp.models.condition_encoder import ConditionEncoder
from genwarp.models.conv_in import conv_in_residual
from genwarp.models.reference_attention import (
    ReferenceBank,
    ReferenceRead,
    ReferenceReaderProcessor,
    install_reference_processors,
)

CONDITION_KINDS = ("coords", "depth", "image", "plucker")
NORMALIZATIONS = ("release", "pixel_centers")
IMPORTANCES = ("release", "inverse_depth")
RESIZE_MODES = ("nearest", "bilinear")
# Output head of the preserver: never used (only its attention inputs matter); the release's
# reference U-Net does not even store it. See GenWarpModel.preserver_unused_prefixes for the rest.
PRESERVER_UNUSED_PREFIXES = ("conv_norm_out.", "conv_out.")


def _condition_channels(kind: str, num_frequencies: int) -> int:
    if kind == "coords":
        return 2 + 4 * num_frequencies + 1
    return {"depth": 2, "image": 4, "plucker": 6}[kind]


def _clean_unet_config(config: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in dict(config).items() if not k.startswith("_")}


class GenWarpModel(ModelMixin, ConfigMixin):
    """Semantic preserver U-Net, denoising U-Net and condition encoder, saved together.

    Args:
        unet: ``UNet2DConditionModel`` config (a dict) of the denoiser; also the preserver's unless
            ``preserver_unet`` is given. Both must have the same transformer-block layout.
        preserver_unet: optional separate config of the preserver.
        condition_kind: the warped condition (``coords`` = the paper's method; ``depth``,
            ``image``, ``plucker`` = the embedding ablation).
        condition_channels: channels of the condition map (derived from the kind when ``None``).
        condition_block_channels: condition-encoder stage widths (their count sets its stride).
        num_frequencies: Fourier frequencies of the coordinate embedding.
        coordinate_normalization: ``pixel_centers`` ((x+0.5)/W, (y+0.5)/H) or ``release`` (x/H, y/W).
        warp_importance: splat weights, ``inverse_depth`` or ``release`` (clip-space z with near/far).
        image_prompt: ``clip`` (a CLIP image embedding token) or ``none`` (a zero token).
        clip_preprocessing: ``standard`` or ``release`` (its double rescale).
        reference_rounding: ``None`` or ``"float16"`` (the release rounds banked features).
        latent_scale: latent scaling factor; ``None`` reads the codec's own.
        resize_mode: how inputs are resized to the working resolution (``nearest`` as the release,
            or antialiased ``bilinear`` for the image; depth is always resized with nearest).
        prediction_type: what the denoiser predicts (``v_prediction`` or ``epsilon``).
        uncond_uses_reference: whether the unconditional CFG branch attends to the reference
            (the release: no).
        reference_attention: ``False`` switches the two-stream design off (the attention
            ablation): the preserver is not run and is frozen, and the denoiser sees only the
            warped condition and the image prompt.
    """

    _supports_gradient_checkpointing = True

    @register_to_config
    def __init__(
        self,
        unet: dict[str, Any] | None = None,
        preserver_unet: dict[str, Any] | None = None,
        condition_kind: str = "coords",
        condition_channels: int | None = None,
        condition_block_channels: tuple[int, ...] = (16, 32, 64, 128),
        num_frequencies: int = 2,
        coordinate_normalization: str = "pixel_centers",
        warp_importance: str = "inverse_depth",
        image_prompt: str = "clip",
        clip_preprocessing: str = "standard",
        reference_rounding: str | None = None,
        latent_scale: float | None = None,
        resize_mode: str = "bilinear",
        prediction_type: str = "v_prediction",
        uncond_uses_reference: bool = False,
        reference_attention: bool = True,
    ):
        super().__init__()
        if unet is None:
            raise ValueError("GenWarpModel needs `unet`, a UNet2DConditionModel config dict")
        for name, value, allowed in (
            ("condition_kind", condition_kind, CONDITION_KINDS),
            ("coordinate_normalization", coordinate_normalization, NORMALIZATIONS),
            ("warp_importance", warp_importance, IMPORTANCES),
            ("image_prompt", image_prompt, ("clip", "none")),
            ("clip_preprocessing", clip_preprocessing, ("standard", "release")),
            ("reference_rounding", reference_rounding, (None, "float16")),
            ("resize_mode", resize_mode, RESIZE_MODES),
            ("prediction_type", prediction_type, ("v_prediction", "epsilon")),
        ):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        expected_channels = _condition_channels(condition_kind, num_frequencies)
        if condition_channels is None:
            condition_channels = expected_channels
            self.register_to_config(condition_channels=condition_channels)
        elif condition_channels != expected_channels:
            raise ValueError(
                f"condition_kind {condition_kind!r} with {num_frequencies} frequencies makes "
                f"{expected_channels}-channel conditions, but condition_channels={condition_channels}"
            )

        self.denoiser = UNet2DConditionModel.from_config(_clean_unet_config(unet))
        self.preserver = UNet2DConditionModel.from_config(_clean_unet_config(preserver_unet or unet))
        self.condition_encoder = ConditionEncoder(
            in_channels=condition_channels,
            out_channels=self.denoiser.config.block_out_channels[0],
            block_out_channels=tuple(condition_block_channels),
        )
        if self.preserver.config.block_out_channels[0] != self.denoiser.config.block_out_channels[0]:
            raise ValueError("the preserver and denoiser must share block_out_channels[0] (one condition encoder)")

        writers = install_reference_processors(self.preserver, "writer")
        readers = install_reference_processors(self.denoiser, "reader")
        if sorted(writers) != sorted(readers):
            raise ValueError(
                "preserver and denoiser transformer blocks must pair by module path; unpaired: "
                f"{sorted(set(writers) ^ set(readers))}"
            )
        self._preserver_unused = self._unused_preserver_prefixes(writers, self.preserver)
        for name, param in self.preserver.named_parameters():
            if name.startswith(self._preserver_unused) or not reference_attention:
                param.requires_grad_(False)

    @staticmethod
    def _unused_preserver_prefixes(writers: list[str], preserver: UNet2DConditionModel) -> tuple[str, ...]:
        """Preserver parameters that cannot influence any banked feature.

        Only the ``norm1`` outputs are banked, so everything the preserver computes after the
        ``norm1`` of its last-executed transformer block is dead: that block's attentions, norms 2/3
        and feed-forward, its Transformer2D's ``proj_out``, what follows that Transformer2D in its
        U-Net block (later resnets, the resampler), every later block and the output head. They
        get no gradient, so they are frozen (DDP would otherwise stop on unused parameters). U-Nets
        run down, mid, then up blocks (registration order is down, up, mid); in every block,
        ``resnets[i]`` runs before ``attentions[i]`` (the mid block: ``resnets[i + 1]`` after it).
        """
        rank = {"down_blocks": 0, "mid_block": 1, "up_blocks": 2}

        def order(name: str) -> tuple[int, int]:
            head = name.split(".")
            return rank.get(head[0], 3), int(head[1]) if head[0] != "mid_block" else 0

        ordered = sorted(writers, key=order)  # stable within a block: registration order
        if not ordered:
            return PRESERVER_UNUSED_PREFIXES
        last = ordered[-1]
        parent = last.rsplit(".transformer_blocks.", 1)[0]  # e.g. up_blocks.3.attentions.2
        block, index = parent.rsplit(".attentions.", 1)  # e.g. up_blocks.3, 2
        tail = tuple(f"{last}.{m}." for m in ("attn1", "norm2", "attn2", "norm3", "ff"))
        module = preserver.get_submodule(block)
        after = [f"{block}.resnets.{i}." for i in range(int(index) + 1, len(getattr(module, "resnets", [])))]
        after += [f"{block}.{name}." for name in ("downsamplers", "upsamplers") if getattr(module, name, None)]
        here = order(last)
        later = [f"down_blocks.{i}." for i in range(len(preserver.down_blocks)) if (0, i) > here]
        later += ["mid_block."] if preserver.mid_block is not None and (1, 0) > here else []
        later += [f"up_blocks.{i}." for i in range(len(preserver.up_blocks)) if (2, i) > here]
        return PRESERVER_UNUSED_PREFIXES + tail + (f"{parent}.proj_out.", *after, *later)

    def preserver_unused_prefixes(self) -> tuple[str, ...]:
        """Parameter-name prefixes (within ``preserver``) that never receive gradients."""
        return self._preserver_unused

    # ------------------------------------------------------------------ properties
    @property
    def cross_attention_dim(self) -> int:
        return int(self.denoiser.config.cross_attention_dim)

    @property
    def latent_channels(self) -> int:
        return int(self.denoiser.config.in_channels)

    @property
    def reference_round_dtype(self) -> torch.dtype | None:
        return torch.float16 if self.config.reference_rounding == "float16" else None

    # ------------------------------------------------------------------ building blocks
    def encode_condition(self, condition: Float[Tensor, "b c h w"]) -> Float[Tensor, "b d hl wl"]:
        """Condition map at image resolution → features added after ``conv_in``."""
        return self.condition_encoder(condition.to(self.condition_encoder.dtype))

    def write_reference(
        self,
        bank: ReferenceBank,
        ref_latents: Float[Tensor, "r c hl wl"],
        src_features: Float[Tensor, "r d hl wl"],
        image_prompt: Float[Tensor, "r 1 e"],
    ) -> ReferenceBank:
        """Run the preserver once on the source latents (timestep 0), filling ``bank``."""
        timestep = torch.zeros(ref_latents.shape[0], device=ref_latents.device, dtype=ref_latents.dtype)
        with conv_in_residual(self.preserver, src_features):
            self.preserver(
                ref_latents.to(self.preserver.dtype),
                timestep,
                encoder_hidden_states=image_prompt.to(self.preserver.dtype),
                cross_attention_kwargs={"reference": bank},
                return_dict=False,
            )
        return bank

    def project_reference(self, bank: ReferenceBank) -> ReferenceBank:
        """Project the banked features to the denoiser's keys/values, once per bank.

        Every denoising step and target view then reuses them; doing it here, outside the
        denoiser's forward, also keeps gradient checkpointing's recomputation identical.
        """
        for name, module in self.denoiser.named_modules():
            processor = getattr(module, "processor", None)
            if isinstance(processor, ReferenceReaderProcessor):
                bank.keys_values(processor.name, module)
        return bank

    def predict(
        self,
        noisy_latents: Float[Tensor, "b c hl wl"],
        timesteps: Int[Tensor, " b"] | Tensor,
        tgt_features: Float[Tensor, "b d hl wl"],
        image_prompt: Float[Tensor, "b 1 e"],
        reference: ReferenceRead | None,
    ) -> Float[Tensor, "b c hl wl"]:
        """One denoiser pass: the model output (v or ε) for ``noisy_latents`` at ``timesteps``."""
        with conv_in_residual(self.denoiser, tgt_features):
            return self.denoiser(
                noisy_latents.to(self.denoiser.dtype),
                timesteps,
                encoder_hidden_states=image_prompt.to(self.denoiser.dtype),
                cross_attention_kwargs={"reference": reference},
                return_dict=False,
            )[0]

    def forward(
        self,
        noisy_latents: Float[Tensor, "b c hl wl"],
        timesteps: Tensor,
        ref_latents: Float[Tensor, "r c hl wl"],
        src_condition: Float[Tensor, "r k h w"],
        tgt_condition: Float[Tensor, "b k h w"],
        image_prompt: Float[Tensor, "r 1 e"],
        ref_index: Int[Tensor, " b"] | None = None,
    ) -> Float[Tensor, "b c hl wl"]:
        """Full forward (one preserver pass + one denoiser pass), as used in training.

        ``image_prompt`` is per source (r items); denoiser item ``i`` uses source
        ``ref_index[i]`` (default: ``i``), and ``ref_index[i] = -1`` drops both the reference and
        the image prompt for that item (condition dropout / unconditional branch).
        The returned tensor keeps its autograd graph through the reference features, also under
        gradient checkpointing: the bank is referenced by the recomputed blocks' arguments.
        """
        b = noisy_latents.shape[0]
        if ref_index is None:
            ref_index = torch.arange(b)
        ref_index = torch.as_tensor(ref_index, dtype=torch.long)
        rows = ref_index.clamp(min=0).to(image_prompt.device)
        keep = (ref_index >= 0).to(device=image_prompt.device, dtype=image_prompt.dtype).view(-1, 1, 1)
        denoiser_prompt = image_prompt[rows] * keep
        read = None
        if self.config.reference_attention:
            bank = ReferenceBank(round_to=self.reference_round_dtype)
            self.write_reference(bank, ref_latents, self.encode_condition(src_condition), image_prompt)
            self.project_reference(bank)
            read = ReferenceRead.create(bank, ref_index).to(noisy_latents.device)  # index copies once
        out = self.predict(noisy_latents, timesteps, self.encode_condition(tgt_condition), denoiser_prompt, read)
        if read is not None and read.with_ref.numel() == 0 and torch.is_grad_enabled():
            # Every item dropped its condition: keep the preserver in the graph with zero gradient,
            # so data-parallel training sees the same parameters used on every step.
            out = out + 0.0 * sum(k.sum() + v.sum() for k, v in bank._kv.values())
        return out

    # ------------------------------------------------------------------ construction helpers
    @classmethod
    def from_unet(cls, unet: UNet2DConditionModel, **config: Any) -> GenWarpModel:
        """Both streams initialised from one pretrained U-Net (e.g. Stable Diffusion 1.x or
        sd-image-variations); the condition encoder's output is zero so training starts from
        the pretrained behaviour."""
        model = cls(unet=_clean_unet_config(unet.config), **config)
        state = unet.state_dict()
        model.denoiser.load_state_dict(state)
        model.preserver.load_state_dict(state)
        return model.to(unet.dtype)

    @classmethod
    def from_stable_diffusion(
        cls, pretrained: str, subfolder: str | None = "unet", torch_dtype: torch.dtype | None = None, **config: Any
    ) -> GenWarpModel:
        """Initialise both streams from a Stable Diffusion 1.x / sd-image-variations U-Net.

        ``pretrained`` is a local directory or a Hugging Face hub id (e.g.
        ``lambdalabs/sd-image-variations-diffusers``); ``subfolder`` names the U-Net folder in it.
        """
        try:
            unet = UNet2DConditionModel.from_pretrained(pretrained, subfolder=subfolder, torch_dtype=torch_dtype)
        except (OSError, ValueError) as err:
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise FileNotFoundError(
                f"could not load a UNet2DConditionModel from {pretrained!r} (subfolder {subfolder!r}): {reason} "
                "Pass a local directory holding config.json + diffusion_pytorch_model.safetensors, or a hub id "
                "such as 'lambdalabs/sd-image-variations-diffusers' on a machine with access to the hub "
                "(then set HF_HUB_OFFLINE=1 to reuse the cache)."
            ) from err
        return cls.from_unet(unet, **config)

    def trainable_parameters(self) -> list[torch.nn.Parameter]:
        """Parameters that receive gradients (the preserver's dead tail excluded)."""
        return [p for p in self.parameters() if p.requires_grad]


__all__ = ["CONDITION_KINDS", "GenWarpModel", "PRESERVER_UNUSED_PREFIXES"]
