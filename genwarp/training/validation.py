"""Validation during training: sample fixed pairs, score them, save an image grid.

The pairs are fixed for the whole run (the first entries of a frozen evaluation index, or the
first pairs of the validation split), sampled with a fixed seed, so grids and numbers of different
steps compare like with like.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch.utils.data import default_collate

from genwarp.data import PairDataset, load_eval_index
from genwarp.data.health import DataError
from genwarp.evaluation.metrics import psnr  # the one PSNR (re-exported here for older imports)
from genwarp.geometry import relative_transform
from genwarp.utils import image_grid

GRID_COLUMNS = ["source", "warped", "generated", "target"]
GRID_MIN_TILE = 96  # small (32²) images enlarged (nearest) to ≥ 96 px: visible, and the column labels fit


def load_validation_pairs(dataset: PairDataset, num_pairs: int, index: str | Path | None = None) -> dict[str, Any]:
    """A collated batch of ``num_pairs`` fixed validation pairs."""
    samples = []
    if index is not None:
        for entry in load_eval_index(index)["entries"]:
            try:
                samples.append(dataset.get_pair(entry["scene"], int(entry["src_index"]), int(entry["tgt_index"])))
            except DataError:
                continue
            if len(samples) == num_pairs:
                break
    else:
        for sample in dataset:
            samples.append(sample)
            if len(samples) == num_pairs:
                break
    if not samples:
        raise ValueError(f"no validation pairs could be loaded from {dataset!r} (index={index})")
    return default_collate(samples)


@torch.no_grad()
def run_validation(pipe, batch: dict[str, Any], *, steps: int, guidance: float, seed: int, near: float, far: float,
                   lpips_fn=None) -> tuple[dict[str, float], Any]:
    """Sample the validation batch; returns ``(metrics, grid image)``.

    Metrics: ``val/psnr`` of generated views, ``val/psnr_warp_only`` of the forward-warped source
    (holes black; the warp-only baseline on the same pairs), the generated views' PSNR on the
    target region the warp covers (``val/psnr_visible``, a model that uses the source copies it
    first) and on the holes (``val/psnr_invisible``, pairs without holes left out), the warp's
    ``val/psnr_warp_only_visible``, and ``val/lpips`` when ``lpips_fn`` is given.
    """
    device = pipe._execution_device
    src, tgt = batch["src_image"].to(device), batch["tgt_image"].to(device)
    h, w = src.shape[-2:]
    out = pipe(
        src, batch["src_depth"].to(device), batch["src_intrinsics"].to(device),
        batch["tgt_intrinsics"].to(device), relative_transform(batch["src_c2w"], batch["tgt_c2w"]).to(device),
        height=h, width=w, num_inference_steps=steps, guidance_scale=guidance,
        generator=torch.Generator().manual_seed(seed), near=near, far=far,
        depth_mask=batch["src_depth_valid"].to(device) & (batch["src_depth"].to(device) > 0),
    )
    metrics = {
        "val/psnr": float(psnr(out.images, tgt).mean()),
        "val/psnr_warp_only": float(psnr(out.warped, tgt).mean()),
        "val/visible_fraction": float(out.visibility.mean()),
    }
    visible = (out.visibility > 0.5).float()
    for name, pred, mask in (("psnr_visible", out.images, visible), ("psnr_invisible", out.images, 1.0 - visible),
                             ("psnr_warp_only_visible", out.warped, visible)):
        values = psnr(pred, tgt, mask)  # NaN for an image without such pixels
        values = values[~torch.isnan(values)]
        metrics[f"val/{name}"] = float(values.mean()) if values.numel() else float("nan")
    if lpips_fn is not None:
        metrics["val/lpips"] = float(lpips_fn(out.images, tgt).mean())
    rows = [[src[i].cpu(), out.warped[i].cpu(), out.images[i].cpu(), tgt[i].cpu()] for i in range(src.shape[0])]
    return metrics, image_grid(rows, GRID_COLUMNS, min_tile=GRID_MIN_TILE)


__all__ = ["GRID_COLUMNS", "load_validation_pairs", "psnr", "run_validation"]
