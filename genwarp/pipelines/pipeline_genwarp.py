"""The GenWarp sampler as a diffusers pipeline.

``GenWarpPipeline(image, depth, src_intrinsics, tgt_intrinsics, src_to_tgt)`` turns one source view
(and its z-depth) into novel views:

1. resize inputs to the working resolution; build the warped conditions (one splat per view);
2. one semantic-preserver pass per source image fills a reference bank (keys/values projected
   once, then reused by every step and every target view of that source);
3. DDIM (any diffusers scheduler) with classifier-free guidance: the conditional branch sees the
   image prompt and the reference, the unconditional branch a zero prompt and no reference;
4. decode.

Several target views per source: pass ``src_to_tgt`` of shape (B, N, 4, 4) (and optionally
``tgt_intrinsics`` (B, N, 3, 3)); outputs then have shape (B, N, ...).

diffusers habits (issue 13): ``callback_on_step_end`` / ``callback_on_step_end_tensor_inputs``
(``["latents"]``), ``output_type`` ``"pt"`` / ``"np"`` / ``"pil"`` / ``"latent"``, PIL and numpy inputs,
``eta`` (DDIM), ``enable_vae_slicing`` / ``enable_vae_tiling``. What cannot work refuses loudly:
``enable_attention_slicing`` and xformers (they would replace the reference-attention processors),
and a call after any swap of a self-attention processor (``set_attn_processor`` on a U-Net) raises
``ReferenceProcessorsReplaced`` until :meth:`GenWarpPipeline.restore_reference_attention`.
``save_pretrained`` writes a model card; ``DiffusionPipeline.from_pretrained(export,
custom_pipeline=genwarp.pipelines.CUSTOM_PIPELINE, trust_remote_code=True)`` loads an export.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import PIL.Image
import torch
from diffusers import AutoencoderKL, DiffusionPipeline
from diffusers.callbacks import MultiPipelineCallbacks, PipelineCallback
from diffusers.schedulers import SchedulerMixin
from diffusers.utils import BaseOutput
from diffusers.utils.torch_utils import randn_tensor
from jaxtyping import Float
from torch import Tensor
from torch.nn import functional as F
from transformers import CLIPVisionModelWithProjection

from genwarp.geometry import build_conditions
from genwarp.models.codecs import (
    PixelUnshuffleCodec,
    codec_downsampling_factor,
    codec_latent_channels,
    decode_latents,
    default_latent_scale,
    encode_images,
)
from genwarp.models.genwarp_model import GenWarpModel
from genwarp.models.image_prompt import encode_image_prompt
from genwarp.models.reference_attention import (
    ReferenceRead,
    check_reference_processors,
    install_reference_processors,
    reference_bank,
)
from genwarp.models.release import load_release
from genwarp.pipelines.checks import (
    check_depth,
    check_image,
    check_intrinsics,
    check_resolution,
    check_rigid,
    check_tensor,
)
from genwarp.pipelines.inputs import array_to_tensor, depth_to_tensor, image_to_tensor
from genwarp.pipelines.model_card import write_export_extras

OUTPUT_TYPES = ("pt", "np", "pil", "latent")


@dataclass
class GenWarpPipelineOutput(BaseOutput):
    """Pipeline outputs, all at the working resolution (leading (B,) or (B, N) for N views).

    Attributes:
        images: generated target views in [0, 1], (…, 3, H, W) (a list of PIL images or a numpy
            array for ``output_type="pil"`` / ``"np"``; for ``output_type="latent"`` the denoised,
            still scaled latents (…, C, H/8, W/8), decoded by
            ``genwarp.models.decode_latents(pipe.codec, latents, pipe.latent_scale)``).
        warped: forward-warped source RGB, holes exactly 0, (…, 3, H, W).
        visibility: 1 where at least one source pixel landed, (…, 1, H, W).
        correspondence: target pixel (x', y') of every source pixel, −1e6 where invalid, (…, 2, H, W).
    """

    images: Tensor | list | np.ndarray
    warped: Tensor
    visibility: Tensor
    correspondence: Tensor


@dataclass
class GuidedStep:
    """What every denoising step of one pipeline call shares (built once per call).

    Attributes:
        features: condition features of the denoiser batch (both CFG halves when ``do_cfg``).
        prompt: image-prompt tokens of the denoiser batch.
        read: the reference read (``None`` when the model does not use reference attention).
        guidance_scale, do_cfg: classifier-free guidance.
        ref_index: the bank row of every denoiser item, on the host (a cache key for step runners).
    """

    features: Tensor
    prompt: Tensor
    read: ReferenceRead | None
    guidance_scale: float
    do_cfg: bool
    ref_index: tuple[int, ...] | None = None


@dataclass
class SamplingSpeed:
    """Opt-in sampling speed settings; the defaults are the plain path. See docs/performance.md
    and :func:`genwarp.perf.optimize_pipeline`, which sets these together with the model-level
    means (fused QKV, channels-last, ``torch.compile``).

    Attributes:
        reference_layout: ``"split"`` (two SDPA launches per layer when a batch mixes items with
            and without reference, e.g. the CFG halves) or ``"masked"`` (one launch with a key
            mask); see :class:`~genwarp.models.reference_attention.ReferenceRead`.
        step_runner: ``None`` or a callable ``(pipe, x, t, step) -> output`` that replaces
            :meth:`GenWarpPipeline.guided_prediction` inside the loop (CUDA graphs).
        sync_debug: raise on a host-synchronising CUDA call inside the denoising loop
            (``torch.cuda.set_sync_debug_mode("error")``); a check, not a speed-up.
    """

    reference_layout: str = "split"
    step_runner: Callable[..., Tensor] | None = None
    sync_debug: bool = False


@contextlib.contextmanager
def _cuda_sync_debug(enabled: bool) -> Iterator[None]:
    if not enabled:
        yield
        return
    previous = torch.cuda.get_sync_debug_mode()
    torch.cuda.set_sync_debug_mode("error")
    try:
        yield
    finally:
        torch.cuda.set_sync_debug_mode(previous)


class GenWarpPipeline(DiffusionPipeline):
    """Single image → novel views with GenWarp.

    Components: ``model`` (:class:`GenWarpModel`), ``codec`` (``AutoencoderKL`` or
    :class:`PixelUnshuffleCodec`), ``image_encoder`` (``CLIPVisionModelWithProjection`` or ``None``)
    and ``scheduler`` (any diffusers scheduler; the default is the release's DDIM).
    """

    model_cpu_offload_seq = "image_encoder->model->codec"
    _optional_components = ["image_encoder"]
    # What ``callback_on_step_end`` may read and replace (diffusers' convention).
    _callback_tensor_inputs = ["latents"]

    def __init__(
        self,
        model: GenWarpModel,
        codec: AutoencoderKL | PixelUnshuffleCodec,
        scheduler: SchedulerMixin,
        image_encoder: CLIPVisionModelWithProjection | None = None,
    ):
        super().__init__()
        self.register_modules(model=model, codec=codec, scheduler=scheduler, image_encoder=image_encoder)
        if model.config.image_prompt == "clip" and image_encoder is None:
            raise ValueError("the model was trained with a CLIP image prompt (image_prompt='clip'): pass image_encoder")
        if codec_latent_channels(codec) != model.latent_channels:
            raise ValueError(
                f"the codec makes {codec_latent_channels(codec)}-channel latents but the U-Nets take "
                f"{model.latent_channels}"
            )
        self.speed = SamplingSpeed()
        factor = codec_downsampling_factor(codec)
        if factor != model.condition_encoder.downsampling_factor:
            raise ValueError(
                f"the codec downsamples by {factor} but the condition encoder by "
                f"{model.condition_encoder.downsampling_factor}"
            )

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_release(
        cls,
        root: str | Path,
        variant: str = "multi1",
        torch_dtype: torch.dtype = torch.float32,
        device: str | torch.device = "cpu",
        strict: bool = True,
    ) -> GenWarpPipeline:
        """Load the authors' released checkpoints (``<root>/<variant>``, ``sd-vae-ft-mse``,
        ``image_encoder``) configured to sample exactly as the release's own code."""
        parts = load_release(root, variant, strict=strict)
        for module in (parts.model, parts.vae, parts.image_encoder):
            # nn.Module.to: diffusers' ModelMixin.to warns on every dtype cast.
            torch.nn.Module.to(module, device=device, dtype=torch_dtype)
        return cls(model=parts.model, codec=parts.vae, scheduler=parts.scheduler, image_encoder=parts.image_encoder)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, **kwargs) -> GenWarpPipeline:
        """Load one of our pipeline folders (``save_pretrained`` output, e.g. ``<run>/model``) or
        hub ids; a release root or a training run folder gets an error saying what to call instead."""
        path = Path(str(pretrained_model_name_or_path))
        if path.is_dir() and not (path / "model_index.json").is_file():
            if (path / "sd-vae-ft-mse").is_dir() or list(path.glob("*/denoising_unet.pth")):
                raise ValueError(f"{path} is in the authors' release layout: load it with "
                                 f"GenWarpPipeline.from_release({str(path)!r}, variant='multi1')")
            if (path / "model" / "model_index.json").is_file():
                raise ValueError(f"{path} is a training run folder: its exported pipeline is {path / 'model'}")
        return super().from_pretrained(pretrained_model_name_or_path, **kwargs)

    def save_pretrained(self, save_directory, safe_serialization: bool = True, variant: str | None = None,
                        push_to_hub: bool = False, training_data=None, metrics_file=None, **kwargs) -> None:
        """diffusers' ``save_pretrained`` plus a model card (``README.md``: YAML front matter, the
        pipeline configuration, training data, a pointer to a metrics file; see
        :mod:`genwarp.pipelines.model_card`). No code is written into the export.

        Args:
            training_data: what the model was trained on (a string or a dict such as the ``data``
                config group); default: read from ``<run>/config.yaml`` when ``save_directory`` is
                a training run's ``<run>/model``.
            metrics_file: a path (relative to the export) to point the card at; default: the first
                of ``results.json`` / ``results.md`` / ``final_metrics.json`` found in the export or
                its run folder.
        """
        if push_to_hub:
            raise NotImplementedError(
                "push_to_hub is not supported: save_pretrained(folder) first, then upload the folder "
                "(huggingface_hub.upload_folder); the model card is written into it"
            )
        super().save_pretrained(save_directory, safe_serialization=safe_serialization, variant=variant, **kwargs)
        write_export_extras(self, save_directory, training_data=training_data, metrics_file=metrics_file)

    # ------------------------------------------------------------------ properties
    @property
    def latent_scale(self) -> float:
        scale = self.model.config.latent_scale
        return float(scale) if scale is not None else default_latent_scale(self.codec)

    @property
    def vae_scale_factor(self) -> int:
        return codec_downsampling_factor(self.codec)

    # ------------------------------------------------------------------ diffusers memory switches
    def enable_attention_slicing(self, slice_size="auto"):
        """Not supported, loudly: GenWarp's attention is its reference-attention processors on
        PyTorch SDPA (already a memory-efficient kernel, no (L, L) score matrix kept); diffusers'
        sliced processors would replace them and drop the reference attention."""
        raise NotImplementedError(
            "enable_attention_slicing is not supported by GenWarpPipeline: its self-attention runs GenWarp's "
            "reference-attention processors on PyTorch SDPA (already memory-efficient), and sliced processors "
            "would replace them and drop the reference attention. To save memory: enable_vae_slicing(), "
            "enable_vae_tiling(), enable_model_cpu_offload(), fewer target views per call, or float16."
        )

    def disable_attention_slicing(self):
        """Nothing to disable (attention slicing is never enabled); kept for diffusers habits."""

    def enable_xformers_memory_efficient_attention(self, attention_op=None):
        """Not supported, loudly: xformers processors would replace the reference attention."""
        raise NotImplementedError(
            "enable_xformers_memory_efficient_attention is not supported by GenWarpPipeline: xformers processors "
            "would replace GenWarp's reference-attention processors (which already run PyTorch SDPA, the same "
            "memory-efficient kernels) and drop the reference attention."
        )

    def _vae(self, what: str) -> AutoencoderKL:
        if not isinstance(self.codec, AutoencoderKL):
            raise ValueError(f"{what} needs a VAE codec; this pipeline's codec is {type(self.codec).__name__} "
                             "(a reshape without activations to slice or tile)")
        return self.codec

    def enable_vae_slicing(self):
        """Encode/decode the VAE batch one image at a time (``AutoencoderKL.enable_slicing``); the
        same images, less peak memory for many views."""
        self._vae("enable_vae_slicing").enable_slicing()

    def disable_vae_slicing(self):
        self._vae("disable_vae_slicing").disable_slicing()

    def enable_vae_tiling(self):
        """Encode/decode in overlapping tiles (``AutoencoderKL.enable_tiling``): large resolutions
        in bounded memory; images larger than the VAE's tile change slightly (blended seams)."""
        self._vae("enable_vae_tiling").enable_tiling()

    def disable_vae_tiling(self):
        self._vae("disable_vae_tiling").disable_tiling()

    def restore_reference_attention(self) -> None:
        """Re-install GenWarp's reference processors on both U-Nets (after a ``set_attn_processor``
        or another processor swap made sampling refuse to run). Cross-attentions get plain SDPA."""
        install_reference_processors(self.model.preserver, "writer")
        install_reference_processors(self.model.denoiser, "reader")

    def check_reference_attention(self) -> None:
        """Raise if a processor swap removed the reference attention from either U-Net (see
        :func:`genwarp.models.reference_attention.check_reference_processors`)."""
        if self.model.config.reference_attention:
            check_reference_processors(self.model.preserver, "writer", "pipe.model.preserver")
            check_reference_processors(self.model.denoiser, "reader", "pipe.model.denoiser")

    # ------------------------------------------------------------------ diffusers-style properties
    # Set by each call (None before the first), for callbacks.
    @property
    def guidance_scale(self) -> float | None:
        return getattr(self, "_guidance_scale", None)

    @property
    def do_classifier_free_guidance(self) -> bool:
        return self.guidance_scale is not None and self.guidance_scale != 1.0

    @property
    def num_timesteps(self) -> int | None:
        return getattr(self, "_num_timesteps", None)

    @property
    def interrupt(self) -> bool:
        """Set ``pipe._interrupt = True`` in a ``callback_on_step_end`` to stop after that step."""
        return getattr(self, "_interrupt", False)

    def prepare_extra_step_kwargs(self, generator, eta: float) -> dict:
        """``eta`` (DDIM's stochasticity; 0 = deterministic DDIM) and ``generator`` for the schedulers
        whose ``step`` takes them. A non-zero ``eta`` for a scheduler without one is an error (diffusers
        would drop it silently)."""
        params = set(inspect.signature(self.scheduler.step).parameters)
        kwargs = {}
        if "eta" in params:
            kwargs["eta"] = float(eta)
        elif eta != 0:
            raise ValueError(f"eta={eta} needs a scheduler with an eta (DDIMScheduler); "
                             f"{type(self.scheduler).__name__}.step has none")
        if "generator" in params:
            kwargs["generator"] = generator
        return kwargs

    # ------------------------------------------------------------------ steps
    def check_inputs(self, image, depth, src_intrinsics, tgt_intrinsics, src_to_tgt, height, width,
                     num_inference_steps, guidance_scale, latents, depth_mask=None, eta: float = 0.0,
                     callback_on_step_end=None, callback_on_step_end_tensor_inputs=None,
                     output_type: str = "pt") -> int:
        """Validate every argument; returns the number of target views per source (N)."""
        if output_type not in OUTPUT_TYPES:
            raise ValueError(f"output_type must be one of {', '.join(map(repr, OUTPUT_TYPES))}, got {output_type!r}")
        if callback_on_step_end is not None and not callable(callback_on_step_end):
            raise ValueError(f"callback_on_step_end must be callable (pipe, step, timestep, callback_kwargs) -> dict, "
                             f"got {type(callback_on_step_end).__name__}")
        unknown = [k for k in (callback_on_step_end_tensor_inputs or []) if k not in self._callback_tensor_inputs]
        if unknown:
            raise ValueError(f"callback_on_step_end_tensor_inputs {unknown} are not available; "
                             f"GenWarpPipeline offers {self._callback_tensor_inputs}")
        if not isinstance(eta, (int, float)) or not 0 <= eta <= 1:
            raise ValueError(f"eta must be a number in [0, 1] (0 = deterministic DDIM), got {eta!r}")
        check_image("image", image)
        check_depth("depth", depth, image, depth_mask)
        b = image.shape[0]
        check_tensor("src_intrinsics", src_intrinsics, (3,), (3, 3))
        check_intrinsics("src_intrinsics", src_intrinsics)
        check_tensor("src_to_tgt", src_to_tgt, (3, 4), (4, 4))
        check_rigid("src_to_tgt", src_to_tgt)
        n = src_to_tgt.shape[1] if src_to_tgt.ndim == 4 else 1
        check_tensor("tgt_intrinsics", tgt_intrinsics, (3, 4), (3, 3))
        check_intrinsics("tgt_intrinsics", tgt_intrinsics)
        for name, value in (("src_intrinsics", src_intrinsics), ("src_to_tgt", src_to_tgt),
                            ("tgt_intrinsics", tgt_intrinsics)):
            if value.shape[0] != b:
                raise ValueError(f"{name} has batch size {value.shape[0]} but image has {b}")
        if tgt_intrinsics.ndim == 4 and (src_to_tgt.ndim != 4 or tgt_intrinsics.shape[1] != n):
            raise ValueError(
                f"tgt_intrinsics of shape {tuple(tgt_intrinsics.shape)} needs src_to_tgt of shape (B, N, 4, 4) "
                f"with the same N, got {tuple(src_to_tgt.shape)}"
            )
        check_resolution(height, width, self.vae_scale_factor)
        if not isinstance(num_inference_steps, int) or num_inference_steps < 1:
            raise ValueError(f"num_inference_steps must be a positive integer, got {num_inference_steps!r}")
        if guidance_scale < 0:
            raise ValueError(f"guidance_scale must be ≥ 0, got {guidance_scale}")
        if latents is not None:
            shape = (b * n, self.model.latent_channels, height // self.vae_scale_factor, width // self.vae_scale_factor)
            if tuple(latents.shape) not in (shape, (b, n) + shape[1:]):
                raise ValueError(f"latents must have shape {shape} (or (B, N, ...)), got {tuple(latents.shape)}")
        return n

    def resize_inputs(
        self, image: Float[Tensor, "b 3 h0 w0"], depth: Float[Tensor, "b 1 h0 w0"], height: int, width: int
    ) -> tuple[Float[Tensor, "b 3 h w"], Float[Tensor, "b 1 h w"]]:
        """To the working resolution. Normalised intrinsics are unchanged (non-square inputs are
        squashed, as the release does)."""
        if image.shape[-2:] != (height, width):
            if self.model.config.resize_mode == "nearest":
                image = F.interpolate(image, size=(height, width))
            else:
                image = F.interpolate(image, size=(height, width), mode="bilinear", antialias=True,
                                      align_corners=False).clamp(0, 1)
        if depth.shape[-2:] != (height, width):
            depth = F.interpolate(depth, size=(height, width))  # nearest: no depth mixing across edges
        return image, depth

    def prepare_latents(self, shape: tuple[int, ...], dtype, device, generator, latents: Tensor | None) -> Tensor:
        if latents is None:
            latents = randn_tensor(shape, generator=generator, device=device, dtype=torch.float32)
        latents = latents.reshape(shape).to(device=device, dtype=dtype)
        return latents * self.scheduler.init_noise_sigma

    def _to_output_type(self, images: Tensor, output_type: str):
        if output_type == "pt":
            return images
        array = images.float().permute(0, 2, 3, 1).cpu().numpy()
        if output_type == "np":
            return array
        if output_type == "pil":
            return [PIL.Image.fromarray((a * 255).round().astype(np.uint8)) for a in array]
        raise ValueError(f"output_type must be one of {', '.join(map(repr, OUTPUT_TYPES))}, got {output_type!r}")

    # ------------------------------------------------------------------ the denoising loop
    def guided_prediction(self, x: Tensor, t: Tensor, step: GuidedStep) -> Tensor:
        """The classifier-free-guided model output for latents ``x`` (already scaled by the
        scheduler) at the device timestep ``t``: both CFG halves in one denoiser batch."""
        model_in = torch.cat([x, x]) if step.do_cfg else x
        out = self.model.predict(model_in, t, step.features, step.prompt, step.read)
        if step.do_cfg:
            uncond, cond = out.chunk(2)
            out = uncond + step.guidance_scale * (cond - uncond)
        return out

    def denoise(self, x: Tensor, step: GuidedStep, extra_step_kwargs: dict | None = None,
                callback_on_step_end: Callable | None = None,
                callback_on_step_end_tensor_inputs: list[str] | tuple[str, ...] = ("latents",)) -> Tensor:
        """Run the scheduler's steps from ``x`` (the scheduler's timesteps must be set).

        ``extra_step_kwargs`` go to ``scheduler.step`` (``eta``, ``generator``);
        ``callback_on_step_end(pipe, i, t, {"latents": x})`` runs after every step and may return
        replaced latents; setting ``pipe._interrupt = True`` stops after the current step.

        Nothing in here reads device values on the host (tests/perf run it on the meta device,
        where any such read raises); ``speed.step_runner`` may replace the per-step model call
        (e.g. :class:`genwarp.perf.CUDAGraphStepRunner`), ``speed.sync_debug`` makes CUDA raise on
        a synchronising call inside the loop.
        """
        timesteps = self.scheduler.timesteps
        t_device = timesteps.to(x.device)  # one copy for all steps
        runner = self.speed.step_runner
        extra_step_kwargs = extra_step_kwargs or {}
        self._interrupt = False
        with _cuda_sync_debug(self.speed.sync_debug and x.device.type == "cuda"):
            for i, t in enumerate(self.progress_bar(timesteps)):
                model_in = self.scheduler.scale_model_input(x, t)
                if runner is None:
                    out = self.guided_prediction(model_in, t_device[i], step)
                else:
                    out = runner(self, model_in, t_device[i], step)
                x = self.scheduler.step(out, t, x, **extra_step_kwargs, return_dict=False)[0]
                if callback_on_step_end is not None:
                    outputs = callback_on_step_end(self, i, t, {"latents": x} if "latents" in
                                                   callback_on_step_end_tensor_inputs else {})
                    x = (outputs or {}).get("latents", x)
                if self._interrupt:
                    break
        return x

    # ------------------------------------------------------------------ sampling
    @torch.no_grad()
    def __call__(
        self,
        image: Float[Tensor, "b 3 h0 w0"] | PIL.Image.Image | list[PIL.Image.Image] | np.ndarray,
        depth: Float[Tensor, "b 1 h0 w0"] | np.ndarray,
        src_intrinsics: Float[Tensor, "b 3 3"],
        tgt_intrinsics: Float[Tensor, "b 3 3"] | Float[Tensor, "b n 3 3"],
        src_to_tgt: Float[Tensor, "b 4 4"] | Float[Tensor, "b n 4 4"],
        height: int = 512,
        width: int = 512,
        num_inference_steps: int = 20,
        guidance_scale: float = 3.5,
        latents: Tensor | None = None,
        generator: torch.Generator | None = None,
        near: float | Tensor = 0.01,
        far: float | Tensor = 100.0,
        depth_mask: Tensor | None = None,
        output_type: str = "pt",
        return_dict: bool = True,
        eta: float = 0.0,
        callback_on_step_end: Callable | PipelineCallback | MultiPipelineCallbacks | None = None,
        callback_on_step_end_tensor_inputs: list[str] | None = None,
    ) -> GenWarpPipelineOutput | tuple:
        """Generate the target view(s).

        Args:
            image: source RGB in [0, 1] (B, 3, H, W); or a PIL image / list of PIL images, or a numpy
                array (H, W, 3) / (B, H, W, 3), uint8 or float in [0, 1].
            depth: source z-depth (same size as ``image``), in the units of ``src_to_tgt``; a tensor
                (B, 1, H, W) or a float numpy array (H, W) / (B, H, W) / (B, 1, H, W). Cameras may be
                numpy arrays too.
            src_intrinsics / tgt_intrinsics: normalised intrinsics (fx/W, fy/H, cx/W, cy/H).
            src_to_tgt: rigid transform from source-camera to target-camera coordinates (OpenCV
                axes), (B, 4, 4) or (B, N, 4, 4) for N views per source.
            height, width: working resolution (multiples of the codec factor).
            num_inference_steps, guidance_scale: sampler settings (guidance 1 skips the
                unconditional branch).
            latents: initial noise (B·N, C, H/8, W/8) or (B, N, …); drawn with ``generator`` if None.
            near, far: clip planes of the release warp's importance weights (release models only
                use them for weighting; points closer than ``near`` are dropped).
            depth_mask: optional bool (B, 1, h, w); pixels where it is False have unknown depth
                (e.g. sensor holes) and are not warped.
            output_type: ``"pt"`` (tensor), ``"np"``, ``"pil"`` or ``"latent"`` (the denoised latents,
                not decoded; the codec is not run).
            eta: DDIM's η (0: deterministic DDIM, as the release; 1: DDPM-like). Schedulers without
                an ``eta`` refuse a non-zero value.
            callback_on_step_end: ``f(pipe, step_index, timestep, callback_kwargs) -> dict`` after every
                denoising step (or a diffusers ``PipelineCallback`` / ``MultiPipelineCallbacks``);
                ``callback_kwargs`` holds the tensors named in ``callback_on_step_end_tensor_inputs``
                (default and only choice: ``["latents"]``); a returned ``"latents"`` replaces them.
                ``pipe._interrupt = True`` stops after the current step.
        """
        image, depth = image_to_tensor(image), depth_to_tensor(depth)
        src_intrinsics, tgt_intrinsics, src_to_tgt, depth_mask, latents = (
            array_to_tensor(v) for v in (src_intrinsics, tgt_intrinsics, src_to_tgt, depth_mask, latents)
        )
        if isinstance(callback_on_step_end, (PipelineCallback, MultiPipelineCallbacks)):
            callback_on_step_end_tensor_inputs = callback_on_step_end.tensor_inputs
        if callback_on_step_end_tensor_inputs is None:
            callback_on_step_end_tensor_inputs = list(self._callback_tensor_inputs)
        n = self.check_inputs(image, depth, src_intrinsics, tgt_intrinsics, src_to_tgt, height, width,
                              num_inference_steps, guidance_scale, latents, depth_mask, eta,
                              callback_on_step_end, callback_on_step_end_tensor_inputs, output_type)
        self.check_reference_attention()
        multi_view = src_to_tgt.ndim == 4
        device = self._execution_device
        dtype = self.model.dtype
        cfg = self.model.config
        b = image.shape[0]

        depth = depth.to(device, torch.float32)
        if depth_mask is not None:  # unknown depth → 0, which the warp never splats
            depth = torch.where(depth_mask.to(device), depth, torch.zeros_like(depth))
        image, depth = self.resize_inputs(image.to(device, torch.float32), depth, height, width)
        # Per-view copies of the source (item i·N + j = view j of source i).
        src_to_tgt = src_to_tgt.to(device, torch.float32).reshape(b * n, 4, 4)
        tgt_k = tgt_intrinsics.to(device, torch.float32)
        tgt_k = tgt_k.reshape(b * n, 3, 3) if tgt_k.ndim == 4 else tgt_k.repeat_interleave(n, dim=0)
        src_k = src_intrinsics.to(device, torch.float32)
        near_t = torch.as_tensor(near, device=device, dtype=torch.float32)
        far_t = torch.as_tensor(far, device=device, dtype=torch.float32)
        if near_t.ndim == 1:
            near_t, far_t = near_t.repeat_interleave(n), far_t.repeat_interleave(n)
        conds = build_conditions(
            cfg.condition_kind,
            image.repeat_interleave(n, dim=0),
            depth.repeat_interleave(n, dim=0),
            src_k.repeat_interleave(n, dim=0),
            tgt_k,
            src_to_tgt,
            normalization=cfg.coordinate_normalization,
            num_frequencies=cfg.num_frequencies,
            importance=cfg.warp_importance,
            near=near_t,
            far=far_t,
        )

        # Source side, once per source image.
        ref_latents = encode_images(self.codec, image, self.latent_scale).to(dtype)
        prompt = encode_image_prompt(
            self.image_encoder if cfg.image_prompt == "clip" else None,
            image, cfg.clip_preprocessing, self.model.cross_attention_dim,
        ).to(dtype)
        src_features = self.model.encode_condition(conds.source[::n])
        tgt_features = self.model.encode_condition(conds.target)

        hl, wl = height // self.vae_scale_factor, width // self.vae_scale_factor
        x = self.prepare_latents((b * n, self.model.latent_channels, hl, wl), dtype, device, generator, latents)
        # Timesteps stay on the host: the schedulers' per-step arithmetic then reads host values
        # (no device→host copy per step); the U-Net gets device copies made once in denoise().
        self.scheduler.set_timesteps(num_inference_steps, device="cpu")
        self._num_timesteps = len(self.scheduler.timesteps)
        self._guidance_scale = float(guidance_scale)
        extra_step_kwargs = self.prepare_extra_step_kwargs(generator, eta)

        view_source = torch.arange(b).repeat_interleave(n).tolist()  # bank row of each view
        do_cfg = guidance_scale != 1.0
        if do_cfg:
            uncond_rows = view_source if cfg.uncond_uses_reference else [-1] * (b * n)
            ref_index = uncond_rows + view_source
            step_prompt = torch.cat([torch.zeros_like(prompt[view_source]), prompt[view_source]])
            step_features = torch.cat([tgt_features, tgt_features])
        else:
            ref_index, step_prompt, step_features = view_source, prompt[view_source], tgt_features

        with reference_bank(self.model.reference_round_dtype) as bank:
            read = None
            if cfg.reference_attention:
                self.model.write_reference(bank, ref_latents, src_features, prompt)
                self.model.project_reference(bank)
                read = ReferenceRead.create(bank, ref_index, layout=self.speed.reference_layout).to(device)
            step = GuidedStep(features=step_features, prompt=step_prompt, read=read,
                              guidance_scale=float(guidance_scale), do_cfg=do_cfg,
                              ref_index=tuple(ref_index) if read is not None else None)
            x = self.denoise(x, step, extra_step_kwargs, callback_on_step_end, callback_on_step_end_tensor_inputs)

        images = x if output_type == "latent" else decode_latents(self.codec, x, self.latent_scale).float()
        warped, visibility, correspondence = conds.warped_image, conds.visibility, conds.correspondence
        if multi_view:
            images, warped, visibility, correspondence = (
                t.reshape(b, n, *t.shape[1:]) for t in (images, warped, visibility, correspondence)
            )
        if output_type not in ("pt", "latent"):
            flat = images.reshape(-1, *images.shape[-3:])
            images = self._to_output_type(flat, output_type)
        self.maybe_free_model_hooks()
        if not return_dict:
            return images, warped, visibility, correspondence
        return GenWarpPipelineOutput(images=images, warped=warped, visibility=visibility,
                                     correspondence=correspondence)


__all__ = ["GenWarpPipeline", "GenWarpPipelineOutput", "GuidedStep", "SamplingSpeed"]
