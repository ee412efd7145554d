"""Shims change pixels and intrinsics together: a known 3D point projects, before and after, to
the same image content."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from genwarp.data import (
    CenterCrop,
    Compose,
    RandomCrop,
    Resize,
    ResizeShortSide,
    SixteenNineToSquare,
    View,
    make_shim,
)


def coord_image(h: int, w: int) -> torch.Tensor:
    """Channels 0/1 hold the normalised coordinates of each pixel centre in the ORIGINAL image;
    linear ramps survive bilinear/area resampling exactly away from the borders."""
    u = (torch.arange(w) + 0.5) / w
    v = (torch.arange(h) + 0.5) / h
    return torch.stack([u[None].expand(h, w), v[:, None].expand(h, w), torch.zeros(h, w)])


def project_norm(K: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    x = K @ X.T
    return (x[:2] / x[2:]).T  # normalised image coordinates (u, v), pixel centres at (i+0.5)/W


def sample_at(img: torch.Tensor, uv: torch.Tensor) -> torch.Tensor:
    grid = (uv * 2 - 1).view(1, -1, 1, 2)
    return F.grid_sample(img[None], grid, mode="bilinear", align_corners=False)[0, :2, :, 0].T


K0 = torch.tensor([[0.55, 0.0, 0.48], [0.0, 0.98, 0.52], [0.0, 0.0, 1.0]])


@pytest.mark.parametrize(
    "shim",
    [
        Resize((45, 80)),
        Resize((64, 64)),  # aspect change
        ResizeShortSide(30),
        CenterCrop((60, 70)),
        RandomCrop((50, 90), shared=True),
        SixteenNineToSquare(),
        make_shim(48, crop="center"),
        make_shim((40, 56), crop="random"),
        Compose([CenterCrop((80, 120)), Resize((40, 60)), RandomCrop(32)]),
    ],
)
def test_shim_keeps_projections(shim):
    H, W = 90, 160
    rng = np.random.default_rng(0)
    X = torch.tensor(rng.uniform([-0.5, -0.3, 2.0], [0.5, 0.3, 4.0], size=(200, 3)), dtype=torch.float32)
    view = View(coord_image(H, W), K0.clone(), torch.eye(4), depth=torch.rand(1, H, W) + 1, depth_valid=torch.ones(1, H, W, dtype=torch.bool))
    (out,) = shim([view], np.random.default_rng(3))
    h, w = out.size
    assert out.depth.shape == (1, h, w) and out.depth_valid.shape == (1, h, w)
    uv_before = project_norm(K0, X)
    uv_after = project_norm(out.intrinsics, X)
    # only points well inside the output image (1.5 px margin: bilinear border effects)
    margin = torch.tensor([1.5 / w, 1.5 / h])
    inside = ((uv_after > margin) & (uv_after < 1 - margin)).all(1)
    assert inside.sum() > 20
    recovered = sample_at(out.image, uv_after[inside])
    torch.testing.assert_close(recovered, uv_before[inside], atol=2e-3, rtol=0)


def test_random_crop_shared_within_pair_and_seeded():
    H, W = 40, 60
    views = [View(coord_image(H, W), K0.clone(), torch.eye(4)) for _ in range(2)]
    a, b = RandomCrop(20)(views, np.random.default_rng(5))
    torch.testing.assert_close(a.intrinsics, b.intrinsics)
    torch.testing.assert_close(a.image, b.image)
    c, _ = RandomCrop(20)(views, np.random.default_rng(5))
    torch.testing.assert_close(a.image, c.image)


def test_sixteen_nine_to_square_centres():
    view = View(coord_image(72, 128), K0.clone(), torch.eye(4))
    (out,) = SixteenNineToSquare()([view])
    assert out.size == (72, 72)
    K = out.intrinsics
    assert K[0, 0] == pytest.approx(0.55 * 128 / 72)
    assert K[0, 2] == pytest.approx((0.48 * 128 - 28) / 72)
    assert K[1, 1] == pytest.approx(0.98) and K[1, 2] == pytest.approx(0.52)


def test_depth_resampled_with_nearest():
    depth = torch.ones(1, 8, 8)
    depth[..., 4:] = 10.0
    view = View(torch.rand(3, 8, 8), K0.clone(), torch.eye(4), depth=depth, depth_valid=depth > 0)
    (out,) = Resize(5)([view])
    assert set(out.depth.unique().tolist()) <= {1.0, 10.0}  # no blended depth across the edge
