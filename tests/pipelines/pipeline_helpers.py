"""Scenes and initial noise shared by the pipeline tests (tiny random pipelines at 64²)."""

from __future__ import annotations

import torch

from genwarp.geometry import fov_to_intrinsics

H = W = 64


def _scene(b=2, n=None, seed=0):
    """``(image, depth, src_K, tgt_K, src_to_tgt)`` for ``b`` sources (``n`` views each if given)."""
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(b, 3, H, W, generator=g)
    depth = 1.5 + torch.rand(b, 1, H, W, generator=g)
    K = fov_to_intrinsics(torch.full((b,), 0.9), 1.0)
    views = n or 1
    T = torch.eye(4).repeat(b, views, 1, 1)
    T[..., 0, 3] = torch.linspace(-0.2, 0.2, views)
    T[..., 2, 3] = 0.1
    return image, depth, K, K, (T if n else T[:, 0])


def _latents(b, seed=1):
    return torch.randn(b, 4, H // 8, W // 8, generator=torch.Generator().manual_seed(seed))
