"""The metric suite: the metrics chosen by ``metrics=[psnr,ssim,lpips,fid]``, built once.

Per-pair columns (one value per pair, averaged over pairs in summaries):

* ``psnr``, ``ssim``, ``lpips`` (AlexNet), ``lpips_vgg`` — on the whole image;
* ``<metric>_visible`` / ``<metric>_invisible`` — the same on the target pixels that the source
  does / does not see (given a visibility mask); NaN where a region is empty;
* ``<lpips>_src_tgt`` — LPIPS(source, target), the pair's *difficulty* (Fig. 8), given the source.

Distribution metrics (``fid``) are one number per group of pairs (a range, or all).
An LPIPS with a random backbone is named ``lpips_random`` (``lpips_vgg_random``) everywhere, so it
can never be mistaken for the standard metric.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch
from jaxtyping import Float
from torch import Tensor

from genwarp.evaluation.fid import FIDMetric
from genwarp.evaluation.metrics import psnr, ssim
from genwarp.evaluation.perceptual import LPIPS, build_lpips
from genwarp.evaluation.weights import check_weights

__all__ = ["KNOWN_METRICS", "MetricSuite", "REGIONS", "check_metric_names"]

KNOWN_METRICS = ("psnr", "ssim", "lpips", "lpips_vgg", "fid")
REGIONS = ("visible", "invisible")


def check_metric_names(names) -> list[str]:
    """Validate a ``metrics=[...]`` selection (raises ``ValueError`` naming the unknown entry)."""
    names = [str(n) for n in names]
    if not names:
        raise ValueError(f"metrics must name at least one of {KNOWN_METRICS}")
    for n in names:
        if n not in KNOWN_METRICS:
            raise ValueError(f"unknown metric {n!r} in metrics={names}; known: {list(KNOWN_METRICS)}")
    return list(dict.fromkeys(names))


@dataclass
class MetricSuite:
    """Selected metrics, ready to score batches.

    Build with :meth:`build`; tests pass ``lpips_modules`` / ``fid_extractor`` to inject tiny
    random networks (everything else runs the same code).
    """

    names: list[str]
    lpips: list[LPIPS] = field(default_factory=list)
    fid: FIDMetric | None = None
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @classmethod
    def build(
        cls,
        names=("psnr", "ssim", "lpips", "fid"),
        *,
        lpips_backbone: str = "pretrained",
        weights_dir: str | os.PathLike | None = None,
        device: str | torch.device = "cpu",
        lpips_modules: dict[str, LPIPS] | None = None,
        fid_extractor: torch.nn.Module | None = None,
    ) -> MetricSuite:
        """Build the metrics in ``names``.

        Args:
            names: subset of :data:`KNOWN_METRICS`.
            lpips_backbone: ``"pretrained"`` (local standard weights, else a clear error) or
                ``"random"`` (columns are then named ``*_random``).
            weights_dir: extra folder searched for the backbone weights.
            device: where the metrics run.
            lpips_modules: injected LPIPS modules by metric name (``lpips`` / ``lpips_vgg``).
            fid_extractor: injected FID feature network.
        """
        names = check_metric_names(names)
        device = torch.device(device)
        injected = set(lpips_modules or {}) | ({"fid"} if fid_extractor is not None else set())
        needed = [key for metric, key in (("lpips", "alex"), ("lpips_vgg", "vgg"), ("fid", "inception"))
                  if metric in names and metric not in injected and (metric == "fid" or lpips_backbone == "pretrained")]
        check_weights(needed, weights_dir, metrics=names)  # every missing file in one error, before building
        nets = []
        for metric, net in (("lpips", "alex"), ("lpips_vgg", "vgg")):
            if metric not in names:
                continue
            if lpips_modules and metric in lpips_modules:
                nets.append(lpips_modules[metric].to(device))
            else:
                nets.append(build_lpips(net, lpips_backbone, weights_dir, device, metrics=names))
        fid = None
        if "fid" in names:
            fid = FIDMetric(fid_extractor, device=device, weights_dir=weights_dir, metrics=names)
        return cls(names=names, lpips=nets, fid=fid, device=device)

    @property
    def pairwise_names(self) -> list[str]:
        """Whole-image per-pair metric columns, in order."""
        out = [n for n in ("psnr", "ssim") if n in self.names]
        return out + [m.name for m in self.lpips]

    def columns(self, with_regions: bool = True, with_difficulty: bool = True) -> list[str]:
        cols = list(self.pairwise_names)
        if with_regions:
            cols += [f"{n}_{r}" for r in REGIONS for n in self.pairwise_names]
        if with_difficulty:
            cols += [f"{m.name}_src_tgt" for m in self.lpips]
        return cols

    @torch.no_grad()
    def score(
        self,
        pred: Float[Tensor, "b 3 h w"],
        target: Float[Tensor, "b 3 h w"],
        visibility: Float[Tensor, "b 1 h w"] | None = None,
        source: Float[Tensor, "b 3 h w"] | None = None,
    ) -> dict[str, Tensor]:
        """Per-pair metric values, ``{column: (B,) float tensor on the CPU}``."""
        pred = pred.to(self.device, torch.float32)
        target = target.to(self.device, torch.float32)
        masks: dict[str, Tensor | None] = {"": None}
        if visibility is not None:
            vis = (visibility.to(self.device, torch.float32) > 0.5).float()
            masks["_visible"] = vis
            masks["_invisible"] = 1.0 - vis
        out: dict[str, Tensor] = {}
        for suffix, mask in masks.items():
            if "psnr" in self.names:
                out["psnr" + suffix] = psnr(pred, target, mask)
            if "ssim" in self.names:
                out["ssim" + suffix] = ssim(pred, target, mask)
            for net in self.lpips:
                out[net.name + suffix] = net(pred, target, mask)
        if source is not None:
            for net in self.lpips:
                out[f"{net.name}_src_tgt"] = net(source.to(self.device, torch.float32), target)
        return {k: v.detach().float().cpu() for k, v in out.items()}

    def update_fid(self, pred: Tensor, target: Tensor, groups: list[str]) -> None:
        """Add pairs to the FID accumulators: each pair to ``all`` and to its own group."""
        if self.fid is None:
            return
        self.fid.update(target, pred, "all")
        for g in dict.fromkeys(groups):
            idx = [i for i, gi in enumerate(groups) if gi == g]
            self.fid.update(target[idx], pred[idx], g)

    def compute_fid(self) -> dict[str, float]:
        """``{group: FID}`` for every group seen (``all`` included); empty without FID."""
        if self.fid is None:
            return {}
        return {g: self.fid.compute(g) for g in self.fid.groups()}
