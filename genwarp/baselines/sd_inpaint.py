"""The "SD-Inpainting fine-tuned on RealEstate10K" baseline (the paper's Table 1, †): model side.

A Stable Diffusion inpainting U-Net (``UNet2DConditionModel`` with 9 input channels: 4 noisy
latent + 1 hole mask + 4 masked-image latent, the layout of diffusers'
``StableDiffusionInpaintPipeline``) is fine-tuned to turn the warped source view, with its holes,
into the target view. Everything here serves both training (:mod:`genwarp.training.inpaint_baseline`)
and evaluation (``scripts/evaluate.py method=warp_inpaint inpaint.model=<export>``), so that the
fine-tuned model sees at evaluation exactly the inputs it was trained on:

* :class:`BaselineWarp` — the warped source and hole mask of a batch, computed by the
  ``warp_inpaint`` evaluation method itself (z-buffered source depth, inverse warping with an
  occlusion test, LucidDreamer's hole filter; :class:`~genwarp.evaluation.methods.WarpInpaintMethod`);
* :func:`inpaint_conditioning` — the mask and masked-image latents, made by the pipeline's own
  preprocessors and ``prepare_mask_latents`` (mask 1 = hole; masked image 0 in the holes, in the
  VAE's [-1, 1] range), so the layout is the one the pipeline feeds its U-Net at sampling time;
* :func:`load_inpaint_pipeline` / :func:`tiny_inpaint_pipeline` — the initial pipeline (a
  pretrained one, with the repository's missing-weights error, or a tiny random one);
* :func:`export_inpaint_pipeline` — ``save_pretrained`` of the whole pipeline with the fine-tuned
  U-Net (safetensors and JSON configs only), loadable by ``StableDiffusionInpaintPipeline``.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor

from genwarp.evaluation.methods import DEFAULT_INPAINT_MODEL, WarpInpaintMethod, require_inpaint_model

__all__ = [
    "DEFAULT_INPAINT_MODEL",
    "INFO_FILE",
    "INPAINT_UNET_CHANNELS",
    "BaselineWarp",
    "encode_prompt",
    "export_inpaint_pipeline",
    "inpaint_conditioning",
    "load_inpaint_pipeline",
    "tiny_inpaint_pipeline",
]

INPAINT_UNET_CHANNELS = 9  # 4 noisy latent + 1 mask + 4 masked-image latent
INFO_FILE = "genwarp_baseline.json"  # what an export was fine-tuned from and with (next to model_index.json)


class _NoInpainter:
    """Placeholder inpainter: :class:`BaselineWarp` uses only the warp and the hole mask of
    :class:`WarpInpaintMethod`, never its inpainting call."""

    def __call__(self, **_: Any):
        raise RuntimeError("BaselineWarp computes warps and hole masks only; it does not inpaint")


class BaselineWarp:
    """Warped source and hole mask of a batch, exactly as ``method=warp_inpaint`` computes them.

    Args mirror the ``inpaint.*`` evaluation knobs (``hole_filter``, ``hole_max_filter``,
    ``hole_min_filter``, ``mask_dilation``, ``occlusion_tolerance``); invalid or ignored
    combinations raise ``ValueError`` (:func:`~genwarp.evaluation.methods.check_hole_filter`).
    """

    def __init__(self, device: str | torch.device = "cpu", *, hole_filter: str = "luciddreamer",
                 hole_max_filter: int | None = None, hole_min_filter: int | None = None,
                 mask_dilation: int | None = None, occlusion_tolerance: float = 0.05):
        self.method = WarpInpaintMethod(
            inpainter=_NoInpainter(), device=device, hole_filter=hole_filter, hole_max_filter=hole_max_filter,
            hole_min_filter=hole_min_filter, mask_dilation=mask_dilation, occlusion_tolerance=occlusion_tolerance)

    @torch.no_grad()
    def __call__(self, batch: dict[str, Any]) -> tuple[Float[Tensor, "b 3 h w"], Float[Tensor, "b 1 h w"]]:
        """``(warped, hole)``: the inverse-warped source in [0, 1] (0 where nothing warps) and the
        hole mask (1 where the inpainter fills)."""
        warped, valid = self.method.warp(batch)
        return warped.clamp(0, 1), self.method.hole_mask(valid)

    def settings(self) -> dict[str, Any]:
        """The hole settings, under the ``inpaint.*`` names of the evaluation config."""
        m = self.method
        d = m.describe()
        return {k: d[k] for k in ("hole_filter", "hole_max_filter", "hole_min_filter", "mask_dilation",
                                  "occlusion_tolerance") if k in d}


def inpaint_conditioning(
    pipe: Any,
    warped: Float[Tensor, "b 3 h w"],
    hole: Float[Tensor, "b 1 h w"],
    generator: torch.Generator | None = None,
) -> tuple[Float[Tensor, "b 1 hl wl"], Float[Tensor, "b 4 hl wl"]]:
    """The mask and masked-image latents the inpainting U-Net is conditioned on.

    The same steps as ``StableDiffusionInpaintPipeline.__call__``: the image is normalised to
    [-1, 1] (``pipe.image_processor``), the mask binarised (``pipe.mask_processor``: 1 = hole), the
    masked image is ``image * (mask < 0.5)`` (0, mid-grey, in the holes), and
    ``pipe.prepare_mask_latents`` resizes the mask to the latent grid and VAE-encodes the masked
    image (a sample of the posterior drawn with ``generator``, times the VAE scaling factor).
    The U-Net input is then ``cat([noisy_latents, mask, masked_image_latents], dim=1)``.
    """
    h, w = warped.shape[-2:]
    vae = pipe.vae
    dtype = next(vae.parameters()).dtype
    image = pipe.image_processor.preprocess(warped.float().clamp(0, 1), height=h, width=w)
    mask = pipe.mask_processor.preprocess(hole.float(), height=h, width=w)
    masked_image = image * (mask < 0.5)
    return pipe.prepare_mask_latents(mask, masked_image, warped.shape[0], h, w, dtype, warped.device, generator,
                                     False)


@torch.no_grad()
def encode_prompt(pipe: Any, prompt: str, device: torch.device) -> Float[Tensor, "1 n d"]:
    """The text encoder's hidden states of ``prompt`` (padded to the tokenizer's length), as the
    pipeline computes them for its conditional branch."""
    tokens = pipe.tokenizer(prompt, padding="max_length", max_length=pipe.tokenizer.model_max_length,
                            truncation=True, return_tensors="pt").input_ids
    return pipe.text_encoder(tokens.to(device))[0]


def load_inpaint_pipeline(model: str | os.PathLike, dtype: torch.dtype = torch.float32):
    """A pretrained ``StableDiffusionInpaintPipeline`` (safety checker off) from a folder or a hub
    id (offline: the Hugging Face cache). A missing model raises the ``warp_inpaint`` baseline's
    ``FileNotFoundError`` naming it and the ``hf download`` command; a U-Net without the 9-channel
    inpainting input raises ``ValueError``."""
    require_inpaint_model(model)  # before anything loads: one clear error naming the model
    if str(model).startswith("opencv:"):
        raise ValueError(f"inpaint_baseline.pretrained={model!r} is a classical inpainter, nothing to fine-tune: "
                         f"give a StableDiffusionInpaintPipeline folder or hub id (default {DEFAULT_INPAINT_MODEL})")
    pipe = WarpInpaintMethod.load_inpainter(model, "cpu", dtype)
    channels = pipe.unet.config.in_channels
    if channels != INPAINT_UNET_CHANNELS:
        raise ValueError(f"inpaint_baseline.pretrained={model!r} has a U-Net with {channels} input channels, not the "
                         f"{INPAINT_UNET_CHANNELS} of an inpainting U-Net (latent + mask + masked-image latent): use an "
                         f"inpainting model such as {DEFAULT_INPAINT_MODEL}")
    return pipe


def tiny_inpaint_pipeline(seed: int = 0):
    """A tiny random ``StableDiffusionInpaintPipeline`` built without any download: a 9-channel
    two-level U-Net, a two-level VAE (factor 2), a one-layer CLIP text encoder with a four-token
    vocabulary, and the SD-inpainting schedule (PNDM, ε-prediction, scaled-linear betas)."""
    from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionInpaintPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    with tempfile.TemporaryDirectory() as tmp:  # the tokenizer reads its vocabulary from files
        (Path(tmp) / "vocab.json").write_text(json.dumps({"<|startoftext|>": 0, "<|endoftext|>": 1, "a</w>": 2,
                                                          "!": 3}))
        (Path(tmp) / "merges.txt").write_text("#version: 0.2\n")
        tokenizer = CLIPTokenizer(str(Path(tmp) / "vocab.json"), str(Path(tmp) / "merges.txt"), model_max_length=8)
    torch.manual_seed(seed)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=8, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
        max_position_embeddings=8, bos_token_id=0, eos_token_id=1, pad_token_id=1, projection_dim=16))
    unet = UNet2DConditionModel(
        sample_size=16, in_channels=INPAINT_UNET_CHANNELS, out_channels=4, layers_per_block=1,
        block_out_channels=(16, 32), norm_num_groups=8, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=16, attention_head_dim=4)
    vae = AutoencoderKL(block_out_channels=(8, 16), norm_num_groups=8, latent_channels=4, in_channels=3,
                        out_channels=3, down_block_types=("DownEncoderBlock2D",) * 2,
                        up_block_types=("UpDecoderBlock2D",) * 2, scaling_factor=0.18215)
    scheduler = PNDMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                              num_train_timesteps=1000, skip_prk_steps=True, steps_offset=1)
    pipe = StableDiffusionInpaintPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                          scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                          requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def export_inpaint_pipeline(pipe: Any, unet: torch.nn.Module, path: str | os.PathLike,
                            info: dict[str, Any] | None = None) -> Path:
    """``save_pretrained`` of ``pipe`` with ``unet`` in it, in float32 (safetensors weights, JSON
    configs, the tokenizer's text files; nothing pickled), plus :data:`INFO_FILE` (``info``: what
    it was fine-tuned from and with). The folder loads with
    ``StableDiffusionInpaintPipeline.from_pretrained`` and is what
    ``scripts/evaluate.py method=warp_inpaint inpaint.model=<folder>`` takes."""
    from diffusers import StableDiffusionInpaintPipeline

    path = Path(path)
    parts = {name: module for name, module in pipe.components.items()}
    parts["unet"] = unet
    out = StableDiffusionInpaintPipeline(**{k: parts[k] for k in (
        "vae", "text_encoder", "tokenizer", "unet", "scheduler")}, safety_checker=None, feature_extractor=None,
        requires_safety_checker=False)
    dtypes = {name: next(m.parameters()).dtype for name, m in out.components.items()
              if isinstance(m, torch.nn.Module) and any(True for _ in m.parameters())}
    try:
        for name, module in out.components.items():
            if name in dtypes:
                torch.nn.Module.to(module, dtype=torch.float32)
        out.save_pretrained(str(path), safe_serialization=True)
    finally:  # training continues with the frozen parts in their mixed-precision dtype
        for name, dtype in dtypes.items():
            torch.nn.Module.to(out.components[name], dtype=dtype)
    (path / INFO_FILE).write_text(json.dumps(info or {}, indent=2, sort_keys=True))
    return path
