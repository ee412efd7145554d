"""Forward warping: identity, translations, plane homography, occlusion, modes, gradients, errors."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch

from genwarp.geometry import (
    HOUSE_LOG_WEIGHT_SHIFT,
    INVALID_COORDINATE,
    forward_warp,
    fov_to_intrinsics,
    normalized_to_pixel_intrinsics,
    pixel_grid,
    softmax_splat,
    splat_importance,
)

MODES = ("inverse_depth", "release")


def make_K(B: int, H: int, W: int, fov_deg: float = 50.0, dtype=torch.float32) -> torch.Tensor:
    return fov_to_intrinsics(torch.full((B,), math.radians(fov_deg), dtype=dtype), W / H)


def eye4(B: int, dtype=torch.float32) -> torch.Tensor:
    return torch.eye(4, dtype=dtype).repeat(B, 1, 1)


def rot_y(angle: float, dtype=torch.float64) -> torch.Tensor:
    c, s = math.cos(angle), math.sin(angle)
    return torch.tensor([[c, 0, s], [0, 1, 0], [-s, 0, c]], dtype=dtype)


def smooth_texture(H: int, W: int) -> np.ndarray:
    y, x = np.mgrid[0:H, 0:W].astype(np.float64)
    r = 0.5 + 0.25 * np.sin(2 * np.pi * x / 17 + 0.3) * np.cos(2 * np.pi * y / 13) + 0.2 * np.sin(2 * np.pi * (x + y) / 29)
    g = 0.5 + 0.4 * np.cos(2 * np.pi * x / 23)
    b = 0.5 + 0.4 * np.sin(2 * np.pi * y / 19 + 1.0)
    return np.stack([r, g, b])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("importance", MODES)
def test_identity_motion_warps_onto_itself(importance, dtype):
    gen = torch.Generator().manual_seed(0)
    B, H, W = 2, 16, 20
    img = torch.rand(B, 3, H, W, generator=gen, dtype=dtype)
    depth = 0.5 + 4 * torch.rand(B, 1, H, W, generator=gen, dtype=dtype)
    K = make_K(B, H, W, dtype=dtype)
    warped, vis, corr = forward_warp(img, depth, K, K, eye4(B, dtype), importance=importance, return_correspondence=True)
    # Each pixel receives only its own point: value·e/(e + eps). The release's weights e = exp(imp)
    # go down to e^−10, so eps = 1e-6 darkens far points by up to ≈2.2 %; the house mode splats
    # with log-weights shifted to [0, 10] (e ≥ 1), leaving at most a 1e-6 relative bias.
    shift = 0.0 if importance == "release" else HOUSE_LOG_WEIGHT_SHIFT
    e = (splat_importance(depth, importance=importance) + shift).exp()
    expected = img * e / (e + 1e-6)
    assert ((img - expected).abs().max() > 0.01) == (importance == "release")
    # float32: a point landing ~1e-7 px off its pixel leaks a ~1e-7 bilinear weight to the
    # neighbour, amplified by up to e^10 when the neighbour's own point is far: ~2e-3 at worst.
    atol = 1e-9 if dtype == torch.float64 else 5e-3
    torch.testing.assert_close(warped, expected, atol=atol, rtol=0)
    assert bool((vis == 1).all())
    torch.testing.assert_close(corr, pixel_grid(H, W, dtype=dtype).expand(B, 2, H, W), atol=atol * 1e-1, rtol=0)


@pytest.mark.parametrize("importance", MODES)
def test_fronto_parallel_translation_shifts_by_whole_pixels(importance):
    B, H, W, Z, shift = 1, 10, 12, 2.0, 3
    img = torch.rand(B, 3, H, W, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    depth = torch.full((B, 1, H, W), Z, dtype=torch.float64)
    K = make_K(B, H, W, dtype=torch.float64)
    fx_pix = normalized_to_pixel_intrinsics(K, H, W)[0, 0, 0]
    T = eye4(B, torch.float64)
    T[0, 0, 3] = shift * Z / fx_pix  # x' = x + fx·t/Z
    warped, vis = forward_warp(img, depth, K, K, T, importance=importance)
    # Constant depth: every log-weight is −10 (release) or 0 (house, shifted), see SplatInputs.
    scale = math.exp(-10) / (math.exp(-10) + 1e-6) if importance == "release" else 1 / (1 + 1e-6)
    torch.testing.assert_close(warped[..., shift:], scale * img[..., :-shift], atol=1e-9, rtol=0)
    assert bool((vis[..., :shift] == 0).all()) and bool((vis[..., shift:] == 1).all())
    assert bool((warped[..., :shift] == 0).all())  # holes are exactly zero


def test_plane_maps_by_its_homography():
    """A textured plane seen from two cameras: the warp is the plane-induced homography.

    Plane nᵀX = d in the source frame, X_tgt = R·X + t  ⇒  X_tgt = (R + t·nᵀ/d)·X on the plane, so
    x_tgt ~ K_t (R + t nᵀ/d) K_s⁻¹ x_src in pixel coordinates. (With the plane written nᵀX + d' = 0,
    d' = −d, this is the textbook K_t (R − t nᵀ/d') K_s⁻¹.) OpenCV's warpPerspective samples with
    pixel centres at integer coordinates, the same as our pixel intrinsics, so K_pix goes in as is.
    """
    H, W = 48, 64
    img = smooth_texture(H, W)
    Ks = make_K(1, H, W, 50.0, torch.float64)
    Kt = make_K(1, H, W, 45.0, torch.float64)
    Ks_pix = normalized_to_pixel_intrinsics(Ks, H, W)[0]
    Kt_pix = normalized_to_pixel_intrinsics(Kt, H, W)[0]
    n = torch.tensor([0.15, -0.1, -1.0], dtype=torch.float64)
    n = n / n.norm()
    d = -2.0  # nᵀX = d with points in front of the camera (n_z < 0)
    grid = pixel_grid(H, W, dtype=torch.float64)
    hom = torch.cat([grid, torch.ones(1, H, W, dtype=torch.float64)]).reshape(3, -1)
    depth = (d / (n @ torch.linalg.solve(Ks_pix, hom))).reshape(1, 1, H, W)  # z = d / nᵀK⁻¹x
    R, t = rot_y(math.radians(4.0)), torch.tensor([0.15, -0.05, 0.1], dtype=torch.float64)
    T = torch.eye(4, dtype=torch.float64)
    T[:3, :3], T[:3, 3] = R, t
    Hm = Kt_pix @ (R + torch.outer(t, n) / d) @ torch.linalg.inv(Ks_pix)
    expected_xy = Hm @ hom
    expected_xy = (expected_xy[:2] / expected_xy[2]).reshape(2, H, W)

    warped, vis, corr = forward_warp(
        torch.from_numpy(img)[None].float(), depth.float(), Ks, Kt, T[None], return_correspondence=True
    )
    # Geometry: every source pixel lands where the homography sends it (float32 positions).
    assert (corr[0].double() - expected_xy).abs().max().item() < 1e-4

    # Appearance: compare with OpenCV's inverse warp on interior pixels both consider fully valid.
    ref = cv2.warpPerspective(img.transpose(1, 2, 0), Hm.numpy(), (W, H), flags=cv2.INTER_LINEAR).transpose(2, 0, 1)
    inside = cv2.warpPerspective(np.ones((H, W)), Hm.numpy(), (W, H), flags=cv2.INTER_LINEAR) >= 1 - 1e-9
    mask = inside & (vis[0, 0].numpy() > 0)
    mask = cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=0) > 0
    assert mask.sum() > 0.7 * H * W
    err = np.abs(warped[0].double().numpy() - ref)[:, mask]
    # Residual = forward-splat vs inverse-sampling bilinear interpolation error on a smooth texture
    # (measured: max 0.018, mean 0.0028).
    assert err.max() < 0.03, err.max()
    assert err.mean() < 0.005, err.mean()


@pytest.mark.parametrize("importance", MODES)
def test_nearer_surface_wins(importance):
    B, H, W = 1, 24, 24
    img = torch.zeros(B, 3, H, W)
    img[:, 0] = 1.0  # red background
    depth = torch.full((B, 1, H, W), 4.0)
    depth[..., 8:16, 8:16] = 1.0
    img[..., 8:16, 8:16] = torch.tensor([0.0, 0.0, 1.0]).reshape(1, 3, 1, 1)  # blue square in front
    K = make_K(B, H, W)
    fx_pix = normalized_to_pixel_intrinsics(K, H, W)[0, 0, 0]
    T = eye4(B)
    T[0, 0, 3] = 4.0 * 1.0 / fx_pix  # square moves 4 px, background 1 px
    warped, vis = forward_warp(img, depth, K, K, T, importance=importance)
    inner = warped[0, :, 9:15, 13:19]  # where the square lands, over background
    torch.testing.assert_close(inner, torch.tensor([0.0, 0.0, 1.0]).reshape(3, 1, 1).expand_as(inner), atol=1e-3, rtol=0)


def test_release_keeps_points_behind_the_camera_inverse_depth_drops_them():
    B, H, W = 1, 8, 8
    img = torch.rand(B, 3, H, W, generator=torch.Generator().manual_seed(2))
    depth = torch.ones(B, 1, H, W)
    K = make_K(B, H, W)
    T = eye4(B)
    T[0, 2, 3] = -2.0  # z' = 1 − 2 = −1: everything behind the target camera
    _, vis_r, corr_r = forward_warp(img, depth, K, K, T, importance="release", return_correspondence=True)
    _, vis_i, corr_i = forward_warp(img, depth, K, K, T, importance="inverse_depth", return_correspondence=True)
    assert bool(torch.isfinite(corr_r).all()) and bool((corr_r > INVALID_COORDINATE).all())
    assert vis_r.sum() > 0  # mirrored projections land in the image (the release's quirk)
    assert bool((corr_i == INVALID_COORDINATE).all()) and bool((vis_i == 0).all())
    # Closer than near: invalid in both modes.
    T[0, 2, 3] = -0.995  # z' = 0.005 < near = 0.01
    for mode in MODES:
        _, vis, corr = forward_warp(img, depth, K, K, T, importance=mode, return_correspondence=True)
        assert bool((corr == INVALID_COORDINATE).all()) and bool((vis == 0).all())


def test_importance_modes_differ_as_documented():
    z = torch.tensor([0.5, 1.0, 2.0, 8.0, -1.0]).reshape(1, 1, 1, 5)
    valid = z > 0.01
    imp = splat_importance(z, valid, importance="inverse_depth")
    assert imp[0, 0, 0, 0] == 0.0 and imp[0, 0, 0, 3] == -10.0 and imp[0, 0, 0, 4] == -10.0
    torch.testing.assert_close(imp[0, 0, 0, :4], 10 * (1 / z[0, 0, 0, :4] - 1 / 8) / (2 - 1 / 8) - 10)
    # Scale invariance of the house mode.
    torch.testing.assert_close(splat_importance(3 * z, valid, importance="inverse_depth"), imp)
    # Release: 0.5 / z_clip over all points, behind-camera point included in the min/max.
    near, far = 1.0, 20.0
    rel = splat_importance(z, importance="release", near=near, far=far)
    zc = ((far + near) * z - 2 * far * near) / (far - near)
    ref = 0.5 / zc
    ref = ref - ref.min()
    ref = 10 * ref / (ref.max() + 1e-6) - 10
    torch.testing.assert_close(rel, ref)


def test_per_item_near_far_and_batch_independence():
    gen = torch.Generator().manual_seed(3)
    B, H, W = 3, 12, 16
    img = torch.rand(B, 3, H, W, generator=gen)
    depth = 0.8 + 3 * torch.rand(B, 1, H, W, generator=gen)
    K = make_K(B, H, W)
    T = eye4(B)
    T[:, :3, 3] = 0.2 * torch.randn(B, 3, generator=gen)
    T[:, :3, :3] = rot_y(0.05).float()
    near = torch.tensor([0.01, 1.0, 0.5])
    far = torch.tensor([100.0, 20.0, 10.0])
    for mode in MODES:
        out = forward_warp(img, depth, K, K, T, importance=mode, near=near, far=far, return_correspondence=True)
        for i in range(B):
            single = forward_warp(
                img[i : i + 1], depth[i : i + 1], K[i : i + 1], K[i : i + 1], T[i : i + 1],
                importance=mode, near=float(near[i]), far=float(far[i]), return_correspondence=True,
            )
            for a, b in zip(out, single):
                torch.testing.assert_close(a[i : i + 1], b, atol=1e-6, rtol=0)


def test_out_size_uses_target_resolution():
    B, H, W = 1, 6, 8
    img = torch.rand(B, 3, H, W, generator=torch.Generator().manual_seed(4))
    K = make_K(B, H, W)
    warped, vis, corr = forward_warp(img, torch.ones(B, 1, H, W), K, K, eye4(B), out_size=(2 * H, 2 * W), return_correspondence=True)
    assert warped.shape == (B, 3, 2 * H, 2 * W) and vis.shape == (B, 1, 2 * H, 2 * W)
    # Same normalised camera at twice the resolution: x' = 2(x + 0.5) − 0.5.
    torch.testing.assert_close(corr, 2 * pixel_grid(H, W)[None] + 0.5, atol=1e-5, rtol=0)


def test_dtypes():
    B, H, W = 1, 6, 8
    img = torch.rand(B, 3, H, W, dtype=torch.float64)
    depth = torch.ones(B, 1, H, W, dtype=torch.float64)
    K = make_K(B, H, W)  # float32 cameras are promoted to the compute dtype
    w, v, c = forward_warp(img, depth, K, K, eye4(B), return_correspondence=True)
    assert w.dtype == v.dtype == c.dtype == torch.float64
    w, v, c = forward_warp(img.half(), depth.float(), K, K, eye4(B), return_correspondence=True)
    assert w.dtype == v.dtype == torch.float16 and c.dtype == torch.float32


def test_softmax_splat_single_point():
    values = torch.zeros(1, 1, 4, 5)
    values[0, 0, 0, 0] = 2.0
    xy = torch.full((1, 2, 4, 5), -100.0)
    xy[0, :, 0, 0] = torch.tensor([1.25, 2.5])
    valid = torch.zeros(1, 1, 4, 5, dtype=torch.bool)
    valid[0, 0, 0, 0] = True
    warped, vis = softmax_splat(values, xy, torch.zeros(1, 1, 4, 5), valid)
    assert vis.sum() == 4 and bool((vis[0, 0, 2:4, 1:3] == 1).all())
    # Bilinear weights 0.75·0.5, 0.25·0.5 (x) … each pixel sees one point: value·w/(w + eps).
    w = torch.tensor([[0.375, 0.125], [0.375, 0.125]])
    torch.testing.assert_close(warped[0, 0, 2:4, 1:3], 2.0 * w / (w + 1e-6))
    # Neighbours outside the image are dropped: a point at x = 4.5 (W = 5) keeps only column 4.
    xy[0, :, 0, 0] = torch.tensor([4.5, 1.0])
    warped, vis = softmax_splat(values, xy, torch.zeros(1, 1, 4, 5), valid)
    assert vis.sum() == 1 and vis[0, 0, 1, 4] == 1
    torch.testing.assert_close(warped[0, 0, 1, 4], torch.tensor(2.0 * 0.5 / (0.5 + 1e-6)))


def warp_problem(B=2, H=8, W=10, dtype=torch.float64, seed=5):
    gen = torch.Generator().manual_seed(seed)
    img = torch.rand(B, 3, H, W, generator=gen, dtype=dtype)
    depth = 0.5 + 2 * torch.rand(B, 1, H, W, generator=gen, dtype=dtype)
    K = make_K(B, H, W, dtype=dtype)
    T = eye4(B, dtype)
    T[:, :3, :3] = rot_y(0.1, dtype)
    T[:, :3, 3] = torch.tensor([0.3, 0.1, -0.6], dtype=dtype)  # some points end behind / too close
    return img, depth, K, T


@pytest.mark.parametrize("importance", MODES)
def test_differentiable_wrt_values(importance):
    img, depth, K, T = warp_problem()
    img.requires_grad_(True)
    depth.requires_grad_(True)
    warped, _ = forward_warp(img, depth, K, K, T, importance=importance)
    (warped * torch.linspace(0, 1, warped.numel(), dtype=warped.dtype).reshape(warped.shape)).sum().backward()
    assert bool(torch.isfinite(img.grad).all()) and img.grad.abs().sum() > 0
    assert bool(torch.isfinite(depth.grad).all())
    # The warp is linear in `values`: gradcheck passes exactly.
    small = img.detach()[:1, :, :5, :6].clone().requires_grad_(True)
    d, K1, T1 = depth.detach()[:1, :, :5, :6], K[:1], T[:1]
    assert torch.autograd.gradcheck(lambda v: forward_warp(v, d, K1, K1, T1, importance=importance)[0], (small,))


def test_deterministic_on_cpu():
    img, depth, K, T = warp_problem(B=2, H=40, W=48, dtype=torch.float32, seed=6)
    depth = depth.round()  # many points land on the same target pixels
    a = forward_warp(img, depth, K, K, T, return_correspondence=True)
    b = forward_warp(img, depth, K, K, T, return_correspondence=True)
    for x, y in zip(a, b):
        assert torch.equal(x, y)


@pytest.mark.parametrize(
    "name, change, match",
    [
        ("values", lambda a: a.update(values=a["values"][0]), "`values` has shape \\(3, 8, 10\\)"),
        ("depth", lambda a: a.update(depth=a["depth"].expand(2, 3, 8, 10)), "`depth` has shape \\(2, 3, 8, 10\\), expected \\(B=2, 1, H=8, W=10\\)"),
        ("depth", lambda a: a.update(depth=a["depth"][..., :7, :]), "`depth` has shape \\(2, 1, 7, 10\\)"),
        ("src_intrinsics", lambda a: a.update(src_intrinsics=torch.eye(4).repeat(2, 1, 1)), "`src_intrinsics` has shape \\(2, 4, 4\\), expected \\(B=2, 3, 3\\)"),
        ("tgt_intrinsics", lambda a: a.update(tgt_intrinsics=a["tgt_intrinsics"][0]), "`tgt_intrinsics` has shape \\(3, 3\\)"),
        ("src_to_tgt", lambda a: a.update(src_to_tgt=a["src_to_tgt"][:, :3]), "`src_to_tgt` has shape \\(2, 3, 4\\)"),
        ("near", lambda a: a.update(near=torch.ones(3)), "`near` has shape \\(3,\\)"),
        ("far", lambda a: a.update(far=torch.ones(2, 1)), "`far` has shape \\(2, 1\\)"),
        ("importance", lambda a: a.update(importance="softmax"), "`importance`"),
        ("out_size", lambda a: a.update(out_size=(8,)), "`out_size`"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(name, change, match):
    img, depth, K, T = warp_problem(dtype=torch.float32)
    args = dict(values=img, depth=depth, src_intrinsics=K, tgt_intrinsics=K, src_to_tgt=T)
    change(args)
    values, depth, Ks, Kt, T = (args.pop(k) for k in ("values", "depth", "src_intrinsics", "tgt_intrinsics", "src_to_tgt"))
    with pytest.raises(ValueError, match=match):
        forward_warp(values, depth, Ks, Kt, T, **args)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("importance", MODES)
def test_cuda_matches_cpu(importance):
    img, depth, K, T = warp_problem(B=2, H=64, W=80, dtype=torch.float32, seed=7)
    cpu = forward_warp(img, depth, K, K, T, importance=importance, return_correspondence=True)
    gpu = forward_warp(*(t.cuda() for t in (img, depth, K, K, T)), importance=importance, return_correspondence=True)
    for a, b in zip(cpu, gpu):
        torch.testing.assert_close(b.cpu(), a, atol=1e-4, rtol=0)


@pytest.mark.parametrize("importance", MODES)
def test_missing_depth_never_splats_and_stays_finite(importance):
    img, depth, K, T = warp_problem(dtype=torch.float32, seed=8)
    holes = torch.zeros_like(depth, dtype=torch.bool)
    holes[0, 0, 2, 3] = holes[0, 0, 4, 4] = holes[1, 0, 0, 0] = True
    bad = depth.clone()
    bad[0, 0, 2, 3], bad[0, 0, 4, 4], bad[1, 0, 0, 0] = 0.0, float("nan"), -1.0
    warped, vis, corr = forward_warp(img, bad, K, K, T, importance=importance, return_correspondence=True)
    assert bool(torch.isfinite(warped).all())
    assert bool((corr[holes.expand_as(corr)] == INVALID_COORDINATE).all())
    # Splatting without those points equals giving them zero weight.
    img_masked = img.masked_fill(holes, 0.0)
    w_ref, _ = forward_warp(img_masked, bad, K, K, T, importance=importance)
    torch.testing.assert_close(warped, w_ref)
