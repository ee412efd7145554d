"""Helpers of the evaluation tests: tiny random metric networks (no download anywhere)."""

from __future__ import annotations

import torch
from torch import nn

from genwarp.evaluation.perceptual import LPIPS, TappedFeatures


class TinyFeatures(nn.Module):
    """A FID-style extractor: uint8 images → (B, 16) pooled features."""

    num_features = 16

    def __init__(self, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.conv = nn.Conv2d(3, 16, 5, stride=2)
        with torch.no_grad():
            self.conv.weight.copy_(torch.randn(self.conv.weight.shape, generator=g) * 0.2)
            self.conv.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float() / 255.0
        return torch.tanh(self.conv(x)).mean(dim=(2, 3))


def tiny_lpips(seed: int = 0, name: str = "lpips") -> LPIPS:
    g = torch.Generator().manual_seed(seed)
    features = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 8, 3, stride=2, padding=1), nn.ReLU())
    with torch.no_grad():
        for p in features.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    linear = [torch.rand(1, 4, 1, 1, generator=g), torch.rand(1, 8, 1, 1, generator=g)]
    return LPIPS(TappedFeatures(features, (2, 4)), (4, 8), linear, name=name)


