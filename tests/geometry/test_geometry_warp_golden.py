"""The official forward warp (sony/genwarp + pesser/splatting) reproduced from the goldens.

Every case is fed twice: with the golden's OpenCV K/T converted to our normalised form, and with the
release's OpenGL matrices through :func:`from_opengl`. Tolerances from goldens/README.md.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genwarp.geometry import (
    INVALID_COORDINATE,
    build_conditions,
    forward_warp,
    from_opengl,
    pixel_grid,
    pixel_to_normalized_intrinsics,
    prepare_splat,
    softmax_splat,
    splat_importance,
    unproject,
)

CASES = (0, 1, 2)
PATHS = ("opencv", "opengl")


@pytest.fixture(scope="module")
def golden(golden_file):
    g = np.load(golden_file("warp_golden.npz"))
    return {k: g[k] for k in g.files}


def case_inputs(golden, case: int, path: str):
    H, W = int(golden["H"]), int(golden["W"])
    t = lambda k: torch.from_numpy(golden[k][case])  # noqa: E731
    if path == "opencv":
        cams = (
            pixel_to_normalized_intrinsics(t("cv_K_src"), H, W),
            pixel_to_normalized_intrinsics(t("cv_K_tar"), H, W),
            t("cv_T_src2tar"),
            t("near"),
            t("far"),
        )
    else:
        cams = tuple(from_opengl(t("gl_src_proj"), t("gl_tar_proj"), t("gl_rel_view"), H, W))
    return t, cams


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("case", CASES)
def test_warp_matches_official(golden, case, path):
    t, (Ks, Kt, T, near, far) = case_inputs(golden, case, path)
    H, W = int(golden["H"]), int(golden["W"])

    warped, vis, corr = forward_warp(
        t("input_13"), t("src_depth"), Ks, Kt, T,
        importance="release", near=near, far=far, eps=float(golden["splat_eps"]), return_correspondence=True,
    )
    assert warped.dtype == torch.float32

    # Validity and correspondence: −1e6 exactly where the release invalidated a point.
    g_corr = t("correspondence")
    g_valid = g_corr[:, :1] > INVALID_COORDINATE / 2
    if case == 2:
        assert int((~g_valid).sum()) == 160  # the foreground patch closer than near
    valid = corr[:, :1] > INVALID_COORDINATE / 2
    assert torch.equal(valid, g_valid)
    assert bool((corr.masked_select(~g_valid.expand_as(corr)) == INVALID_COORDINATE).all())
    vm = g_valid.expand_as(corr)
    assert (corr - g_corr)[vm].abs().max() <= 1e-4

    # The flow handed to the splat (target − source pixel).
    flow = corr - pixel_grid(H, W)
    assert (flow - t("splat_flow"))[vm].abs().max() <= 1e-4

    # Importance (log-weights) over all points, invalid ones included.
    splat = prepare_splat(t("src_depth"), Ks, Kt, T, importance="release", near=near, far=far)
    assert (splat.log_weight - t("splat_importance")).abs().max() <= 1e-4
    imp = splat_importance(splat.target_depth, importance="release", near=near, far=far)
    assert (imp - t("splat_importance")).abs().max() <= 1e-4

    # Hole mask exactly; warped values within the README's float32 tolerance.
    assert torch.equal(1 - vis, t("hole_mask"))
    assert torch.equal(vis, t("mask"))
    assert (warped - t("warped_13")).abs().max() <= 2e-3
    assert (warped[:, 10:] - t("warped_image")).abs().max() <= 2e-3
    assert bool((warped[(1 - vis).bool().expand_as(warped)] == 0).all())


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("case", CASES)
def test_conditions_match_official(golden, case, path):
    t, (Ks, Kt, T, near, far) = case_inputs(golden, case, path)
    c = build_conditions(
        "coords", t("src_image"), t("src_depth"), Ks, Kt, T,
        normalization="release", importance="release", near=near, far=far,
    )
    assert (c.source - t("src_cond")).abs().max() <= 1e-6
    assert (c.target - t("tar_cond")).abs().max() <= 2e-3
    assert torch.equal(c.target[:, 10:], t("tar_cond")[:, 10:])  # hole channel exact
    assert (c.warped_image - t("warped_image")).abs().max() <= 2e-3
    assert torch.equal(c.visibility, t("mask"))
    g_valid = (t("correspondence") > INVALID_COORDINATE / 2)
    assert (c.correspondence - t("correspondence"))[g_valid].abs().max() <= 1e-4


@pytest.mark.parametrize("case", CASES)
def test_splat_kernel_given_official_flow_and_importance(golden, case):
    """With the release's own flow and importance our index_add splat equals its kernel."""
    t = lambda k: torch.from_numpy(golden[k][case])  # noqa: E731
    H, W = int(golden["H"]), int(golden["W"])
    flow = t("splat_flow")
    valid = flow[:, :1] > INVALID_COORDINATE / 2
    warped, vis = softmax_splat(t("input_13"), pixel_grid(H, W) + flow, t("splat_importance"), valid)
    assert (warped - t("warped_13")).abs().max() <= 1e-5
    assert torch.equal(1 - vis, t("hole_mask"))


@pytest.mark.parametrize("case", CASES)
def test_unprojection_matches_official_eye_points(golden, case):
    t, (Ks, _, _, _, _) = case_inputs(golden, case, "opengl")
    H, W = int(golden["H"]), int(golden["W"])
    points = unproject(t("src_depth"), Ks)  # OpenCV axes
    eye = t("eye_points_gl")  # (B, HW, 4), OpenGL axes, row-major over (y, x)
    ours = points.reshape(points.shape[0], 3, H * W).transpose(1, 2) * torch.tensor([1.0, -1.0, -1.0])
    torch.testing.assert_close(ours, eye[..., :3], atol=1e-5, rtol=1e-5)
    assert bool((eye[..., 3] == 1).all())


def test_from_opengl_recovers_nominal_clip_planes(golden):
    H, W = int(golden["H"]), int(golden["W"])
    for case in CASES:
        conv = from_opengl(
            torch.from_numpy(golden["gl_src_proj"][case]), torch.from_numpy(golden["gl_tar_proj"][case]),
            torch.from_numpy(golden["gl_rel_view"][case]), H, W,
        )
        np.testing.assert_allclose(conv.near.numpy(), golden["near"][case], rtol=1e-5)
        # far = P23/(P22 + 1) cancels badly for far ≫ near: float32 P only pins it to ~1e-4.
        np.testing.assert_allclose(conv.far.numpy(), golden["far"][case], rtol=2e-4)
        np.testing.assert_allclose(conv.src_to_tgt.double().numpy(), golden["cv_T_src2tar"][case], atol=1e-6)
        K_ref = pixel_to_normalized_intrinsics(torch.from_numpy(golden["cv_K_tar"][case]), H, W)
        np.testing.assert_allclose(conv.tgt_intrinsics.double().numpy(), K_ref.numpy(), atol=1e-6)
