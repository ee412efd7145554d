"""Generating the views of a camera path from one source: batched, or autoregressively.

**Batched** (:func:`generate_views`): every view is generated from the source image. Views go to
the pipeline ``max_batch`` at a time as one multi-view call, ``src_to_tgt`` (1, n, 4, 4): the
semantic preserver runs once per call and its keys/values serve every step and every view of that
call (with ``max_batch ≥`` the number of views — the default — that is one reference pass for the
whole path). The initial noise of all views is drawn up front from ``seed``, so the images do not
depend on ``max_batch``.

**Autoregressive** (:func:`generate_autoregressive`): for paths that leave what the source shows
(a long dolly, a wide orbit), views are generated in segments of ``segment`` views; the first from
the source, each later segment from the **last generated view of the previous segment** and its
depth **estimated** by a depth model, scale-aligned to the previous anchor's depth warped into it
(so the depth units, and thus the path's translation units, stay those of the source depth). Errors
accumulate with every hop — the price of seeing further; keep segments as long as the source still
covers them.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import torch
from jaxtyping import Bool, Float
from torch import Tensor
from tqdm.auto import tqdm

from genwarp.geometry import invert_rigid, prepare_splat, softmax_splat
from genwarp.inference.cameras import CameraPath
from genwarp.inference.errors import InferenceInputError, warn_input
from genwarp.inference.inputs import Source

__all__ = [
    "NEAR",
    "ViewResults",
    "check_depth_near",
    "draw_latents",
    "generate_autoregressive",
    "generate_views",
    "warp_depth",
]

NEAR = 0.01  # near plane of the warp (depth units): closer points are never splatted
NEAR_WARN_FRACTION = 0.01  # at least this fraction of the depth in front of NEAR: a warning
NEAR_ERROR_FRACTION = 0.5  # at least this fraction: an error (the depth is in the wrong units)


def check_depth_near(
    depth: Float[Tensor, "1 h w"], mask: Bool[Tensor, "1 h w"] | None, what: str, near: float = NEAR,
    hint: str = "",
) -> float:
    """The fraction of known depth pixels at or in front of the warp's near plane ``near`` — they are
    never warped, so they come out black in every warped view. At least
    :data:`NEAR_ERROR_FRACTION` of them is an error (the depth is almost surely in the wrong units:
    the warp would be all or mostly black); at least :data:`NEAR_WARN_FRACTION` a warning. Both name
    ``what``, the fraction and ``near``; ``hint`` is appended to the error (e.g. which flag sets the
    units)."""
    d = depth.float()
    known = torch.isfinite(d) & (d > 0)
    if mask is not None:
        known = known & mask.bool()
    n_known = int(known.sum())
    if n_known == 0:
        raise InferenceInputError(f"{what}: the depth map has no valid (positive, finite) pixel")
    close = known & (d <= near)
    fraction = int(close.sum()) / n_known
    if fraction > 0:
        median = float(d[known].median())
        message = (f"{what}: {fraction:.1%} of the depth pixels are at or in front of the warp's near plane "
                   f"{near:g} (depth units; median depth {median:.4g}) and are never warped")
        if fraction >= NEAR_ERROR_FRACTION:
            raise InferenceInputError(f"{message}, so the warped views would be {'all' if fraction == 1 else 'mostly'} "
                                      f"black; the depth looks like it is in the wrong units{hint}")
        if fraction >= NEAR_WARN_FRACTION:
            warn_input(f"{message} (black in the warped views)")
    return fraction


@dataclass
class ViewResults:
    """The views of one path, on the CPU, in path order.

    Attributes:
        images: (N, 3, H, W) generated views in [0, 1].
        warped: (N, 3, H, W) the anchor image forward-warped into each view (holes 0).
        visibility: (N, 1, H, W) 1 where a source pixel landed.
        anchors: for every view, the index of the view it was generated from (−1: the source).
        anchor_depths: depth maps of the generated anchors (autoregressive mode), by view index.
    """

    images: Float[Tensor, "n 3 h w"]
    warped: Float[Tensor, "n 3 h w"]
    visibility: Float[Tensor, "n 1 h w"]
    anchors: list[int] = field(default_factory=list)
    anchor_depths: dict[int, Tensor] = field(default_factory=dict)


def draw_latents(pipe, n: int, height: int, width: int, seed: int) -> Float[Tensor, "n c hl wl"]:
    """The initial noise of ``n`` views, drawn on the CPU from ``seed`` (device independent)."""
    f = pipe.vae_scale_factor
    gen = torch.Generator("cpu").manual_seed(int(seed))
    return torch.randn(n, pipe.model.latent_channels, height // f, width // f, generator=gen)


@contextlib.contextmanager
def _inner_progress(pipe, enabled: bool):
    old = dict(getattr(pipe, "_progress_bar_config", {}) or {})
    pipe.set_progress_bar_config(**{**old, "disable": not enabled, "leave": False, "desc": "denoising"})
    try:
        yield
    finally:
        pipe._progress_bar_config = old


def _run(
    pipe, source: Source, path: CameraPath, latents: Tensor, *, steps: int, guidance: float, max_batch: int,
    progress: bool, bar: tqdm | None,
) -> tuple[Tensor, Tensor, Tensor]:
    if source.depth is None:
        raise ValueError("the source has no depth yet: estimate it or load a depth file first")
    if max_batch < 1:
        raise ValueError(f"max_batch must be ≥ 1, got {max_batch}")
    height, width = source.image.shape[-2:]
    src_to_tgt = path.src_to_tgt
    images, warped, visibility = [], [], []
    mask = source.depth_mask if source.depth_mask is not None else source.depth > 0
    with _inner_progress(pipe, progress):
        for start in range(0, len(path), max_batch):
            stop = min(start + max_batch, len(path))
            out = pipe(
                source.image[None], source.depth[None], source.intrinsics[None],
                path.intrinsics[None, start:stop], src_to_tgt[None, start:stop],
                height=height, width=width, num_inference_steps=steps, guidance_scale=guidance,
                latents=latents[None, start:stop], depth_mask=mask[None], near=NEAR,
            )
            images.append(out.images[0].float().cpu())
            warped.append(out.warped[0].float().cpu())
            visibility.append(out.visibility[0].float().cpu())
            if bar is not None:
                bar.update(stop - start)
    return torch.cat(images), torch.cat(warped), torch.cat(visibility)


def generate_views(
    pipe,
    source: Source,
    path: CameraPath,
    *,
    steps: int = 20,
    guidance: float = 3.5,
    seed: int = 0,
    max_batch: int | None = None,
    progress: bool = True,
) -> ViewResults:
    """Every view of ``path`` generated from ``source`` (see the module docstring).

    Args:
        pipe: a :class:`~genwarp.pipelines.GenWarpPipeline`.
        source: the source at the working resolution, with depth (:func:`prepare_source`).
        path: target cameras in the source frame.
        steps, guidance, seed: sampler settings.
        max_batch: views per pipeline call (None: all at once); lower it when memory is short.
        progress: show progress bars.
    """
    height, width = source.image.shape[-2:]
    latents = draw_latents(pipe, len(path), height, width, seed)
    with tqdm(total=len(path), desc="views", unit="view", disable=not progress) as bar:
        images, warped, vis = _run(pipe, source, path, latents, steps=steps, guidance=guidance,
                                   max_batch=max_batch or len(path), progress=progress, bar=bar)
    return ViewResults(images, warped, vis, anchors=[-1] * len(path))


def warp_depth(
    depth: Float[Tensor, "b 1 h w"],
    mask: Bool[Tensor, "b 1 h w"],
    src_intrinsics: Float[Tensor, "b 3 3"],
    tgt_intrinsics: Float[Tensor, "b 3 3"],
    src_to_tgt: Float[Tensor, "b 4 4"],
) -> tuple[Float[Tensor, "b 1 h w"], Bool[Tensor, "b 1 h w"]]:
    """The source depth seen from the target camera (target z-depth, forward-splatted), and where
    it is known."""
    d = torch.where(mask, depth, torch.zeros_like(depth)).float()
    splat = prepare_splat(d, src_intrinsics.float(), tgt_intrinsics.float(), src_to_tgt.float())
    warped, vis = softmax_splat(splat.target_depth, splat.target_xy, splat.log_weight, splat.valid)
    return warped, (vis > 0.5) & (warped > 0)


def generate_autoregressive(
    pipe,
    source: Source,
    path: CameraPath,
    estimator,
    *,
    segment: int = 4,
    steps: int = 20,
    guidance: float = 3.5,
    seed: int = 0,
    max_batch: int | None = None,
    align_scale: bool = True,
    progress: bool = True,
) -> ViewResults:
    """Views in segments of ``segment``, each segment generated from the previous segment's last
    view and its estimated depth (see the module docstring).

    Args:
        estimator: a :class:`~genwarp.depth.DepthEstimator` for the generated anchors.
        segment: views generated from each anchor.
        align_scale: rescale each estimated anchor depth to the previous anchor's depth warped into
            it (geometric-mean ratio on the pixels both see); without it the estimator's own scale is
            trusted.
    Other arguments as :func:`generate_views`.
    """
    if segment < 1:
        raise ValueError(f"segment must be ≥ 1, got {segment}")
    height, width = source.image.shape[-2:]
    latents = draw_latents(pipe, len(path), height, width, seed)
    anchor, anchor_c2w, anchor_index = source, torch.eye(4, dtype=torch.float64), -1
    images, warped, vis, anchors, depths = [], [], [], [], {}
    with tqdm(total=len(path), desc="views (autoregressive)", unit="view", disable=not progress) as bar:
        for start in range(0, len(path), segment):
            seg = path.slice(start, start + segment)
            rel = CameraPath((invert_rigid(anchor_c2w) @ seg.c2w.double()).float(), seg.intrinsics, seg.name)
            i, w, v = _run(pipe, anchor, rel, latents[start : start + len(seg)], steps=steps, guidance=guidance,
                           max_batch=max_batch or len(seg), progress=progress, bar=bar)
            images.append(i), warped.append(w), vis.append(v)
            anchors += [anchor_index] * len(seg)
            if start + len(seg) >= len(path):
                break
            # The last view of this segment becomes the next anchor.
            last = i[-1]
            new_depth = estimator.estimate(last[None])[0].float().cpu().clamp(min=1e-3)
            if align_scale:
                mask = anchor.depth_mask if anchor.depth_mask is not None else anchor.depth > 0
                ref, ok = warp_depth(anchor.depth[None], mask[None], anchor.intrinsics[None],
                                     seg.intrinsics[-1:], rel.src_to_tgt[-1:])
                from genwarp.depth import least_squares_scale

                scale = float(least_squares_scale(new_depth[None], ref, ok)[0])
                if scale == scale and scale > 0:  # not NaN: some pixel was seen by both
                    new_depth = new_depth * scale
            anchor_index = start + len(seg) - 1
            depths[anchor_index] = new_depth
            anchor = Source(last, new_depth, torch.ones_like(new_depth, dtype=torch.bool),
                            seg.intrinsics[-1].float(), anchor.window)
            anchor_c2w = seg.c2w[-1].double()
    return ViewResults(torch.cat(images), torch.cat(warped), torch.cat(vis), anchors, depths)
