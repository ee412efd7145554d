"""The paper's attention analyses (Tables 3–4, Fig. 4) and the per-pair plots (Figs. 8, 13).

* :func:`depth_flow` — for every target token, the source location its content comes from
  according to the depth (forward warp of the source's pixel coordinates), and whether the
  token is visible from the source.
* :func:`analyze_attention` — samples pairs with a GenWarp pipeline while recording the
  augmented attention (:mod:`genwarp.evaluation.attention`), and reduces per pair:
  the *attention flow* (argmax over source tokens) against the depth flow (end-point error in
  pixels, share of tokens within one token), and the attention mass on source vs target tokens
  for visible vs invisible target tokens; optionally the attention maps of chosen query pixels.
* :func:`binned_curve` — mean of y in quantile bins of x (Figs. 8 and 13).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor
from torch.nn import functional as F

from genwarp.data import stable_seed
from genwarp.evaluation.attention import AttentionRecorder, record_attention, token_grid
from genwarp.evaluation.methods import _cameras, _source_depth
from genwarp.geometry import coordinate_grid, forward_warp

__all__ = ["analyze_attention", "binned_curve", "depth_flow", "tokens_of"]


def tokens_of(x: Float[Tensor, "b c h w"], grid: tuple[int, int]) -> Float[Tensor, "b c gh gw"]:
    """Area-average a map onto a token grid (the U-Net's downsampling is by powers of two)."""
    return F.adaptive_avg_pool2d(x, grid)


def depth_flow(
    depth: Float[Tensor, "b 1 h w"],
    src_intrinsics: Float[Tensor, "b 3 3"],
    tgt_intrinsics: Float[Tensor, "b 3 3"],
    src_to_tgt: Float[Tensor, "b 4 4"],
    grid: tuple[int, int],
    importance: str = "inverse_depth",
) -> tuple[Float[Tensor, "b 2 gh gw"], Float[Tensor, "b 1 gh gw"]]:
    """Source position (normalised (x, y) in [0, 1]) seen by every target token, and its coverage.

    The source's pixel-centre coordinates are forward-warped with the depth; a token's flow is
    the coverage-weighted mean over its pixels, its coverage the share of its pixels that
    received a source point (≥ 0.5: visible).
    """
    b, _, h, w = depth.shape
    coords = coordinate_grid(h, w, "pixel_centers", device=depth.device, dtype=torch.float32).expand(b, 2, h, w)
    warped, vis = forward_warp(coords.contiguous(), depth, src_intrinsics, tgt_intrinsics, src_to_tgt,
                               importance=importance)
    cov = tokens_of(vis, grid)
    flow = tokens_of(warped * vis, grid) / cov.clamp_min(1e-6)
    return flow, cov


def _token_centres(index: Tensor, grid: tuple[int, int]) -> Tensor:
    h, w = grid
    return torch.stack([(index % w + 0.5) / w, (index // w + 0.5) / h], dim=1).float()


@torch.no_grad()
def analyze_attention(
    pipeline,
    batches: Iterable[dict[str, Any]],
    *,
    num_inference_steps: int = 20,
    guidance_scale: float = 3.5,
    seed: int = 0,
    steps: Sequence[int] | None = None,
    query_points: Sequence[tuple[float, float]] = (),
    visible_threshold: float = 0.5,
    pair_grids: str = "finest",
) -> dict[str, Any]:
    """Sample every pair of ``batches`` (collated samples) with ``pipeline`` while recording its
    augmented attention; returns ``{"pairs": [per-pair stats], "layers": [per-grid stats],
    "maps": [attention maps of query_points per pair]}``.

    Per pair: ``flow_epe_px`` (mean distance, in working-resolution pixels, between the attention
    flow and the depth flow over visible tokens), ``flow_within_token`` (share of visible tokens
    whose argmax is at most one token away), ``source_mass_visible`` / ``source_mass_invisible``
    (attention mass on the source tokens, averaged over visible / invisible target tokens; the
    target-token mass is one minus it). Per-pair values average the layers of the finest token
    grid (``pair_grids="finest"``; the argmax of a 1×1 or 2×2 grid says little) or of every layer
    (``"all"``), over recorded steps and heads; ``layers`` breaks every statistic down by grid.
    """
    if pair_grids not in ("finest", "all"):
        raise ValueError(f"pair_grids must be 'finest' or 'all', got {pair_grids!r}")
    model = pipeline.model
    importance = model.config.warp_importance
    pairs: list[dict[str, Any]] = []
    per_grid: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    maps_out: list[dict[str, Any]] = []
    for batch in batches:
        image = batch["src_image"].float()
        b, _, h, w = image.shape
        src_k, tgt_k, src_to_tgt = _cameras(batch, pipeline.device)
        depth = _source_depth(batch, pipeline.device)
        known = depth > 0
        shape = (1, model.latent_channels, h // pipeline.vae_scale_factor, w // pipeline.vae_scale_factor)
        ids = [f"{s}__{int(i)}__{int(t)}" for s, i, t in zip(batch["scene"], batch["src_index"], batch["tgt_index"])]
        gens = [torch.Generator().manual_seed(stable_seed(seed, "attention", pid) % (2**63)) for pid in ids]
        latents = torch.cat([torch.randn(shape, generator=g) for g in gens])
        recorder = AttentionRecorder(query_points, steps)
        with record_attention(model, recorder, image_size=(h, w)):
            out = pipeline(image, depth, src_k, tgt_k, src_to_tgt, height=h, width=w,
                           num_inference_steps=num_inference_steps, guidance_scale=guidance_scale, latents=latents,
                           depth_mask=None if bool(known.all()) else known)
        cond_from = b if guidance_scale != 1.0 else 0
        acc = [defaultdict(list) for _ in range(b)]
        flows: dict[tuple[int, int], tuple[Tensor, Tensor]] = {}
        qmaps: list[dict[int, list[Tensor]]] = [defaultdict(list) for _ in range(b)]
        finest = max((r.num_tokens for r in recorder.records), default=0)
        for rec in recorder.records:
            grid = token_grid(rec.num_tokens, h, w)
            if grid not in flows:
                flows[grid] = depth_flow(depth, src_k, tgt_k, src_to_tgt, grid, importance)
            flow, cov = flows[grid]
            keep = rec.items >= cond_from
            for row, item_mass, item_arg in zip(rec.ref_rows[keep], rec.source_mass[keep], rec.argmax[keep]):
                i = int(row)
                c = cov[i, 0].flatten().cpu()
                vis = c >= visible_threshold
                inv = ~vis
                att = _token_centres(item_arg, grid)  # (l, 2)
                dep = flow[i].flatten(1).T.cpu()  # (l, 2)
                d = (att - dep) * torch.tensor([w, h], dtype=torch.float32)
                within = ((att - dep).abs() <= torch.tensor([1.0 / grid[1], 1.0 / grid[0]]) + 1e-6).all(-1)
                stats = {
                    "flow_epe_px": d.norm(dim=-1)[vis].mean().item() if vis.any() else math.nan,
                    "flow_within_token": within[vis].float().mean().item() if vis.any() else math.nan,
                    "source_mass_visible": item_mass[vis].mean().item() if vis.any() else math.nan,
                    "source_mass_invisible": item_mass[inv].mean().item() if inv.any() else math.nan,
                }
                for k, v in stats.items():
                    if pair_grids == "all" or rec.num_tokens == finest:
                        acc[i][k].append(v)
                    per_grid[f"{grid[0]}x{grid[1]}"][k].append(v)
            if query_points and rec.num_tokens == finest:
                for qi, (src_rows, _) in rec.query_maps.items():
                    for j, row in enumerate(rec.ref_rows[keep]):
                        qmaps[int(row)][qi].append(src_rows[keep][j].reshape(grid))
        for i in range(b):
            entry = {"id": ids[i], "scene": batch["scene"][i], "src_index": int(batch["src_index"][i]),
                     "tgt_index": int(batch["tgt_index"][i]),
                     "visible_ratio": float(out.visibility[i].float().mean())}
            for k, vals in acc[i].items():
                vals = [v for v in vals if not math.isnan(v)]
                entry[k] = float(sum(vals) / len(vals)) if vals else math.nan
            pairs.append(entry)
            if query_points:
                maps_out.append({
                    "id": ids[i], "source": image[i].cpu(), "generated": out.images[i].float().cpu(),
                    "query_points": list(query_points),
                    "maps": [torch.stack(qmaps[i][q]).mean(0) if qmaps[i][q] else None for q in range(len(query_points))],
                })
    layers = []
    for g, stats in per_grid.items():
        row = {"grid": g}
        for k, vals in stats.items():
            vals = [v for v in vals if not math.isnan(v)]
            row[k] = float(sum(vals) / len(vals)) if vals else math.nan
        layers.append(row)
    return {"pairs": pairs, "layers": layers, "maps": maps_out}


def binned_curve(x: Sequence[float], y: Sequence[float], bins: int = 5) -> list[dict[str, float]]:
    """Mean and count of ``y`` in ``bins`` quantile bins of ``x`` (NaN pairs skipped)."""
    pts = sorted((float(a), float(c)) for a, c in zip(x, y) if not (math.isnan(a) or math.isnan(c)))
    if not pts:
        return []
    bins = max(1, min(bins, len(pts)))
    out = []
    for k in range(bins):
        chunk = pts[k * len(pts) // bins : (k + 1) * len(pts) // bins]
        if not chunk:
            continue
        out.append({"x_lo": chunk[0][0], "x_hi": chunk[-1][0], "x_mean": sum(p[0] for p in chunk) / len(chunk),
                    "y_mean": sum(p[1] for p in chunk) / len(chunk), "n": len(chunk)})
    return out
