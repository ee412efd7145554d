"""Novel-view methods the evaluator can run, behind one small interface.

``method.generate(batch, generators) -> MethodOutput`` takes a collated batch of
:class:`genwarp.data.Sample` dicts and one ``torch.Generator`` per pair (seeded per pair, so a
pair's output does not depend on its batch) and returns the target views in [0, 1] at the
samples' resolution.

* ``genwarp`` — :class:`GenWarpMethod`: our exported checkpoints
  (``GenWarpPipeline.from_pretrained``) or the authors' release (``from_release``).
* ``warp_only`` — :class:`WarpOnlyMethod`: the source forward-splatted with its depth, holes black.
* ``warp_inpaint`` — :class:`WarpInpaintMethod`: the warping-and-inpainting baseline
  (LucidDreamer-style): the source depth is z-buffered into the target view, every target pixel is
  inverse-warped into the source with an occlusion test, and what fails is filled by a diffusers
  ``StableDiffusionInpaintPipeline``.
* ``oracle`` — :class:`OracleMethod`: the ground-truth target (checks the scoring path end to end).

Methods are chosen by name from :data:`METHODS` (:func:`build_method`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor
from torch.nn import functional as F

from genwarp.geometry import forward_warp, prepare_splat, relative_transform, unproject
from genwarp.geometry.projection import project, transform_points
from genwarp.geometry.cameras import invert_rigid

__all__ = [
    "METHODS",
    "GenWarpMethod",
    "Method",
    "MethodOutput",
    "OpenCVInpainter",
    "OracleMethod",
    "WarpInpaintMethod",
    "WarpOnlyMethod",
    "build_method",
    "fill_missing_depth",
    "inverse_warp",
    "zbuffer_depth",
]


@dataclass
class MethodOutput:
    """What a method returns for a batch: images (B, 3, H, W) in [0, 1] and optional extras
    (``warped`` image, ``visibility`` of the method's own warp) saved next to them."""

    images: Float[Tensor, "b 3 h w"]
    extras: dict[str, Tensor] = field(default_factory=dict)


class Method:
    """Interface of an evaluated method."""

    name: str = "method"

    def generate(self, batch: dict[str, Any], generators: list[torch.Generator]) -> MethodOutput:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """What identifies this method's outputs (saved with the results)."""
        return {"method": self.name}


def _cameras(batch: dict[str, Any], device: torch.device) -> tuple[Tensor, Tensor, Tensor]:
    src_k = batch["src_intrinsics"].to(device, torch.float32)
    tgt_k = batch["tgt_intrinsics"].to(device, torch.float32)
    src_to_tgt = relative_transform(batch["src_c2w"].to(device, torch.float64),
                                    batch["tgt_c2w"].to(device, torch.float64)).float()
    return src_k, tgt_k, src_to_tgt


def _source_depth(batch: dict[str, Any], device: torch.device) -> Tensor:
    depth = batch["src_depth"].to(device, torch.float32)
    valid = batch.get("src_depth_valid")
    if valid is not None:
        depth = torch.where(valid.to(device), depth, torch.zeros_like(depth))
    if not bool((depth > 0).any()):
        raise ValueError(
            f"the batch has no source depth (depth_source={batch.get('depth_source')}): evaluate with "
            "depth from the dataset, a depth cache or an estimator (dataset.depth=...)"
        )
    return depth


def fill_missing_depth(depth: Float[Tensor, "b 1 h w"], max_iters: int = 64) -> Float[Tensor, "b 1 h w"]:
    """Fill non-positive / non-finite depth from the nearest valid neighbours (3×3 growth), then
    each image's median — for samplers that need a depth at every pixel (sensor holes)."""
    valid = torch.isfinite(depth) & (depth > 0)
    out = torch.where(valid, depth, torch.zeros_like(depth))
    for _ in range(max_iters):
        if bool(valid.all()):
            break
        s = F.avg_pool2d(out, 3, 1, 1, count_include_pad=False)
        c = F.avg_pool2d(valid.float(), 3, 1, 1, count_include_pad=False)
        grow = ~valid & (c > 0)
        out = torch.where(grow, s / c.clamp_min(1e-12), out)
        valid = valid | grow
    if not bool(valid.all()):
        med = torch.stack([d[v].median() if v.any() else d.new_tensor(1.0) for d, v in zip(out, valid)])
        out = torch.where(valid, out, med.view(-1, 1, 1, 1).expand_as(out))
    return out


# -------------------------------------------------------------------------------------- oracle
class OracleMethod(Method):
    """Returns the ground-truth target: PSNR 100 dB, SSIM 1, LPIPS 0 (after 8-bit saving)."""

    name = "oracle"

    def generate(self, batch, generators):
        return MethodOutput(batch["tgt_image"].float().clamp(0, 1))


# ------------------------------------------------------------------------------------ warp only
class WarpOnlyMethod(Method):
    """The source forward-warped (softmax z-splatting) with its depth; holes stay black."""

    name = "warp_only"

    def __init__(self, device: str | torch.device = "cpu", importance: str = "inverse_depth"):
        self.device = torch.device(device)
        self.importance = importance

    def generate(self, batch, generators):
        src_k, tgt_k, src_to_tgt = _cameras(batch, self.device)
        image = batch["src_image"].to(self.device, torch.float32)
        warped, vis = forward_warp(image, _source_depth(batch, self.device), src_k, tgt_k, src_to_tgt,
                                   importance=self.importance)
        return MethodOutput(warped.clamp(0, 1).cpu(), {"visibility": vis.cpu()})

    def describe(self):
        return {"method": self.name, "importance": self.importance}


# ---------------------------------------------------------------------------- warp and inpaint
def zbuffer_depth(
    depth: Float[Tensor, "b 1 h w"],
    src_intrinsics: Float[Tensor, "b 3 3"],
    tgt_intrinsics: Float[Tensor, "b 3 3"],
    src_to_tgt: Float[Tensor, "b 4 4"],
    crack_fill: int = 1,
) -> tuple[Float[Tensor, "b 1 h w"], Float[Tensor, "b 1 h w"]]:
    """Render the source depth as a point cloud into the target: nearest-pixel z-buffer (the
    smallest z' wins), then ``crack_fill`` rounds of filling empty pixels with the nearest depth
    of their 3×3 neighbourhood (closes the one-pixel cracks of magnified surfaces).

    Returns ``(target_depth, covered)``, depth 0 where uncovered.
    """
    b, _, h, w = depth.shape
    splat = prepare_splat(depth, src_intrinsics, tgt_intrinsics, src_to_tgt)
    xy = splat.target_xy.round()
    inside = (xy[:, 0] >= 0) & (xy[:, 0] < w) & (xy[:, 1] >= 0) & (xy[:, 1] < h)
    ok = (splat.valid[:, 0] & inside).reshape(b, -1)
    idx = (xy[:, 1].clamp(0, h - 1) * w + xy[:, 0].clamp(0, w - 1)).long().reshape(b, -1)
    z = splat.target_depth.reshape(b, -1).float()
    big = torch.finfo(torch.float32).max
    zbuf = torch.full((b, h * w), big, device=depth.device)
    zbuf.scatter_reduce_(1, torch.where(ok, idx, 0), torch.where(ok, z, big), reduce="amin")
    zbuf = zbuf.reshape(b, 1, h, w)
    covered = zbuf < big
    for _ in range(crack_fill):
        neighbour = -F.max_pool2d(torch.where(covered, -zbuf, -big), 3, 1, 1)
        grow = ~covered & (neighbour < big)
        zbuf = torch.where(grow, neighbour, zbuf)
        covered = covered | grow
    return torch.where(covered, zbuf, torch.zeros_like(zbuf)), covered.float()


def inverse_warp(
    src_image: Float[Tensor, "b 3 h w"],
    src_depth: Float[Tensor, "b 1 h w"],
    tgt_depth: Float[Tensor, "b 1 h w"],
    src_intrinsics: Float[Tensor, "b 3 3"],
    tgt_intrinsics: Float[Tensor, "b 3 3"],
    src_to_tgt: Float[Tensor, "b 4 4"],
    occlusion_tolerance: float = 0.05,
) -> tuple[Float[Tensor, "b 3 h w"], Float[Tensor, "b 1 h w"]]:
    """Sample the source at every target pixel with a target depth (backward warping) and keep
    the pixels that pass the occlusion test.

    A target pixel is lifted with ``tgt_depth``, moved into the source camera and projected; it is
    kept when it lands inside the source image in front of the camera and its source-frame depth
    agrees with the source depth there within ``occlusion_tolerance`` (relative) — otherwise
    something else occludes it in the source view.

    Returns ``(image, valid)``: bilinearly sampled source colours (0 where invalid) and the mask.
    """
    b, _, h, w = tgt_depth.shape
    pts = transform_points(invert_rigid(src_to_tgt.double()).float(), unproject(tgt_depth.float(), tgt_intrinsics))
    xy, z = project(pts, src_intrinsics, src_image.shape[-2], src_image.shape[-1])
    hs, ws = src_image.shape[-2:]
    grid = torch.stack([(xy[:, 0] + 0.5) / ws * 2 - 1, (xy[:, 1] + 0.5) / hs * 2 - 1], dim=-1)
    grid = torch.nan_to_num(grid, nan=-2.0, posinf=-2.0, neginf=-2.0)
    sampled = F.grid_sample(src_image.float(), grid, mode="bilinear", padding_mode="border", align_corners=False)
    d_src = F.grid_sample(src_depth.float(), grid, mode="nearest", padding_mode="border", align_corners=False)
    inside = (grid.abs() <= 1).all(dim=-1, keepdim=True).permute(0, 3, 1, 2)
    consistent = (z - d_src).abs() <= occlusion_tolerance * d_src
    valid = (tgt_depth > 0) & inside & (z > 0) & (d_src > 0) & consistent
    return torch.where(valid, sampled, torch.zeros_like(sampled)), valid.float()


DEFAULT_INPAINT_MODEL = "stable-diffusion-v1-5/stable-diffusion-inpainting"  # the maintained mirror of runwayml/…
HOLE_FILTERS = ("luciddreamer", "dilate")


def _missing_model_error(model: str, err: Exception) -> FileNotFoundError:
    hub = not Path(str(model)).exists() and str(model).count("/") == 1
    return FileNotFoundError(
        f"could not load the inpainting model {model!r}: {err}. The warp_inpaint baseline needs a diffusers "
        "StableDiffusionInpaintPipeline folder on disk or in the Hugging Face cache (default "
        f"{DEFAULT_INPAINT_MODEL}, the maintained mirror of runwayml/stable-diffusion-inpainting; with HF_HUB_OFFLINE=1 "
        "a hub id resolves from the local cache): "
        + (f"on a machine with internet run `hf download {model}` and copy the Hugging Face cache here, or "
           f"`hf download {model} --local-dir DIR` and pass inpaint.model=DIR." if hub else "pass inpaint.model=<folder>.")
    )


def require_inpaint_model(model: str | os.PathLike) -> str:
    """Check that inpainting model ``model`` can be loaded, without loading it (a folder with
    ``model_index.json``, a cached hub id, or — online — a downloadable one; ``opencv:*`` always);
    raises the :func:`_missing_model_error` naming it and how to get it."""
    model = str(model)
    if model.startswith("opencv:"):
        return model
    if Path(model).is_dir():
        if not (Path(model) / "model_index.json").is_file():
            raise _missing_model_error(model, FileNotFoundError("the folder has no model_index.json"))
        return model
    if model.count("/") != 1 or Path(model).suffix:
        raise _missing_model_error(model, FileNotFoundError("neither a folder nor a hub id 'owner/name'"))
    from huggingface_hub import hf_hub_download, try_to_load_from_cache

    cached = try_to_load_from_cache(model, "model_index.json")
    if isinstance(cached, str):
        return cached
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes"):
        raise _missing_model_error(model, FileNotFoundError("not in the Hugging Face cache and HF_HUB_OFFLINE is set"))
    try:
        return hf_hub_download(model, "model_index.json")
    except Exception as err:  # no network, unknown repo
        raise _missing_model_error(model, err) from err


def check_hole_filter(hole_filter: str, mask_dilation: int | None = None, hole_max_filter: int | None = None,
                      hole_min_filter: int | None = None) -> None:
    """Refuse a hole-mask setting the chosen ``hole_filter`` would ignore (or an invalid one)."""
    if hole_filter not in HOLE_FILTERS:
        raise ValueError(f"inpaint.hole_filter={hole_filter!r} is not one of {list(HOLE_FILTERS)}")
    if hole_filter == "luciddreamer" and mask_dilation is not None:
        raise ValueError("inpaint.mask_dilation is used by inpaint.hole_filter=dilate only (the luciddreamer mask "
                         "uses hole_max_filter / hole_min_filter)")
    if hole_filter == "dilate" and (hole_max_filter is not None or hole_min_filter is not None):
        raise ValueError("inpaint.hole_max_filter / hole_min_filter are used by inpaint.hole_filter=luciddreamer only")
    for name, v in (("hole_max_filter", hole_max_filter), ("hole_min_filter", hole_min_filter)):
        if v is not None and (v < 1 or v % 2 == 0):
            raise ValueError(f"inpaint.{name} must be an odd size >= 1, got {v}")
    if mask_dilation is not None and mask_dilation < 0:
        raise ValueError(f"inpaint.mask_dilation must be >= 0, got {mask_dilation}")


def _max_filter(x: Tensor, size: int) -> Tensor:
    """size×size maximum filter (odd size, borders as scipy's 'reflect' mode gives for max/min)."""
    return F.max_pool2d(x, size, 1, size // 2)


def _min_filter(x: Tensor, size: int) -> Tensor:
    return -F.max_pool2d(-x, size, 1, size // 2)


class OpenCVInpainter:
    """A classical (non-generative) inpainter with the diffusers inpainting call signature:
    ``cv2.inpaint`` (Telea or Navier-Stokes). Selected with ``model="opencv:telea"`` /
    ``"opencv:ns"``; a stand-in where no diffusion inpainting weights are available, and labelled
    as such in results (``method.json`` records the model)."""

    def __init__(self, algorithm: str = "telea", radius: int = 3):
        if algorithm not in ("telea", "ns"):
            raise ValueError(f"OpenCV inpainting algorithm must be 'telea' or 'ns', got {algorithm!r}")
        self.algorithm, self.radius = algorithm, int(radius)

    def __call__(self, *, image: Tensor, mask_image: Tensor, output_type: str = "pt", **_: Any):
        import cv2
        import numpy as np

        flag = cv2.INPAINT_TELEA if self.algorithm == "telea" else cv2.INPAINT_NS
        out = []
        for img, mask in zip(image, mask_image):
            arr = (img.float().clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255).round().astype(np.uint8)
            m = (mask[0].cpu().numpy() > 0.5).astype(np.uint8) * 255
            res = cv2.inpaint(np.ascontiguousarray(arr), m, self.radius, flag)
            out.append(torch.from_numpy(res).permute(2, 0, 1).float() / 255.0)

        class _Out:
            images = torch.stack(out)

        return _Out()


class WarpInpaintMethod(Method):
    """Warping-and-inpainting baseline (see the module docstring).

    Args:
        inpainter: a diffusers ``StableDiffusionInpaintPipeline`` (or anything with its call
            signature) — or ``None`` to load ``model`` with :meth:`load_inpainter`.
        model: folder / hub id of the inpainting pipeline (used when ``inpainter`` is None), or
            ``opencv:telea`` / ``opencv:ns`` for the classical :class:`OpenCVInpainter`.
        prompt, negative_prompt: text prompts of the inpainter.
        num_inference_steps, guidance_scale: inpainter settings.
        inpaint_size: the inpainter's working resolution (the warped view is resized to it and the
            result back; SD inpainting models are trained at 512 / 512-768).
        hole_filter: how the hole mask is made from the pixels the inverse warp fills
            (``valid``): ``"luciddreamer"`` (default; LucidDreamer's mask: a ``hole_max_filter``²
            maximum filter of the warped pixels closes small gaps, then a ``hole_min_filter``²
            minimum filter erodes the result, dropping the unreliable rim; a pixel is kept when it
            is in that region *and* has a warped colour, everything else is inpainted) or
            ``"dilate"`` (the holes grown by ``mask_dilation`` pixels).
        hole_max_filter, hole_min_filter: LucidDreamer's 9 and 11 (odd sizes).
        mask_dilation: ``hole_filter="dilate"`` only: pixels by which the hole mask is grown.
        occlusion_tolerance: relative depth tolerance of the occlusion test.
        composite: keep the warped pixels outside the hole mask exactly (else the inpainter's
            output everywhere).
    """

    name = "warp_inpaint"

    def __init__(
        self,
        inpainter: Any = None,
        *,
        model: str | os.PathLike | None = None,
        device: str | torch.device = "cpu",
        torch_dtype: torch.dtype = torch.float32,
        prompt: str = "",
        negative_prompt: str | None = None,
        num_inference_steps: int = 50,
        guidance_scale: float = 7.5,
        inpaint_size: int | None = 512,
        mask_dilation: int | None = None,
        occlusion_tolerance: float = 0.05,
        composite: bool = True,
        hole_filter: str = "luciddreamer",
        hole_max_filter: int | None = None,
        hole_min_filter: int | None = None,
    ):
        check_hole_filter(hole_filter, mask_dilation, hole_max_filter, hole_min_filter)
        self.hole_filter = hole_filter
        self.hole_max_filter = int(hole_max_filter if hole_max_filter is not None else 9)
        self.hole_min_filter = int(hole_min_filter if hole_min_filter is not None else 11)
        self.device = torch.device(device)
        self.model = str(model) if model is not None else None
        if inpainter is None:
            if model is None:
                raise ValueError("warp_inpaint needs an inpainting pipeline: pass inpainter= or model=")
            inpainter = self.load_inpainter(model, self.device, torch_dtype)
        self.inpainter = inpainter
        self.prompt, self.negative_prompt = prompt, negative_prompt
        self.num_inference_steps, self.guidance_scale = int(num_inference_steps), float(guidance_scale)
        self.inpaint_size = inpaint_size
        self.mask_dilation = int(mask_dilation if mask_dilation is not None else 2)
        self.occlusion_tolerance = float(occlusion_tolerance)
        self.composite = bool(composite)

    @staticmethod
    def load_inpainter(model: str | os.PathLike, device: torch.device | str = "cpu",
                       torch_dtype: torch.dtype = torch.float32):
        """``StableDiffusionInpaintPipeline.from_pretrained(model)`` without the safety checker
        (or an :class:`OpenCVInpainter` for ``opencv:<algorithm>``)."""
        if str(model).startswith("opencv:"):
            return OpenCVInpainter(str(model).split(":", 1)[1])
        from diffusers import StableDiffusionInpaintPipeline

        try:
            pipe = StableDiffusionInpaintPipeline.from_pretrained(
                str(model), dtype=torch_dtype, safety_checker=None, requires_safety_checker=False)
        except (OSError, ValueError, EnvironmentError) as err:
            raise _missing_model_error(str(model), err) from err
        pipe.set_progress_bar_config(disable=True)
        return pipe.to(device)

    def warp(self, batch: dict[str, Any]) -> tuple[Tensor, Tensor]:
        """The inverse-warped source and its valid mask (before inpainting)."""
        src_k, tgt_k, src_to_tgt = _cameras(batch, self.device)
        depth = _source_depth(batch, self.device)
        tgt_depth, _ = zbuffer_depth(depth, src_k, tgt_k, src_to_tgt)
        return inverse_warp(batch["src_image"].to(self.device, torch.float32), depth, tgt_depth, src_k, tgt_k,
                            src_to_tgt, self.occlusion_tolerance)

    def hole_mask(self, valid: Float[Tensor, "b 1 h w"]) -> Float[Tensor, "b 1 h w"]:
        """1 where the inpainter fills (see ``hole_filter``), from the inverse warp's valid mask."""
        if self.hole_filter == "luciddreamer":
            keep = _min_filter(_max_filter(valid, self.hole_max_filter), self.hole_min_filter) * valid
            return 1.0 - keep
        hole = 1.0 - valid
        if self.mask_dilation > 0:
            hole = _max_filter(hole, 2 * self.mask_dilation + 1)
        return hole

    def generate(self, batch, generators):
        warped, valid = self.warp(batch)
        hole = self.hole_mask(valid)
        h, w = warped.shape[-2:]
        size = (h, w) if not self.inpaint_size else (int(self.inpaint_size), int(self.inpaint_size))
        image_in = F.interpolate(warped, size=size, mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)
        mask_in = (F.interpolate(hole, size=size, mode="bilinear", align_corners=False) > 0).float()
        outs = []
        for i in range(warped.shape[0]):  # one call per pair: per-pair generator, no batch coupling
            result = self.inpainter(
                prompt=self.prompt, negative_prompt=self.negative_prompt, image=image_in[i : i + 1],
                mask_image=mask_in[i : i + 1], height=size[0], width=size[1],
                num_inference_steps=self.num_inference_steps, guidance_scale=self.guidance_scale,
                generator=generators[i], output_type="pt",
            )
            outs.append(result.images[0 : 1].float().to(self.device))
        filled = torch.cat(outs)
        if filled.shape[-2:] != (h, w):
            filled = F.interpolate(filled, size=(h, w), mode="bilinear", antialias=True, align_corners=False)
        images = torch.where(hole > 0, filled, warped) if self.composite else filled
        return MethodOutput(images.clamp(0, 1).cpu(), {"warped": warped.cpu(), "visibility": valid.cpu()})

    def describe(self):
        return {"method": self.name, "model": self.model, "prompt": self.prompt, "steps": self.num_inference_steps,
                "guidance_scale": self.guidance_scale, "inpaint_size": self.inpaint_size,
                "hole_filter": self.hole_filter,
                **({"hole_max_filter": self.hole_max_filter, "hole_min_filter": self.hole_min_filter}
                   if self.hole_filter == "luciddreamer" else {"mask_dilation": self.mask_dilation}),
                "composite": self.composite, "occlusion_tolerance": self.occlusion_tolerance}


# -------------------------------------------------------------------------------------- genwarp
SEED_MODES = ("per_pair", "release")


def release_initial_noise(seed: int, shape: tuple[int, ...], device: str | torch.device = "cpu") -> Tensor:
    """The initial latents the release draws after ``torch.manual_seed(seed)``: it draws
    ``dummy = randn(shape)`` and then ``noise = randn_like(dummy)`` from the global generator
    (float32) and starts from ``add_noise(dummy, noise, 999) = noise`` (ᾱ_999 = 0), i.e. the *second*
    draw (``../shared/reference/release-spec.md`` §12). Drawn from a fresh generator of ``device``
    seeded with ``seed``, which gives the global generator's numbers on that device (CUDA draws
    differ from CPU ones: pass the device the release ran on, ``cuda:0`` by default there)."""
    g = torch.Generator(device=device).manual_seed(int(seed))
    torch.randn(shape, generator=g, device=device, dtype=torch.float32)  # the discarded first draw
    return torch.randn(shape, generator=g, device=device, dtype=torch.float32)


class GenWarpMethod(Method):
    """GenWarp sampling through :class:`~genwarp.pipelines.GenWarpPipeline`.

    Args:
        pipeline: a loaded pipeline (tests), else one of
        checkpoint: folder of our export (``GenWarpPipeline.from_pretrained``), or
        release_root / release_variant: the authors' release (``GenWarpPipeline.from_release``).
        height, width: working resolution (default: the samples' resolution); outputs are resized
            back to the samples' resolution for scoring.
        num_inference_steps, guidance_scale, near, far: sampler settings.
    """

    name = "genwarp"

    def __init__(
        self,
        pipeline: Any = None,
        *,
        checkpoint: str | os.PathLike | None = None,
        release_root: str | os.PathLike | None = None,
        release_variant: str = "multi1",
        device: str | torch.device = "cpu",
        torch_dtype: torch.dtype = torch.float32,
        height: int | None = None,
        width: int | None = None,
        num_inference_steps: int = 20,
        guidance_scale: float = 3.5,
        near: float = 0.01,
        far: float = 100.0,
        seed_mode: str = "per_pair",
        seed: int = 0,
    ):
        if seed_mode not in SEED_MODES:
            raise ValueError(f"sampler.seed_mode={seed_mode!r} is not one of {list(SEED_MODES)}")
        self.seed_mode, self.seed = seed_mode, int(seed)
        self.device = torch.device(device)
        self.source = {"checkpoint": str(checkpoint) if checkpoint else None,
                       "release_root": str(release_root) if release_root else None,
                       "release_variant": release_variant if release_root else None}
        if pipeline is None:
            pipeline = self.load_pipeline(checkpoint, release_root, release_variant, self.device, torch_dtype)
        self.pipeline = pipeline
        self.pipeline.set_progress_bar_config(disable=True)
        self.height, self.width = height, width
        self.num_inference_steps, self.guidance_scale = int(num_inference_steps), float(guidance_scale)
        self.near, self.far = float(near), float(far)

    @staticmethod
    def load_pipeline(checkpoint, release_root, release_variant, device, torch_dtype):
        from genwarp.pipelines import GenWarpPipeline

        if (checkpoint is None) == (release_root is None):
            raise ValueError("method=genwarp needs exactly one of checkpoint=<our export folder> or "
                             f"release_root=<release folder>, got checkpoint={checkpoint!r}, release_root={release_root!r}")
        if release_root is not None:
            return GenWarpPipeline.from_release(release_root, release_variant, torch_dtype=torch_dtype, device=device)
        if not Path(checkpoint).is_dir():
            raise FileNotFoundError(f"checkpoint={checkpoint!r} is not a folder (expected GenWarpPipeline.save_pretrained output)")
        return GenWarpPipeline.from_pretrained(str(checkpoint), dtype=torch_dtype).to(device)

    def generate(self, batch, generators):
        pipe = self.pipeline
        image = batch["src_image"].to(self.device, torch.float32)
        b, _, h0, w0 = image.shape
        h, w = self.height or h0, self.width or w0
        src_k, tgt_k, src_to_tgt = _cameras(batch, self.device)
        depth = _source_depth(batch, self.device)
        known = depth > 0  # unknown depth (sensor holes) never splats, as in warp_only
        factor = pipe.vae_scale_factor
        shape = (1, pipe.model.latent_channels, h // factor, w // factor)
        from diffusers.utils.torch_utils import randn_tensor

        if self.seed_mode == "release":  # every pair: the release demo's noise for torch.manual_seed(seed)
            latents = torch.cat([release_initial_noise(self.seed, shape, self.device) for _ in generators])
        else:
            latents = torch.cat([randn_tensor(shape, generator=g, dtype=torch.float32) for g in generators])
        out = pipe(image, depth, src_k, tgt_k, src_to_tgt, height=h, width=w,
                   num_inference_steps=self.num_inference_steps, guidance_scale=self.guidance_scale,
                   latents=latents, near=self.near, far=self.far,
                   depth_mask=None if bool(known.all()) else known)
        images, warped, vis = out.images.float(), out.warped.float(), out.visibility.float()
        if (h, w) != (h0, w0):
            images = F.interpolate(images, size=(h0, w0), mode="bilinear", antialias=True, align_corners=False)
            warped = F.interpolate(warped, size=(h0, w0), mode="bilinear", antialias=True, align_corners=False)
            vis = F.interpolate(vis, size=(h0, w0), mode="nearest")
        return MethodOutput(images.clamp(0, 1).cpu(), {"warped": warped.clamp(0, 1).cpu(), "visibility": vis.cpu()})

    def describe(self):
        cfg = dict(self.pipeline.model.config)
        return {"method": self.name, **self.source, "steps": self.num_inference_steps,
                "guidance_scale": self.guidance_scale, "height": self.height, "width": self.width,
                "seed_mode": self.seed_mode, **({"seed": self.seed} if self.seed_mode == "release" else {}),
                "condition_kind": cfg.get("condition_kind"), "warp_importance": cfg.get("warp_importance")}


METHODS: dict[str, type[Method]] = {
    "genwarp": GenWarpMethod,
    "warp_only": WarpOnlyMethod,
    "warp_inpaint": WarpInpaintMethod,
    "oracle": OracleMethod,
}


def build_method(name: str, **kwargs: Any) -> Method:
    """A method by name (``kwargs`` go to its constructor)."""
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; known: {sorted(METHODS)}")
    if name == "oracle":
        return OracleMethod()
    return METHODS[name](**kwargs)
