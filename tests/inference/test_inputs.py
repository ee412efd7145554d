"""Reading photos and depth files; crop/resize keep the intrinsics consistent with the pixels."""

from __future__ import annotations

import numpy as np
import PIL.Image
import pytest
import torch

from genwarp.geometry import normalized_to_pixel_intrinsics
from genwarp.inference import (
    InferenceInputError,
    intrinsics_from_fov,
    list_images,
    load_depth,
    load_image,
    prepare_source,
)
from genwarp.inference.inputs import find_depth_file


def test_load_image_reads_rgb_in_unit_range_and_applies_exif_rotation(tmp_path):
    array = np.zeros((10, 20, 4), np.uint8)
    array[..., 0] = 255
    array[..., 3] = 128
    PIL.Image.fromarray(array, "RGBA").save(tmp_path / "a.png")
    img = load_image(tmp_path / "a.png")
    assert img.shape == (3, 10, 20) and img.dtype == torch.float32
    assert img[0].min() == 1.0 and img[1:].max() == 0.0
    rotated = PIL.Image.fromarray(np.zeros((10, 20, 3), np.uint8))
    exif = rotated.getexif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    rotated.save(tmp_path / "r.jpg", exif=exif)
    assert load_image(tmp_path / "r.jpg").shape == (3, 20, 10)


def test_unreadable_or_missing_images_are_clear_errors(tmp_path):
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(InferenceInputError, match=r"cannot read image .*broken\.jpg"):
        load_image(tmp_path / "broken.jpg")
    with pytest.raises(InferenceInputError, match="does not exist"):
        list_images(tmp_path / "nope.png")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InferenceInputError, match="holds no image"):
        list_images(tmp_path / "empty")
    PIL.Image.new("RGB", (4, 4)).save(tmp_path / "b.png")
    PIL.Image.new("RGB", (4, 4)).save(tmp_path / "a.jpg")
    assert [p.name for p in list_images(tmp_path)] == ["a.jpg", "b.png", "broken.jpg"]


def test_depth_files_npy_png16_and_float_tiff(tmp_path):
    depth = np.linspace(0.5, 4.0, 12 * 16, dtype=np.float32).reshape(12, 16)
    depth[0, 0] = 0.0  # unknown
    np.save(tmp_path / "d.npy", depth[None])
    d, ok = load_depth(tmp_path / "d.npy", (12, 16))
    assert d.shape == (1, 12, 16) and torch.allclose(d[0], torch.from_numpy(depth))
    assert not ok[0, 0, 0] and ok.sum() == 12 * 16 - 1
    mm = (depth * 1000).round().astype(np.uint16)
    PIL.Image.fromarray(mm).save(tmp_path / "d.png")
    d16, _ = load_depth(tmp_path / "d.png", (12, 16), scale=0.001)
    assert torch.allclose(d16[0], torch.from_numpy(depth), atol=1e-3)
    PIL.Image.fromarray(depth, mode="F").save(tmp_path / "d.tiff")
    dt, _ = load_depth(tmp_path / "d.tiff", (12, 16))
    assert torch.allclose(dt[0], torch.from_numpy(depth))


def test_bad_depth_files_are_one_clear_error(tmp_path):
    np.save(tmp_path / "small.npy", np.ones((6, 8), np.float32))
    with pytest.raises(InferenceInputError, match=r"is 8x6 \(WxH\) but the image is 16x12"):
        load_depth(tmp_path / "small.npy", (12, 16))
    PIL.Image.fromarray(np.full((12, 16), 100, np.uint8)).save(tmp_path / "eight.png")
    with pytest.raises(InferenceInputError, match="8-bit or colour images are not depth"):
        load_depth(tmp_path / "eight.png", (12, 16))
    np.save(tmp_path / "neg.npy", -np.ones((12, 16), np.float32))
    with pytest.raises(InferenceInputError, match="negative"):
        load_depth(tmp_path / "neg.npy", (12, 16))
    np.save(tmp_path / "zero.npy", np.zeros((12, 16), np.float32))
    with pytest.raises(InferenceInputError, match="no valid pixel"):
        load_depth(tmp_path / "zero.npy", (12, 16))
    (tmp_path / "junk.npy").write_bytes(b"junk")
    with pytest.raises(InferenceInputError, match="cannot read"):
        load_depth(tmp_path / "junk.npy", (12, 16))
    with pytest.raises(InferenceInputError, match="unsupported extension"):
        load_depth(tmp_path / "d.exr", (12, 16))
    with pytest.raises(InferenceInputError, match="no depth file for a.png"):
        find_depth_file(tmp_path / "a.png", tmp_path)


def _project(K_norm, h, w, X):
    K = normalized_to_pixel_intrinsics(K_norm.double(), h, w)
    p = K @ X
    return p[:2] / p[2]


def test_prepare_source_crops_and_resizes_with_consistent_intrinsics():
    h0, w0 = 60, 100
    image = torch.rand(3, h0, w0)
    depth = torch.rand(1, h0, w0) + 1
    K0 = intrinsics_from_fov(50.0, h0, w0)
    src = prepare_source(image, K0, 32, 32, depth)
    assert src.image.shape == (3, 32, 32) and src.depth.shape == (1, 32, 32) and src.depth_mask.all()
    top, left, h, w = src.window
    assert (h, w) == (60, 60) and (top, left) == (0, 20)
    X = torch.tensor([0.3, -0.2, 2.0], dtype=torch.float64)  # a point seen by the camera
    full = _project(K0, h0, w0, X)
    cropped = _project(src.intrinsics, 32, 32, X)
    # the same point, in the crop's pixel frame rescaled to 32×32 (pixel centres map affinely)
    expect = ((full - torch.tensor([left, top], dtype=torch.float64)) + 0.5) * (32 / 60) - 0.5
    assert torch.allclose(cropped, expect, atol=1e-6)
    squashed = prepare_source(image, K0, 32, 32, crop=False)
    assert squashed.window == (0, 0, 60, 100) and torch.equal(squashed.intrinsics, K0)
    assert squashed.depth is None
