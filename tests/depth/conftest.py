"""Tiny random-weight transformers depth models saved to a temp dir (no download)."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="session")
def tiny_zoedepth(tmp_path_factory):
    from transformers import Dinov2Config, ZoeDepthConfig, ZoeDepthForDepthEstimation, ZoeDepthImageProcessor

    torch.manual_seed(0)
    backbone = Dinov2Config(image_size=32, patch_size=8, hidden_size=16, num_hidden_layers=4, num_attention_heads=2,
                            intermediate_size=32, out_indices=[1, 2, 3, 4], apply_layernorm=True, reshape_hidden_states=False)
    cfg = ZoeDepthConfig(backbone_config=backbone, backbone_hidden_size=16, neck_hidden_sizes=[8, 8, 8, 8],
                         reassemble_factors=[4, 2, 1, 0.5], fusion_hidden_size=8, bottleneck_features=8, num_relative_features=8,
                         bin_embedding_dim=8, num_attractors=[4, 4, 2, 1], patch_transformer_hidden_size=8,
                         patch_transformer_intermediate_size=16, patch_transformer_num_attention_heads=2,
                         num_patch_transformer_layers=1, bin_configurations=[{"n_bins": 16, "min_depth": 0.001, "max_depth": 10.0}])
    path = tmp_path_factory.mktemp("tiny-zoedepth")
    ZoeDepthForDepthEstimation(cfg).save_pretrained(path)
    ZoeDepthImageProcessor(size={"height": 32, "width": 32}, ensure_multiple_of=8).save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_depth_anything(tmp_path_factory):
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config, DPTImageProcessor

    torch.manual_seed(0)
    backbone = Dinov2Config(image_size=28, patch_size=14, hidden_size=16, num_hidden_layers=4, num_attention_heads=2,
                            intermediate_size=32, out_indices=[1, 2, 3, 4], apply_layernorm=True, reshape_hidden_states=False)
    cfg = DepthAnythingConfig(backbone_config=backbone, reassemble_hidden_size=16, patch_size=14, neck_hidden_sizes=[8, 8, 8, 8],
                              fusion_hidden_size=8, head_hidden_size=8, depth_estimation_type="metric", max_depth=20)
    path = tmp_path_factory.mktemp("tiny-depth-anything")
    DepthAnythingForDepthEstimation(cfg).save_pretrained(path)
    DPTImageProcessor(size={"height": 28, "width": 28}, keep_aspect_ratio=True, ensure_multiple_of=14, do_pad=False,
                      resample=3, do_normalize=True, image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225]).save_pretrained(path)
    return path
