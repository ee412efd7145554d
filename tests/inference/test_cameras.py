"""Camera paths: signs of the explicit pose, what each preset promises, camera files."""

from __future__ import annotations

import math

import pytest
import torch
from inference_helpers import write_camera_file

from genwarp.geometry import relative_transform
from genwarp.inference import (
    CameraPath,
    InferenceInputError,
    camera_file_path,
    camera_pose,
    interpolate_poses,
    intrinsics_from_fov,
    preset_path,
)

K = intrinsics_from_fov(60.0, 64, 64)


def _rigid_ok(T: torch.Tensor) -> bool:
    R = T[..., :3, :3].double()
    eye = torch.eye(3, dtype=torch.float64)
    return bool(torch.allclose(R.transpose(-1, -2) @ R, eye.expand_as(R), atol=1e-5)) and bool(
        torch.allclose(torch.linalg.det(R), torch.ones(R.shape[:-2], dtype=torch.float64), atol=1e-5))


def test_explicit_pose_signs_follow_the_documented_convention():
    axis = lambda T: T[:3, 2]  # noqa: E731 — the camera's optical axis in the source frame
    assert axis(camera_pose(yaw=10))[0] > 0.1  # yaw right: looks towards +x
    assert axis(camera_pose(pitch=10))[1] < -0.1  # pitch up: looks towards −y (up in OpenCV)
    assert camera_pose(roll=10)[1, 0] > 0.1  # roll clockwise: x axis tilts towards +y (down)
    T = camera_pose(right=1, down=2, forward=3)
    assert T[:3, 3].tolist() == [1, 2, 3] and torch.equal(T[:3, :3], torch.eye(3, dtype=torch.float64))
    with pytest.raises(InferenceInputError, match="yaw"):
        camera_pose(yaw=float("nan"))


def test_orbit_keeps_the_pivot_at_the_image_centre_and_spans_the_angle():
    path = preset_path("orbit", 5, K, scene_scale=2.0, angle=20)
    assert len(path) == 5 and _rigid_ok(path.c2w)
    pivot = torch.tensor([0.0, 0.0, 2.0, 1.0])
    seen = path.src_to_tgt @ pivot
    assert torch.allclose(seen[:, :2], torch.zeros(5, 2), atol=1e-5)
    assert torch.allclose(seen[:, 2], torch.full((5,), 2.0), atol=1e-5)
    yaw = torch.rad2deg(torch.atan2(path.c2w[:, 0, 2], path.c2w[:, 2, 2]))
    assert torch.allclose(yaw, torch.linspace(-20, 20, 5), atol=1e-3)


def test_dolly_pan_and_lookaround_move_as_documented():
    dolly = preset_path("dolly", 4, K, scene_scale=2.0)  # default 0.3 × median depth
    assert torch.allclose(dolly.c2w[:, 2, 3], torch.tensor([0.15, 0.3, 0.45, 0.6]))
    assert torch.allclose(dolly.c2w[:, :3, :3], torch.eye(3).expand(4, 3, 3))
    back = preset_path("dolly", 2, K, scene_scale=2.0, distance=-1.0)
    assert back.c2w[-1, 2, 3] == pytest.approx(-1.0)
    pan = preset_path("pan", 3, K, scene_scale=1.0, distance=0.5)
    assert torch.allclose(pan.c2w[:, 0, 3], torch.tensor([-0.5, 0.0, 0.5]))
    look = preset_path("lookaround", 8, K, scene_scale=4.0)
    assert _rigid_ok(look.c2w)
    radius = look.c2w[:, :2, 3].norm(dim=-1)
    assert torch.allclose(radius, torch.full((8,), 0.08 * 4.0), atol=1e-5)  # default 0.08 × median depth
    assert torch.allclose(look.c2w[:, 2, 3], torch.zeros(8), atol=1e-6)
    centre = look.src_to_tgt @ torch.tensor([0.0, 0.0, 4.0, 1.0])
    assert torch.allclose(centre[:, :2], torch.zeros(8, 2), atol=1e-5)
    assert torch.equal(look.intrinsics, K.expand(8, 3, 3))


def test_preset_path_rejects_bad_values():
    with pytest.raises(InferenceInputError, match="--path"):
        preset_path("spiral", 4, K, scene_scale=1.0)
    with pytest.raises(InferenceInputError, match="--num-views"):
        preset_path("orbit", 0, K, scene_scale=1.0)
    with pytest.raises(InferenceInputError, match="--fov"):
        intrinsics_from_fov(200, 64, 64)


def test_interpolated_poses_end_exactly_at_the_target():
    target = camera_pose(yaw=30, pitch=-10, roll=5, right=0.2, forward=0.5)
    poses = interpolate_poses(target, 3)
    assert torch.allclose(poses[-1], target)
    assert _rigid_ok(poses)
    assert torch.allclose(poses[0, :3, 3], target[:3, 3] / 3)
    first_angle = math.degrees(math.acos((float(poses[0, :3, :3].trace()) - 1) / 2))
    last_angle = math.degrees(math.acos((float(target[:3, :3].trace()) - 1) / 2))
    assert first_angle == pytest.approx(last_angle / 3, rel=1e-4)


def test_camera_file_gives_the_relative_poses_of_the_sequence(room, tmp_path):
    pairs = room["pairs"]
    path_file = write_camera_file(tmp_path / "seq.txt", pairs)
    K_src, path = camera_file_path(path_file)
    assert isinstance(path, CameraPath) and len(path) == 2
    assert torch.allclose(K_src, pairs[0]["src_intrinsics"], atol=1e-6)
    for j, p in enumerate(pairs):
        want = relative_transform(p["src_c2w"].double(), p["tgt_c2w"].double()).float()
        assert torch.allclose(path.src_to_tgt[j], want, atol=1e-5)
        assert torch.allclose(path.intrinsics[j], p["tgt_intrinsics"], atol=1e-6)
    _, scaled = camera_file_path(path_file, translation_scale=2.0)
    assert torch.allclose(scaled.c2w[:, :3, 3], 2 * path.c2w[:, :3, 3], atol=1e-5)
    _, one = camera_file_path(path_file, frames=[2])
    assert torch.allclose(one.c2w[0], path.c2w[1], atol=1e-6)
    _, sub = camera_file_path(path_file, num_views=1)
    assert len(sub) == 1


@pytest.mark.parametrize("content, match", [
    ("https://x\n1 2 3\n", "line 2: expected 19"),  # the wording after it is genwarp.data.re10k's
    ("", "empty"),
    ("https://x\n", "lists no frames"),
])
def test_a_malformed_camera_file_is_one_clear_error(tmp_path, content, match):
    f = tmp_path / "bad.txt"
    f.write_text(content)
    with pytest.raises(InferenceInputError, match=match) as info:
        camera_file_path(f)
    assert str(f) in str(info.value) and "19 numbers" in str(info.value)


def test_camera_file_frame_checks(room, tmp_path):
    f = write_camera_file(tmp_path / "seq.txt", room["pairs"])
    with pytest.raises(InferenceInputError, match="--source-frame 7 is out of range"):
        camera_file_path(f, source_frame=7)
    with pytest.raises(InferenceInputError, match=r"--frames \[9\] out of range"):
        camera_file_path(f, frames=[9])
    write_camera_file(tmp_path / "px.txt", room["pairs"], k_scale=64.0)
    with pytest.raises(InferenceInputError, match="look like pixels"):
        camera_file_path(tmp_path / "px.txt")
