"""Condition builders: channel counts, identity behaviour, several targets per source."""

from __future__ import annotations

import math

import pytest
import torch

from genwarp.geometry import (
    CONDITION_KINDS,
    build_conditions,
    condition_channels,
    fov_to_intrinsics,
    invert_rigid,
    plucker_embedding,
)


def problem(B=2, H=12, W=16, seed=0):
    gen = torch.Generator().manual_seed(seed)
    img = torch.rand(B, 3, H, W, generator=gen)
    depth = 1.0 + 3 * torch.rand(B, 1, H, W, generator=gen)
    K = fov_to_intrinsics(torch.full((B,), math.radians(55.0)), W / H)
    T = torch.eye(4).repeat(B, 1, 1)
    T[:, :3, 3] = 0.2 * torch.randn(B, 3, generator=gen)
    return img, depth, K, T


def test_channel_counts():
    assert condition_channels("coords") == 11
    assert condition_channels("coords", num_frequencies=3) == 15
    assert condition_channels("depth") == 2
    assert condition_channels("image") == 4
    assert condition_channels("plucker") == 6
    with pytest.raises(ValueError, match="kind"):
        condition_channels("rgbd")


@pytest.mark.parametrize("kind", CONDITION_KINDS)
@pytest.mark.parametrize("importance", ("inverse_depth", "release"))
def test_each_kind_shapes(kind, importance):
    img, depth, K, T = problem()
    B, _, H, W = img.shape
    c = build_conditions(kind, img, depth, K, K, T, importance=importance)
    n = condition_channels(kind)
    assert c.source.shape == c.target.shape == (B, n, H, W)
    assert c.warped_image.shape == (B, 3, H, W)
    assert c.visibility.shape == (B, 1, H, W)
    assert c.correspondence.shape == (B, 2, H, W)
    for x in (c.source, c.target, c.warped_image, c.visibility):
        assert bool(torch.isfinite(x).all())
    if kind != "plucker":
        torch.testing.assert_close(c.target[:, -1:], 1 - c.visibility)  # hole channel
        assert bool((c.source[:, -1] == 0).all())


@pytest.mark.parametrize("kind", ("coords", "depth", "image"))
def test_identity_motion_target_equals_source(kind):
    img, depth, K, _ = problem(B=1)
    T = torch.eye(4)[None].double()
    c = build_conditions(kind, img.double(), depth.double(), K.double(), K.double(), T)
    # Only the eps of num/(den + eps) separates them: a relative bias ≤ 1e-6 (weights ≥ 1).
    torch.testing.assert_close(c.target, c.source, atol=2e-6, rtol=0)


def test_coords_kind_uses_the_requested_embedding():
    img, depth, K, T = problem(B=1)
    c = build_conditions("coords", img, depth, K, K, T, normalization="pixel_centers", num_frequencies=3)
    assert c.source.shape[1] == 15
    H, W = img.shape[-2:]
    assert c.source[0, 0, 0, 1].item() == pytest.approx(1.5 / W)


def test_depth_condition_is_scale_invariant_and_measured_in_target_view():
    img, depth, K, T = problem(B=1)
    c1 = build_conditions("depth", img.double(), depth.double(), K.double(), K.double(), T.double())
    Ts = T.double().clone()
    Ts[:, :3, 3] *= 7.0
    c2 = build_conditions("depth", img.double(), 7.0 * depth.double(), K.double(), K.double(), Ts)
    torch.testing.assert_close(c1.source, c2.source)
    torch.testing.assert_close(c1.target, c2.target)
    # Moving the camera straight back by 1 unit adds 1 to every z: the target quantity is median/z'.
    Tb = torch.eye(4, dtype=torch.float64)[None].clone()
    Tb[0, 2, 3] = 1.0
    d = torch.full((1, 1, 12, 16), 2.0, dtype=torch.float64)
    c = build_conditions("depth", img.double(), d, K.double(), K.double(), Tb)
    vis = c.visibility[0, 0] > 0
    assert c.source[0, 0].allclose(torch.ones_like(d[0, 0]))
    torch.testing.assert_close(c.target[0, 0][vis], torch.full_like(c.target[0, 0][vis], 2.0 / 3.0), atol=1e-5, rtol=0)


def test_plucker_target_is_target_camera_in_source_frame():
    img, depth, K, T = problem()
    c = build_conditions("plucker", img, depth, K, K, T)
    H, W = img.shape[-2:]
    torch.testing.assert_close(c.source, plucker_embedding(K, torch.eye(4).repeat(2, 1, 1), H, W))
    torch.testing.assert_close(c.target, plucker_embedding(K, invert_rigid(T), H, W))
    assert c.source[:, 3:].abs().max() == 0 and c.target[:, 3:].abs().max() > 0
    T_id = torch.eye(4).repeat(2, 1, 1)
    c_id = build_conditions("plucker", img, depth, K, K, T_id)
    torch.testing.assert_close(c_id.target, c_id.source)


def test_several_targets_per_source_by_repeating_the_source():
    img, depth, K, _ = problem(B=1)
    n = 3
    T = torch.eye(4).repeat(n, 1, 1)
    T[:, 0, 3] = torch.tensor([-0.2, 0.0, 0.3])
    rep = lambda x: x.repeat_interleave(n, dim=0)  # noqa: E731
    c = build_conditions("coords", rep(img), rep(depth), rep(K), rep(K), T)
    for i in range(n):
        ci = build_conditions("coords", img, depth, K, K, T[i : i + 1])
        torch.testing.assert_close(c.target[i : i + 1], ci.target, atol=1e-6, rtol=0)
        torch.testing.assert_close(c.source[i : i + 1], ci.source)


def test_bad_inputs_raise():
    img, depth, K, T = problem()
    with pytest.raises(ValueError, match="kind"):
        build_conditions("normals", img, depth, K, K, T)
    with pytest.raises(ValueError, match="`depth` has shape"):
        build_conditions("coords", img, depth[:1], K, K, T)
    with pytest.raises(ValueError, match="`image` has shape"):
        build_conditions("coords", img[:, :1], depth, K, K, T)
    with pytest.raises(ValueError, match="`src_to_tgt`"):
        build_conditions("coords", img, depth, K, K, T[:, :3])


@pytest.mark.parametrize("kind", CONDITION_KINDS)
def test_missing_depth_gives_finite_conditions(kind):
    img, depth, K, T = problem()
    depth[0, 0, 1, 1] = 0.0
    depth[1, 0, 2, 2] = float("nan")
    c = build_conditions(kind, img, depth, K, K, T)
    for x in (c.source, c.target, c.warped_image, c.visibility):
        assert bool(torch.isfinite(x).all())
    if kind == "depth":
        assert c.source[0, 0, 1, 1] == 0 and c.source[1, 0, 2, 2] == 0
