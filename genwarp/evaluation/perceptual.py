"""LPIPS (Zhang et al. 2018) with AlexNet or VGG-16, written against the ``lpips`` package's weights.

``LPIPS(backbone, linear)`` is the metric itself for any feature network that returns a list of
feature maps: inputs in [0, 1] → [−1, 1] → LPIPS' scaling layer → features → channel-normalised
squared differences → per-layer 1×1 linear heads → spatial mean, summed over layers. With a mask
the per-layer maps are upsampled to the image (as ``lpips.LPIPS(spatial=True)``) and averaged
over the masked pixels.

:func:`build_lpips` makes the standard metric: torchvision's AlexNet / VGG-16 features loaded from
the standard local weights file (see :mod:`genwarp.evaluation.weights`, never downloaded) and the
linear heads shipped inside the ``lpips`` package (``lpips/weights/v0.1/<net>.pth``). Tests pass a
tiny random feature network to the same class.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch
from jaxtyping import Float
from torch import Tensor, nn
from torch.nn import functional as F

from genwarp.evaluation.metrics import check_pair, masked_mean
from genwarp.evaluation.weights import resolve_weights

__all__ = ["LPIPS", "LPIPS_TAPS", "TappedFeatures", "build_lpips", "lpips_linear_weights"]

#: torchvision ``features`` indices after which LPIPS reads a layer (ReLU outputs), and widths.
LPIPS_TAPS: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "alex": ((2, 5, 8, 10, 12), (64, 192, 384, 256, 256)),
    "vgg": ((4, 9, 16, 23, 30), (64, 128, 256, 512, 512)),
}


class TappedFeatures(nn.Module):
    """Run ``features`` (an ``nn.Sequential``) and return the outputs after the given indices."""

    def __init__(self, features: nn.Sequential, taps: Sequence[int]):
        super().__init__()
        self.features = features
        self.taps = tuple(int(t) for t in taps)

    def forward(self, x: Tensor) -> list[Tensor]:
        outs = []
        for i, layer in enumerate(self.features[: self.taps[-1]], start=1):
            x = layer(x)
            if i in self.taps:
                outs.append(x)
        return outs


class LPIPS(nn.Module):
    """The LPIPS distance for a feature network (see the module docstring).

    Args:
        backbone: module mapping a (B, 3, H, W) image (after the scaling layer) to a list of maps.
        channels: channel count of each returned map.
        linear: per-layer head weights, each (1, C_l, 1, 1); default all ones (then a plain
            distance between normalised features).
        name: metric name used in result tables (``lpips``, ``lpips_vgg``, ``lpips_random`` …).
    """

    def __init__(self, backbone: nn.Module, channels: Sequence[int], linear: Sequence[Tensor] | None = None,
                 name: str = "lpips"):
        super().__init__()
        self.backbone = backbone
        self.name = name
        self.lins = nn.ModuleList(nn.Conv2d(c, 1, 1, bias=False) for c in channels)
        for i, lin in enumerate(self.lins):
            w = linear[i] if linear is not None else torch.ones(1, channels[i], 1, 1)
            if tuple(w.shape) != tuple(lin.weight.shape):
                raise ValueError(f"LPIPS linear head {i} must have shape {tuple(lin.weight.shape)}, got {tuple(w.shape)}")
            lin.weight.data.copy_(w)
        self.register_buffer("shift", torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> LPIPS:  # always in eval mode (no dropout / BN updates)
        return super().train(False)

    def _maps(self, pred: Tensor, target: Tensor) -> list[Tensor]:
        x = (pred.clamp(0, 1) * 2 - 1 - self.shift) / self.scale
        y = (target.clamp(0, 1) * 2 - 1 - self.shift) / self.scale
        fx = self.backbone(torch.cat([x, y]))
        maps = []
        for lin, f in zip(self.lins, fx):
            a, b = f.chunk(2)
            a = a / (a.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            b = b / (b.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            maps.append(lin((a - b) ** 2))
        return maps

    @torch.no_grad()
    def forward(
        self,
        pred: Float[Tensor, "b 3 h w"],
        target: Float[Tensor, "b 3 h w"],
        mask: Float[Tensor, "b 1 h w"] | None = None,
    ) -> Float[Tensor, " b"]:
        """LPIPS per image (lower is closer); with ``mask``, over the masked pixels only."""
        check_pair(pred, target, mask, self.name)
        dev = self.shift.device
        maps = self._maps(pred.to(dev, torch.float32), target.to(dev, torch.float32))
        if mask is None:
            return sum(m.mean(dim=(1, 2, 3)) for m in maps)
        size = pred.shape[-2:]
        full = sum(F.interpolate(m, size=size, mode="bilinear", align_corners=False) for m in maps)
        return masked_mean(full, mask.to(dev))

    def spatial(self, pred: Float[Tensor, "b 3 h w"], target: Float[Tensor, "b 3 h w"]) -> Float[Tensor, "b 1 h w"]:
        """The LPIPS map at image resolution (``lpips.LPIPS(spatial=True)``)."""
        check_pair(pred, target, None, self.name)
        dev = self.shift.device
        with torch.no_grad():
            maps = self._maps(pred.to(dev, torch.float32), target.to(dev, torch.float32))
            return sum(F.interpolate(m, size=pred.shape[-2:], mode="bilinear", align_corners=False) for m in maps)


def lpips_linear_weights(net: str) -> list[Tensor]:
    """The LPIPS v0.1 linear heads of ``net`` shipped inside the ``lpips`` package."""
    try:
        import lpips  # noqa: F401  (only its weight files are used)
    except ImportError as err:
        raise ImportError("LPIPS needs the `lpips` package for its linear heads: pip install lpips") from err
    path = Path(os.path.dirname(lpips.__file__)) / "weights" / "v0.1" / f"{net}.pth"
    state = torch.load(path, map_location="cpu", weights_only=True)
    return [state[f"lin{i}.model.1.weight"].float() for i in range(len(LPIPS_TAPS[net][0]))]


def _torchvision_features(net: str) -> nn.Sequential:
    try:
        import torchvision
    except ImportError as err:
        raise ImportError("LPIPS needs torchvision for its AlexNet/VGG backbones: pip install torchvision") from err
    if net == "alex":
        return torchvision.models.alexnet(weights=None).features
    return torchvision.models.vgg16(weights=None).features


def build_lpips(
    net: str = "alex",
    backbone: str = "pretrained",
    weights_dir: str | os.PathLike | None = None,
    device: str | torch.device = "cpu",
    metrics: list[str] | None = None,
) -> LPIPS:
    """The standard LPIPS metric.

    Args:
        net: ``"alex"`` (the usual LPIPS) or ``"vgg"``.
        backbone: ``"pretrained"`` — ImageNet weights from the local standard file
            (``alexnet-owt-7be5be79.pth`` / ``vgg16-397923af.pth``; raises
            :class:`~genwarp.evaluation.weights.MissingWeightsError` when absent); ``"random"`` — a
            seeded random backbone (NOT the LPIPS of the literature; its name gets ``_random``).
        weights_dir: a folder (or file) to look in first.
        device: where the metric runs.
        metrics: the selected metric names (for the error message's override).
    """
    if net not in LPIPS_TAPS:
        raise ValueError(f"LPIPS net must be 'alex' or 'vgg', got {net!r}")
    if backbone not in ("pretrained", "random"):
        raise ValueError(f"LPIPS backbone must be 'pretrained' or 'random', got {backbone!r}")
    taps, channels = LPIPS_TAPS[net]
    name = "lpips" if net == "alex" else "lpips_vgg"
    if backbone == "pretrained":
        path = resolve_weights(net, weights_dir, metrics=metrics)
        features = _torchvision_features(net)
        state = torch.load(path, map_location="cpu", weights_only=True)
        feats = {k[len("features."):]: v for k, v in state.items() if k.startswith("features.")}
        if not feats:
            raise ValueError(f"{path} holds no 'features.*' tensors: not a torchvision {net} checkpoint")
        features.load_state_dict(feats)
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            features = _torchvision_features(net)
        name += "_random"
    metric = LPIPS(TappedFeatures(features, taps), channels, lpips_linear_weights(net), name=name)
    return metric.to(device)
