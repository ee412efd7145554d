"""Pinhole projection: pixel grid, unprojection, transforms, projection."""

from __future__ import annotations

import pytest
import torch

from genwarp.geometry import pixel_grid, project, transform_points, unproject


def test_pixel_grid_is_integer_centred():
    g = pixel_grid(3, 4)
    assert g.shape == (2, 3, 4)
    assert g[0, 2, 3] == 3 and g[1, 2, 3] == 2  # channel 0 = column x, channel 1 = row y
    assert g[0, 0, 0] == 0 and g[1, 0, 0] == 0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_project_unproject_round_trip(dtype):
    gen = torch.Generator().manual_seed(0)
    B, H, W = 3, 12, 20
    depth = (0.5 + 5 * torch.rand(B, 1, H, W, generator=gen)).to(dtype)
    K = torch.tensor([[0.9, 0.01, 0.48], [0.0, 1.2, 0.53], [0.0, 0.0, 1.0]], dtype=dtype).repeat(B, 1, 1)
    points = unproject(depth, K)
    assert points.shape == (B, 3, H, W)
    torch.testing.assert_close(points[:, 2:], depth)  # z-depth, not ray length
    xy, z = project(points, K, H, W)
    tol = 1e-4 if dtype == torch.float32 else 1e-10
    torch.testing.assert_close(xy, pixel_grid(H, W, dtype=dtype).expand(B, 2, H, W), rtol=0, atol=tol)
    torch.testing.assert_close(z, depth)


def test_unproject_pixel_centre_convention():
    # A centred normalised principal point (0.5) is the geometric centre: pixel (W−1)/2.
    H, W = 4, 6
    K = torch.tensor([[[1.0, 0.0, 0.5], [0.0, 1.5, 0.5], [0.0, 0.0, 1.0]]])
    points = unproject(torch.ones(1, 1, H, W), K)
    # Symmetric about the image centre.
    torch.testing.assert_close(points[0, 0], -points[0, 0].flip(-1))
    torch.testing.assert_close(points[0, 1], -points[0, 1].flip(-2))
    # One pixel step = 1 / fx_pix.
    assert (points[0, 0, 0, 1] - points[0, 0, 0, 0]).item() == pytest.approx(1 / W)


def test_transform_points_matches_homogeneous_product():
    gen = torch.Generator().manual_seed(1)
    T = torch.eye(4).repeat(2, 1, 1)
    T[:, :3, :] = torch.randn(2, 3, 4, generator=gen)
    pts = torch.randn(2, 3, 5, 7, generator=gen)
    out = transform_points(T, pts)
    hom = torch.cat([pts.reshape(2, 3, -1), torch.ones(2, 1, 35)], 1)
    torch.testing.assert_close(out.reshape(2, 3, -1), (T @ hom)[:, :3])


def test_projection_shape_errors_name_the_argument():
    with pytest.raises(ValueError, match="`depth` has shape \\(2, 3, 4, 4\\)"):
        unproject(torch.ones(2, 3, 4, 4), torch.eye(3).repeat(2, 1, 1))
    with pytest.raises(ValueError, match="`intrinsics`"):
        unproject(torch.ones(2, 1, 4, 4), torch.eye(3).repeat(3, 1, 1))
    with pytest.raises(ValueError, match="`T`"):
        transform_points(torch.eye(4), torch.ones(1, 3, 4))
    with pytest.raises(ValueError, match="`points`"):
        project(torch.ones(1, 4, 5), torch.eye(3)[None], 4, 4)
