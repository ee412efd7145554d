import pytest
import torch

from genwarp.depth import HF_DEPTH_PRESETS, DepthModelNotFoundError, HFDepthEstimator, build_depth_estimator
from genwarp.depth.hf import zoedepth_padding

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def test_zoedepth_tiny_roundtrip(tiny_zoedepth):
    est = HFDepthEstimator(tiny_zoedepth, local_files_only=True)
    assert est.is_zoedepth and est.flip_tta and est.units == "metric"
    images = torch.rand(2, 3, 30, 44)
    depth = est.estimate(images)
    assert depth.shape == (2, 1, 30, 44) and bool((depth > 0).all()) and bool(torch.isfinite(depth).all())
    # flip test-time augmentation off: a different (single-pass) prediction of the same shape
    est.flip_tta = False
    assert est.estimate(images).shape == depth.shape


def test_zoedepth_postprocess_removes_padding(tiny_zoedepth):
    """A prediction of the reflect-padded input, resized back and cropped, must line up with the
    unpadded image: build one from a known ramp and check the crop recovers it."""
    est = HFDepthEstimator(tiny_zoedepth, local_files_only=True)
    H, W = 40, 60
    ph, pw = zoedepth_padding(H, W)
    assert (ph, pw) == (int((H / 2) ** 0.5 * 3), int((W / 2) ** 0.5 * 3))
    xs = torch.arange(-pw, W + pw, dtype=torch.float32)
    padded = (1.0 + 0.05 * xs)[None, None].expand(1, H + 2 * ph, W + 2 * pw)
    pred = torch.nn.functional.interpolate(padded[None], size=(48, 64), mode="bilinear", align_corners=False)[0]
    out = est.postprocess(pred, H, W)
    expected = (1.0 + 0.05 * torch.arange(W, dtype=torch.float32))[None, None, None].expand(1, 1, H, W)
    inner = (slice(None), slice(None), slice(2, -2), slice(2, -2))
    torch.testing.assert_close(out[inner], expected[inner], atol=0.06, rtol=0)
    # without the padding removal the map would be shifted by ~pw columns
    assert (torch.nn.functional.interpolate(pred[None], size=(H, W), mode="bicubic")[0, 0, :, 2] - expected[0, 0, :, 2]).abs().mean() > 0.3


def test_depth_anything_metric_tiny(tiny_depth_anything):
    est = HFDepthEstimator(tiny_depth_anything, local_files_only=True)
    assert not est.flip_tta and est.units == "metric"
    depth = est.estimate(torch.rand(1, 3, 33, 50))
    assert depth.shape == (1, 1, 33, 50)
    assert float(depth.max()) <= 20.0 + 1e-4  # metric head: max_depth · sigmoid


def test_relative_model_refused(tmp_path):
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config, DPTImageProcessor

    bb = Dinov2Config(image_size=28, patch_size=14, hidden_size=16, num_hidden_layers=4, num_attention_heads=2,
                      intermediate_size=32, out_indices=[1, 2, 3, 4], reshape_hidden_states=False)
    DepthAnythingForDepthEstimation(DepthAnythingConfig(backbone_config=bb, reassemble_hidden_size=16, neck_hidden_sizes=[8, 8, 8, 8],
                                                        fusion_hidden_size=8, head_hidden_size=8)).save_pretrained(tmp_path)
    DPTImageProcessor(size={"height": 28, "width": 28}, keep_aspect_ratio=True, ensure_multiple_of=14).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="relative"):
        HFDepthEstimator(tmp_path, local_files_only=True)
    assert HFDepthEstimator(tmp_path, local_files_only=True, allow_relative=True).units == "relative"


def test_missing_weights_name_the_hub_id_and_the_offline_recipe(tmp_path):
    with pytest.raises(DepthModelNotFoundError) as info:
        build_depth_estimator("zoedepth-nyu", local_files_only=True, cache_dir=tmp_path)
    msg = str(info.value)
    assert "Intel/zoedepth-nyu" in msg and "hf download Intel/zoedepth-nyu" in msg and "HF_HUB_OFFLINE" in msg
    assert HF_DEPTH_PRESETS["depth-anything-v2-metric-indoor"] == "depth-anything/Depth-Anything-V2-Metric-Indoor-Large-hf"
    assert HF_DEPTH_PRESETS["depth-anything-v2-metric-outdoor-s"] == "depth-anything/Depth-Anything-V2-Metric-Outdoor-Small-hf"
    assert HF_DEPTH_PRESETS["zoedepth-nyu-kitti"] == "Intel/zoedepth-nyu-kitti"
