"""Camera conventions: intrinsics normalisation, rigid transforms, the OpenGL edge conversion."""

from __future__ import annotations

import math

import pytest
import torch

from genwarp.geometry import (
    check_rigid,
    focal_length_to_fov,
    fov_to_intrinsics,
    from_opengl,
    invert_rigid,
    normalized_to_pixel_intrinsics,
    opengl_look_at,
    opengl_projection_matrix,
    pixel_to_normalized_intrinsics,
    relative_transform,
    sph2cart,
    to_opengl,
)


def random_rigid(batch: int, generator: torch.Generator, dtype=torch.float64) -> torch.Tensor:
    q, _ = torch.linalg.qr(torch.randn(batch, 3, 3, generator=generator, dtype=dtype))
    q = q * torch.linalg.det(q).sign().reshape(-1, 1, 1)  # proper rotation
    T = torch.eye(4, dtype=dtype).repeat(batch, 1, 1)
    T[:, :3, :3] = q
    T[:, :3, 3] = torch.randn(batch, 3, generator=generator, dtype=dtype)
    return T


def test_normalized_pixel_intrinsics_round_trip():
    g = torch.Generator().manual_seed(0)
    K = torch.zeros(2, 3, 3, 3, dtype=torch.float64)  # two leading batch dims
    K[..., 0, 0] = 0.5 + torch.rand(2, 3, generator=g, dtype=torch.float64)
    K[..., 1, 1] = 0.5 + torch.rand(2, 3, generator=g, dtype=torch.float64)
    K[..., 0, 1] = 0.01 * torch.randn(2, 3, generator=g, dtype=torch.float64)  # skew
    K[..., 0, 2] = torch.rand(2, 3, generator=g, dtype=torch.float64)
    K[..., 1, 2] = torch.rand(2, 3, generator=g, dtype=torch.float64)
    K[..., 2, 2] = 1.0
    K_pix = normalized_to_pixel_intrinsics(K, 48, 64)
    torch.testing.assert_close(pixel_to_normalized_intrinsics(K_pix, 48, 64), K, rtol=0, atol=1e-12)
    torch.testing.assert_close(K_pix[..., 0, 0], K[..., 0, 0] * 64)
    torch.testing.assert_close(K_pix[..., 1, 1], K[..., 1, 1] * 48)
    torch.testing.assert_close(K_pix[..., 0, 2], K[..., 0, 2] * 64 - 0.5)
    torch.testing.assert_close(K_pix[..., 1, 2], K[..., 1, 2] * 48 - 0.5)


def test_release_principal_point_is_half_a_pixel_off_centre():
    # The release's cx_pix = W/2 (pixel centres at integers) is (W/2 + 0.5)/W normalised.
    K_pix = torch.tensor([[[20.0, 0.0, 16.0], [0.0, 20.0, 12.0], [0.0, 0.0, 1.0]]])
    K = pixel_to_normalized_intrinsics(K_pix, 24, 32)
    assert K[0, 0, 2].item() == pytest.approx((16 + 0.5) / 32)
    assert K[0, 1, 2].item() == pytest.approx((12 + 0.5) / 24)
    # The geometric image centre (0.5 normalised) is pixel (W−1)/2.
    centred = fov_to_intrinsics(torch.tensor([0.8]), 32 / 24)
    K_c = normalized_to_pixel_intrinsics(centred, 24, 32)
    assert K_c[0, 0, 2].item() == pytest.approx(15.5)
    assert K_c[0, 1, 2].item() == pytest.approx(11.5)


def test_fov_to_intrinsics_square_pixels():
    fov = torch.tensor([math.radians(55.0), math.radians(70.0)], dtype=torch.float64)
    K = fov_to_intrinsics(fov, 640 / 480)
    K_pix = normalized_to_pixel_intrinsics(K, 480, 640)
    torch.testing.assert_close(K_pix[:, 1, 1], 480 / (2 * torch.tan(fov / 2)))
    torch.testing.assert_close(K_pix[:, 0, 0], K_pix[:, 1, 1])  # square pixels
    assert fov_to_intrinsics(0.5).shape == (3, 3)
    assert focal_length_to_fov(12.0) == pytest.approx(2 * math.atan(1.0))


def test_invert_rigid_and_relative_transform():
    g = torch.Generator().manual_seed(1)
    src_c2w, tgt_c2w = random_rigid(5, g), random_rigid(5, g)
    eye = torch.eye(4, dtype=torch.float64).expand(5, 4, 4)
    torch.testing.assert_close(invert_rigid(src_c2w) @ src_c2w, eye)
    torch.testing.assert_close(invert_rigid(src_c2w), torch.linalg.inv(src_c2w))
    T = relative_transform(src_c2w, tgt_c2w)
    torch.testing.assert_close(T, torch.linalg.inv(tgt_c2w) @ src_c2w)
    # A source-frame point, through the world, lands where T sends it.
    X_src = torch.cat([torch.randn(5, 3, 1, generator=g, dtype=torch.float64), torch.ones(5, 1, 1, dtype=torch.float64)], 1)
    X_world = src_c2w @ X_src
    torch.testing.assert_close(T @ X_src, torch.linalg.inv(tgt_c2w) @ X_world)
    check_rigid(T)
    with pytest.raises(ValueError):
        check_rigid(T * 2.0, "scaled")


def test_from_opengl_standard_projection():
    H, W = 24, 32
    fovy = torch.tensor([math.radians(55.0), math.radians(40.0)], dtype=torch.float64)
    P = opengl_projection_matrix(fovy, W / H, 0.5, 20.0)
    rel = torch.eye(4, dtype=torch.float64).repeat(2, 1, 1)
    rel[:, :3, 3] = torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64)
    conv = from_opengl(P, P, rel, H, W)
    K_pix = normalized_to_pixel_intrinsics(conv.src_intrinsics, H, W)
    f = H / (2 * torch.tan(fovy / 2))
    torch.testing.assert_close(K_pix[:, 0, 0], f)
    torch.testing.assert_close(K_pix[:, 1, 1], f)
    torch.testing.assert_close(K_pix[:, 0, 2], torch.full_like(f, W / 2))
    torch.testing.assert_close(K_pix[:, 1, 2], torch.full_like(f, H / 2))
    # y and z flip between OpenGL eye axes and OpenCV axes.
    torch.testing.assert_close(conv.src_to_tgt[:, :3, 3], torch.tensor([[0.1, -0.2, -0.3]] * 2, dtype=torch.float64))
    torch.testing.assert_close(conv.near, torch.full((2,), 0.5, dtype=torch.float64))
    torch.testing.assert_close(conv.far, torch.full((2,), 20.0, dtype=torch.float64))
    # The inverse conversion gives the matrices back.
    Ps, Pt, V = to_opengl(conv.src_intrinsics, conv.tgt_intrinsics, conv.src_to_tgt, H, W, conv.near, conv.far)
    torch.testing.assert_close(Ps, P)
    torch.testing.assert_close(Pt, P)
    torch.testing.assert_close(V, rel)


def test_from_opengl_off_centre_principal_point_round_trip():
    H, W = 24, 32
    K = torch.tensor([[[0.9, 0.0, 0.47], [0.0, 1.1, 0.55], [0.0, 0.0, 1.0]]], dtype=torch.float64)
    T = torch.eye(4, dtype=torch.float64)[None].clone()
    T[0, :3, 3] = torch.tensor([0.3, -0.1, 0.2], dtype=torch.float64)
    Ps, Pt, V = to_opengl(K, K, T, H, W, near=1.0, far=20.0)
    assert Ps[0, 0, 2] != 0 and Ps[0, 1, 2] != 0
    conv = from_opengl(Ps, Pt, V, H, W)
    torch.testing.assert_close(conv.src_intrinsics, K)
    torch.testing.assert_close(conv.src_to_tgt, T)


def test_opengl_look_at_and_sph2cart():
    eye = sph2cart(torch.tensor(0.3, dtype=torch.float64), torch.tensor(0.2, dtype=torch.float64), 2.0)
    torch.testing.assert_close(
        eye, torch.tensor([2 * math.cos(0.2) * math.cos(0.3), 2 * math.cos(0.2) * math.sin(0.3), 2 * math.sin(0.2)], dtype=torch.float64)
    )
    target = torch.zeros(3, dtype=torch.float64)
    up = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)
    M = opengl_look_at(eye, target, up)
    R = M[:3, :3]
    torch.testing.assert_close(R @ R.T, torch.eye(3, dtype=torch.float64))
    torch.testing.assert_close((M @ torch.cat([eye, torch.ones(1, dtype=torch.float64)]))[:3], torch.zeros(3, dtype=torch.float64))
    # The target lies on the eye's −z axis (OpenGL cameras look down −z).
    t_eye = (M @ torch.tensor([0.0, 0.0, 0.0, 1.0], dtype=torch.float64))[:3]
    torch.testing.assert_close(t_eye[:2], torch.zeros(2, dtype=torch.float64))
    assert t_eye[2] < 0


def test_bad_matrix_shapes_raise():
    with pytest.raises(ValueError, match="K"):
        normalized_to_pixel_intrinsics(torch.zeros(4, 4), 8, 8)
    with pytest.raises(ValueError, match="rel_view"):
        from_opengl(torch.zeros(1, 4, 4), torch.zeros(1, 4, 4), torch.zeros(1, 3, 3), 8, 8)
