"""Scale alignment: put estimated (metric) depth into the units of a dataset's poses.

RealEstate10K / ACID poses come from SfM with an arbitrary scale per sequence, so metric depth
from an estimator must be multiplied by an unknown per-sequence factor before it is consistent
with the translations. Two tools:

* :func:`photometric_scale_search` — for a pair with known relative pose, the scale ``s`` such
  that forward-warping the source with depth ``s · D`` best reproduces the target. Scaling depth
  by ``s`` is the same as scaling the translation by ``1/s``, so ``s`` is observable only through
  parallax. The search evaluates a log-spaced grid of candidates (all warped in one batch at a
  reduced working resolution), then refines around the best with a finer grid. The residual of a
  candidate is the mean absolute RGB difference over the target pixels the warp covers
  (visibility > 0.5), eroded by one pixel to drop boundary mixtures; candidates covering fewer
  than ``min_coverage`` of the target are rejected. It reports, per pair, the chosen ``scale``,
  its ``residual``, the ``coverage``, the whole residual ``curve`` and a ``contrast`` =
  (median residual over candidates − best) / best with a ``reliable`` flag.
* :func:`aggregate_scales` — one scale per sequence from several pairs (the median of the
  reliable pairs' log-scales, with their spread).
* :func:`least_squares_scale` — the scale against reference depth (e.g. ScanNet sensor depth).

**Failure modes of the photometric search** (why ``reliable`` exists):

1. *No parallax*: pure rotation, or a baseline tiny relative to the depth — every scale warps
   alike, the curve is flat (low ``contrast``); the chosen scale is noise.
2. *Textureless or repetitive surfaces*: flat residuals or several minima (a periodic texture
   matches itself at a wrong shift).
3. *Non-Lambertian effects, exposure changes, moving objects*: residuals never get small and the
   minimum may be biased; the ``residual`` value exposes it.
4. *Coverage bias*: large scales push points out of view or behind the camera, small scales
   collapse them; the mean over fewer pixels can look better — hence ``min_coverage``.
5. *Depth errors that are not a global scale* (shift, local distortion, edge bleeding): the
   search returns a compromise scale that is right for the dominant (usually the largest or most
   textured) surface.
6. *Outside the search range*: a true scale outside ``scale_range`` lands on the border (flagged
   by ``at_border``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from jaxtyping import Bool, Float
from torch import Tensor

__all__ = ["ScaleFit", "aggregate_scales", "least_squares_scale", "photometric_scale_search"]


@dataclass
class ScaleFit:
    """Per-pair result of :func:`photometric_scale_search` (all tensors have a leading B)."""

    scale: Tensor  # (B,) chosen depth multiplier
    residual: Tensor  # (B,) mean |warped − target| at the chosen scale (inf if never covered)
    coverage: Tensor  # (B,) fraction of target pixels covered at the chosen scale
    contrast: Tensor  # (B,) (median residual − best) / best over the candidates
    reliable: Tensor  # (B,) bool
    at_border: Tensor  # (B,) bool: best candidate at an end of the search range
    scales: Tensor  # (S,) candidates of the coarse grid
    curve: Tensor  # (B, S) residual per coarse candidate

    def records(self) -> list[dict[str, Any]]:
        """One JSON-friendly dict per pair."""
        return [
            {
                "scale": float(self.scale[b]),
                "residual": float(self.residual[b]),
                "coverage": float(self.coverage[b]),
                "contrast": float(self.contrast[b]),
                "reliable": bool(self.reliable[b]),
                "at_border": bool(self.at_border[b]),
            }
            for b in range(self.scale.shape[0])
        ]


def _resize_pair(
    src: Tensor, tgt: Tensor, depth: Tensor, valid: Tensor | None, max_side: int | None
) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
    H, W = src.shape[-2:]
    if max_side is None or max(H, W) <= max_side:
        return src, tgt, depth, valid
    f = max_side / max(H, W)
    size = (max(8, round(H * f)), max(8, round(W * f)))
    src = F.interpolate(src, size=size, mode="bilinear", align_corners=False, antialias=True)
    tgt = F.interpolate(tgt, size=size, mode="bilinear", align_corners=False, antialias=True)
    depth = F.interpolate(depth, size=size, mode="nearest-exact")
    if valid is not None:
        valid = F.interpolate(valid.float(), size=size, mode="nearest-exact") > 0.5
    return src, tgt, depth, valid


def _residuals(
    src: Tensor, tgt: Tensor, depth: Tensor, valid: Tensor | None, K_src: Tensor, K_tgt: Tensor, T: Tensor, scales: Tensor, min_coverage: float
) -> tuple[Tensor, Tensor]:
    """(B, S) residuals and coverages for candidate ``scales`` (S,) — one batched warp."""
    from genwarp.geometry import forward_warp

    B, _, H, W = src.shape
    S = scales.shape[0]
    rep = lambda x: x.repeat_interleave(S, dim=0)  # noqa: E731
    d = rep(depth) * scales.repeat(B).view(B * S, 1, 1, 1)
    if valid is not None:
        d = torch.where(rep(valid), d, torch.zeros((), dtype=d.dtype))
    warped, vis = forward_warp(rep(src), d, rep(K_src), rep(K_tgt), rep(T))
    mask = vis > 0.5
    mask = -F.max_pool2d(-mask.float(), 3, 1, 1) > 0.5  # erode by one pixel
    err = (warped - rep(tgt)).abs().mean(1, keepdim=True)
    n = mask.flatten(1).sum(1)
    cov = n / (H * W)
    res = (err * mask).flatten(1).sum(1) / n.clamp(min=1)
    res = torch.where(cov >= min_coverage, res, torch.full_like(res, float("inf")))
    return res.view(B, S), cov.view(B, S)


@torch.no_grad()
def photometric_scale_search(
    src_image: Float[Tensor, "B 3 H W"],
    tgt_image: Float[Tensor, "B 3 H W"],
    src_depth: Float[Tensor, "B 1 H W"],
    src_intrinsics: Float[Tensor, "B 3 3"],
    tgt_intrinsics: Float[Tensor, "B 3 3"],
    src_c2w: Float[Tensor, "B 4 4"],
    tgt_c2w: Float[Tensor, "B 4 4"],
    *,
    src_depth_valid: Bool[Tensor, "B 1 H W"] | None = None,
    scale_range: tuple[float, float] = (1 / 32, 32.0),
    num_scales: int = 41,
    refine_steps: int = 2,
    refine_points: int = 9,
    max_side: int | None = 96,
    min_coverage: float = 0.2,
    min_contrast: float = 0.05,
) -> ScaleFit:
    """Search the depth scale that best warps source onto target (see the module docstring).

    Args:
        src_image, tgt_image: (B, 3, H, W) in [0, 1].
        src_depth: source depth to be scaled (e.g. metric MDE output).
        src_intrinsics, tgt_intrinsics: normalised intrinsics.
        src_c2w, tgt_c2w: camera-to-world poses (their translation defines the target units).
        src_depth_valid: pixels whose depth to use (others never splat).
        scale_range: (min, max) multipliers searched (log-uniform grid of ``num_scales``).
        refine_steps, refine_points: rounds of finer grids around the running best.
        max_side: working resolution (longest side) for the search; None = full resolution.
        min_coverage: candidates covering less of the target are rejected.
        min_contrast: below this, the pair is flagged unreliable (flat residual curve).
    """
    from genwarp.geometry import relative_transform

    T = relative_transform(src_c2w.float(), tgt_c2w.float())
    src, tgt, depth, valid = _resize_pair(src_image.float(), tgt_image.float(), src_depth.float(), src_depth_valid, max_side)
    lo, hi = math.log(scale_range[0]), math.log(scale_range[1])
    log_grid = torch.linspace(lo, hi, num_scales)
    res, cov = _residuals(src, tgt, depth, valid, src_intrinsics.float(), tgt_intrinsics.float(), T, log_grid.exp(), min_coverage)
    B = src.shape[0]
    best_idx = res.argmin(1)
    best_log = log_grid[best_idx].clone()
    best_res = res.gather(1, best_idx[:, None])[:, 0].clone()
    best_cov = cov.gather(1, best_idx[:, None])[:, 0].clone()
    step = (hi - lo) / (num_scales - 1)
    for _ in range(refine_steps):
        offs = torch.linspace(-step, step, refine_points)
        for b in range(B):
            cand = (best_log[b] + offs).clamp(lo, hi)
            r, c = _residuals(src[b : b + 1], tgt[b : b + 1], depth[b : b + 1], None if valid is None else valid[b : b + 1],
                              src_intrinsics[b : b + 1].float(), tgt_intrinsics[b : b + 1].float(), T[b : b + 1], cand.exp(), min_coverage)
            j = int(r[0].argmin())
            if r[0, j] <= best_res[b]:
                best_log[b], best_res[b], best_cov[b] = cand[j], r[0, j], c[0, j]
        step = 2 * step / (refine_points - 1)
    finite = torch.where(torch.isfinite(res), res, torch.nan)
    med = torch.nanmedian(finite, dim=1).values
    contrast = (med - best_res) / best_res.clamp(min=1e-8)
    contrast = torch.where(torch.isfinite(contrast), contrast, torch.zeros_like(contrast))
    at_border = (best_idx == 0) | (best_idx == num_scales - 1)
    reliable = torch.isfinite(best_res) & (contrast >= min_contrast) & ~at_border
    return ScaleFit(
        scale=best_log.exp(),
        residual=best_res,
        coverage=best_cov,
        contrast=contrast,
        reliable=reliable,
        at_border=at_border,
        scales=log_grid.exp(),
        curve=res,
    )


def aggregate_scales(records: list[dict[str, Any]]) -> dict[str, Any]:
    """One scale for a sequence: median of the reliable pairs' log-scales (all pairs when none is
    reliable, then flagged), with the spread (MAD of log-scale) and the counts."""
    if not records:
        raise ValueError("no scale records to aggregate")
    use = [r for r in records if r.get("reliable")] or list(records)
    logs = torch.tensor([math.log(r["scale"]) for r in use], dtype=torch.float64)
    med = float(logs.median())
    mad = float((logs - med).abs().median())
    return {
        "scale": math.exp(med),
        "log_scale_mad": mad,
        "residual": float(torch.tensor([r["residual"] for r in use]).median()),
        "num_pairs": len(records),
        "num_reliable": sum(1 for r in records if r.get("reliable")),
        "reliable": any(r.get("reliable") for r in records),
        "pairs": records,
    }


def least_squares_scale(
    depth: Float[Tensor, "B 1 H W"], reference: Float[Tensor, "B 1 H W"], valid: Bool[Tensor, "B 1 H W"] | None = None
) -> Float[Tensor, " B"]:
    """Per-item scale ``s`` minimising ``Σ (log(s·depth) − log(reference))²`` over valid pixels
    (the geometric mean of the ratios; robust to the depth range)."""
    ok = torch.isfinite(depth) & (depth > 0) & torch.isfinite(reference) & (reference > 0)
    if valid is not None:
        ok = ok & valid
    ratio = torch.where(ok, torch.log(reference.clamp(min=1e-12)) - torch.log(depth.clamp(min=1e-12)), torch.zeros(()))
    n = ok.flatten(1).sum(1)
    return torch.exp(ratio.flatten(1).sum(1) / n.clamp(min=1)).where(n > 0, torch.full_like(n, float("nan"), dtype=depth.dtype))
