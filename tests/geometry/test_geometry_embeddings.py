"""Coordinate (Fourier) and Plücker embeddings."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genwarp.geometry import (
    coordinate_embedding,
    coordinate_grid,
    embedding_channels,
    fourier_embedding,
    fov_to_intrinsics,
    plucker_embedding,
)
from genwarp.geometry.cameras import normalized_to_pixel_intrinsics


def test_embedding_matches_official_golden(golden_file):
    g = np.load(golden_file("embed_golden.npz"))
    H, W = int(g["H"]), int(g["W"])
    coords = coordinate_grid(H, W, "release")
    np.testing.assert_allclose(coords.numpy(), g["coords"], rtol=0, atol=1e-6)
    emb = coordinate_embedding(2, H, W, normalization="release", num_frequencies=2)
    assert emb.shape == (2, 10, H, W)
    err = np.abs(emb.numpy() - g["embed"][None]).max()
    assert err <= 1e-6, err
    # Same through the lower-level function, unbatched.
    np.testing.assert_allclose(fourier_embedding(coords).numpy(), g["embed"], rtol=0, atol=1e-6)


def test_release_grid_quirk_and_pixel_centres():
    H, W = 3, 5
    rel = coordinate_grid(H, W, "release")
    assert rel[0, 0, 4].item() == pytest.approx(4 / H)  # column divided by the HEIGHT
    assert rel[1, 2, 0].item() == pytest.approx(2 / W)  # row divided by the WIDTH
    pc = coordinate_grid(H, W, "pixel_centers")
    assert pc[0, 0, 4].item() == pytest.approx(4.5 / W)
    assert pc[1, 2, 0].item() == pytest.approx(2.5 / H)
    with pytest.raises(ValueError, match="normalization"):
        coordinate_grid(H, W, "bogus")


def test_fourier_channel_order():
    c = torch.tensor([0.3, -0.7]).reshape(2, 1, 1)
    e = fourier_embedding(c, num_frequencies=3).flatten()
    cx, cy = 0.3, -0.7
    expected = [cx, cy]
    for f in (1.0, 2.0, 4.0):
        expected += [np.sin(f * cx), np.sin(f * cy), np.cos(f * cx), np.cos(f * cy)]
    np.testing.assert_allclose(e.numpy(), expected, rtol=0, atol=1e-6)
    assert embedding_channels(3) == 14 == e.numel()
    assert coordinate_embedding(1, 4, 4, num_frequencies=0).shape == (1, 2, 4, 4)


def test_plucker_sanity():
    B, H, W = 2, 6, 8
    K = fov_to_intrinsics(torch.tensor([0.9, 1.2]), W / H)
    identity = torch.eye(4).repeat(B, 1, 1)
    p = plucker_embedding(K, identity, H, W)
    assert p.shape == (B, 6, H, W)
    torch.testing.assert_close(p[:, :3].norm(dim=1), torch.ones(B, H, W))
    torch.testing.assert_close(p[:, 3:], torch.zeros(B, 3, H, W))  # camera at the origin
    # Identity camera: direction ∝ K_pix⁻¹ (x, y, 1).
    K_pix = normalized_to_pixel_intrinsics(K, H, W)
    d = p[0, :, 2, 5][:3]
    ray = torch.linalg.solve(K_pix[0], torch.tensor([5.0, 2.0, 1.0]))
    torch.testing.assert_close(d, ray / ray.norm())

    # A moved camera: the moment is perpendicular to the direction and equals c × d.
    c2r = torch.eye(4).repeat(B, 1, 1)
    angle = torch.tensor(0.3)
    c2r[:, 0, 0] = c2r[:, 2, 2] = torch.cos(angle)
    c2r[:, 0, 2], c2r[:, 2, 0] = torch.sin(angle), -torch.sin(angle)
    c2r[:, :3, 3] = torch.tensor([0.5, -0.2, 1.0])
    q = plucker_embedding(K, c2r, H, W)
    d, m = q[:, :3], q[:, 3:]
    torch.testing.assert_close(d.norm(dim=1), torch.ones(B, H, W))
    assert (d * m).sum(dim=1).abs().max() < 1e-5
    # Every point c + s·d on the ray has the same moment.
    pts = c2r[:, :3, 3].reshape(B, 3, 1, 1) + 2.0 * d
    torch.testing.assert_close(torch.linalg.cross(pts, d, dim=1), m, atol=1e-5, rtol=0)


def test_plucker_shape_errors():
    with pytest.raises(ValueError, match="`cam_to_ref`"):
        plucker_embedding(torch.eye(3)[None], torch.eye(4).repeat(2, 1, 1), 4, 4)
