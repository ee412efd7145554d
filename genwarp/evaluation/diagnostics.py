"""Why a trained GenWarp model does (or does not) use its source: numbers from a run's export.

Each function measures one thing on a collated batch of pairs (:func:`load_validation_pairs`):

* :func:`sampler_sweep` — validation metrics (all / visible / invisible PSNR) for several
  (steps, guidance) settings: a model that copies its source scores high on the visible part
  even with one DDIM step (the x0 estimate from pure noise);
* :func:`attention_flow` — per reader layer, at the first denoising step: the attention mass on
  source tokens and how often the most-attended source token lies within one token of the true
  correspondence of a visible target token (chance = 9 / tokens);
* :func:`source_swap_sensitivity` — how much the generated view changes when each pair gets
  another pair's source image (cameras, depth and noise unchanged): ~0 means the reference is
  ignored;
* :func:`source_colour_sensitivity` — the same with the source's colour channels rotated (R→G→B→R:
  luminance kept, colour changed), and the generated views' colour (chroma) next to the targets':
  a model that copies its source follows the rotation; one that paints grey from the geometry does not;
* :func:`condition_feature_scale` — rms of the condition encoder's output next to the rms of the
  denoiser's ``conv_in`` output: a coordinate code far fainter than the content it is added to
  cannot steer attention.

``scripts/diagnose.py`` runs them all on a run folder and writes JSON + markdown.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.nn import functional as F

from genwarp.evaluation.attention import AttentionRecorder, record_attention
from genwarp.geometry import build_conditions, relative_transform
from genwarp.models.codecs import encode_images

__all__ = ["attention_flow", "condition_feature_scale", "load_run", "sampler_sweep", "source_colour_sensitivity",
           "source_swap_sensitivity"]


def load_run(run, pairs: int):
    """A finished training run folder: ``(config, pipeline of its export, its first ``pairs``
    validation pairs collated)``: the run's own validation split or index and seed."""
    from pathlib import Path

    from omegaconf import OmegaConf

    from genwarp.pipelines import GenWarpPipeline
    from genwarp.training.config import DataConfig, DepthConfig
    from genwarp.training.datasets import build_dataset
    from genwarp.training.validation import load_validation_pairs

    run = Path(run)
    cfg = OmegaConf.load(run / "config.yaml")
    data = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(DataConfig), cfg.data))
    depth = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(DepthConfig), cfg.depth))
    pipe = GenWarpPipeline.from_pretrained(run / "model")
    pipe.set_progress_bar_config(disable=True)
    dataset = build_dataset(data, depth, split=data.val_split, seed=int(cfg.trainer.seed), train=False)
    return cfg, pipe, load_validation_pairs(dataset, pairs, data.val_index)


def _call(pipe, batch: dict[str, Any], *, steps: int, guidance: float, seed: int = 0, src_image=None):
    h, w = batch["src_image"].shape[-2:]
    return pipe(src_image if src_image is not None else batch["src_image"], batch["src_depth"],
                batch["src_intrinsics"], batch["tgt_intrinsics"],
                relative_transform(batch["src_c2w"], batch["tgt_c2w"]), height=h, width=w,
                num_inference_steps=steps, guidance_scale=guidance, generator=torch.Generator().manual_seed(seed))


@torch.no_grad()
def sampler_sweep(pipe, batch: dict[str, Any], settings: list[tuple[int, float]], seed: int = 0) -> list[dict]:
    """``run_validation`` metrics for each ``(steps, guidance)`` in ``settings``."""
    from genwarp.training.validation import run_validation

    rows = []
    for steps, guidance in settings:
        metrics, _ = run_validation(pipe, batch, steps=steps, guidance=guidance, seed=seed, near=0.01, far=100.0)
        rows.append({"steps": steps, "guidance": guidance, **{k.removeprefix("val/"): v for k, v in metrics.items()}})
    return rows


def _true_source_tokens(batch: dict[str, Any], grid: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, L) source-token index of each target token's correspondence and (B, L) fully-visible mask."""
    h = batch["src_image"].shape[-1]
    conds = build_conditions("coords", batch["src_image"].float(), batch["src_depth"].float(),
                             batch["src_intrinsics"].float(), batch["tgt_intrinsics"].float(),
                             relative_transform(batch["src_c2w"], batch["tgt_c2w"]).float(), num_frequencies=0)
    f = h // grid
    vis = conds.visibility
    cover = F.avg_pool2d(vis, f)
    coords = F.avg_pool2d(conds.target[:, :2] * vis, f) / cover.clamp(min=1e-6)  # warped source (x, y) in (0, 1)
    tx = (coords[:, 0] * grid).floor().clamp(0, grid - 1)
    ty = (coords[:, 1] * grid).floor().clamp(0, grid - 1)
    return (ty * grid + tx).flatten(1).long(), cover.flatten(1) > 0.99


@torch.no_grad()
def attention_flow(pipe, batch: dict[str, Any], min_grid: int = 8) -> list[dict]:
    """Source mass and correspondence accuracy of every reader layer with ≥ ``min_grid``² tokens,
    at the first step of a one-step, no-guidance sampling call (t = 999: pure noise)."""
    h = batch["src_image"].shape[-1]
    with record_attention(pipe.model, AttentionRecorder(steps=[0]), image_size=(h, h)) as rec:
        _call(pipe, batch, steps=1, guidance=1.0)
    rows = []
    for r in rec.records:
        grid = int(round(r.num_tokens ** 0.5))
        if grid < min_grid or h % grid:
            continue
        true, visible = _true_source_tokens(batch, grid)
        arg = r.argmax
        near = ((arg % grid - true % grid).abs() <= 1) & ((arg // grid - true // grid).abs() <= 1)
        rows.append({"layer": r.layer, "grid": grid, "source_mass": float(r.source_mass[visible].mean()),
                     "peak_weight": float(r.peak[visible].mean()),
                     "flow_accuracy": float(near[visible].float().mean()), "chance": 9.0 / r.num_tokens})
    return rows


@torch.no_grad()
def source_swap_sensitivity(pipe, batch: dict[str, Any], steps: int = 1, guidance: float = 1.0) -> dict[str, float]:
    """rms change of the generated views when every pair gets the next pair's source image,
    relative to the rms change between the two sources themselves (1 ≈ follows the source fully)."""
    src = batch["src_image"]
    if src.shape[0] < 2:
        raise ValueError("source_swap_sensitivity needs at least 2 pairs")
    _, _, change, source_change = _visible_change(pipe, batch, src.roll(1, 0), steps, guidance)
    return {"visible_change_rms": float(change.sqrt()), "source_change_rms": float(source_change.sqrt()),
            "relative": float((change / source_change).sqrt())}


def _visible_change(pipe, batch: dict[str, Any], other_src: torch.Tensor, steps: int, guidance: float):
    """Sample with the batch's sources and with ``other_src``: ``(output, visible mask, mean square
    change of the visible region, mean square change of the sources)``. The visibility is geometry
    only, the same for both calls."""
    src = batch["src_image"]
    out = _call(pipe, batch, steps=steps, guidance=guidance)
    vis = (out.visibility > 0.5).float()
    moved = _call(pipe, batch, steps=steps, guidance=guidance, src_image=other_src).images
    change = ((out.images - moved) ** 2 * vis).sum() / vis.sum().clamp(min=1) / 3
    return out, vis, change, ((src - other_src) ** 2).mean()


def _chroma(images: torch.Tensor, mask: torch.Tensor) -> float:
    """Mean absolute deviation of each pixel's channels from their mean, over ``mask``."""
    dev = (images - images.mean(dim=1, keepdim=True)).abs().mean(dim=1, keepdim=True)
    return float((dev * mask).sum() / mask.sum().clamp(min=1))


@torch.no_grad()
def source_colour_sensitivity(pipe, batch: dict[str, Any], steps: int = 1, guidance: float = 1.0) -> dict[str, float]:
    """Does the generated view take its colours from the source?

    ``relative``: rms change of the visible region when the source's channels are rotated (R→G→B→R),
    relative to the change of the source itself (1 ≈ the colours follow the source, 0 = ignored);
    ``chroma_generated`` / ``chroma_target``: the views' colourfulness on the visible region (the
    mean absolute deviation of a pixel's channels from their mean; grey = 0); ``psnr_grey_target``:
    the PSNR of the targets' own grey versions (the best a model that paints no colour can score).
    """
    from genwarp.evaluation.metrics import psnr

    out, vis, change, source_change = _visible_change(pipe, batch, batch["src_image"][:, [2, 0, 1]], steps, guidance)
    tgt = batch["tgt_image"].to(out.images)
    grey = tgt.mean(dim=1, keepdim=True).expand_as(tgt)
    return {"relative": float((change / source_change).sqrt()), "chroma_generated": _chroma(out.images, vis),
            "chroma_target": _chroma(tgt, vis), "psnr_grey_target": float(psnr(grey, tgt).mean())}


@torch.no_grad()
def condition_feature_scale(pipe, batch: dict[str, Any]) -> dict[str, float]:
    """rms of the condition features (target and source) and of the denoiser's ``conv_in`` output
    on clean target latents and on pure noise (what the features are added to)."""
    model, cfg = pipe.model, pipe.model.config
    conds = build_conditions(cfg.condition_kind, batch["src_image"].float(), batch["src_depth"].float(),
                             batch["src_intrinsics"].float(), batch["tgt_intrinsics"].float(),
                             relative_transform(batch["src_c2w"], batch["tgt_c2w"]).float(),
                             normalization=cfg.coordinate_normalization, num_frequencies=cfg.num_frequencies,
                             importance=cfg.warp_importance)
    latents = encode_images(pipe.codec, batch["tgt_image"].float(), pipe.latent_scale)
    rms = lambda t: float(t.pow(2).mean().sqrt())  # noqa: E731
    return {"target_condition_rms": rms(model.encode_condition(conds.target)),
            "source_condition_rms": rms(model.encode_condition(conds.source)),
            "conv_in_clean_rms": rms(model.denoiser.conv_in(latents)),
            "conv_in_noise_rms": rms(model.denoiser.conv_in(torch.randn_like(latents))),
            "latent_mean": float(latents.mean()), "latent_std": float(latents.std())}
