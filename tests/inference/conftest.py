"""Fixtures for the inference tests: a synthetic photo with exact depth, a tiny random model in the
release layout, a tiny random pipeline and a tiny random ZoeDepth (no download)."""

from __future__ import annotations

import numpy as np
import PIL.Image
import pytest
import torch

RES = 64


@pytest.fixture(scope="session")
def room(tmp_path_factory):
    """A synthetic room at RES²: frames 0 (the photo), 4 and 8, with exact depth and cameras."""
    from genwarp.data import SyntheticScenesDataset

    ds = SyntheticScenesDataset("test", resolution=RES)
    pairs = [ds.get_pair("test_0", 0, t) for t in (4, 8)]
    folder = tmp_path_factory.mktemp("room")
    src = pairs[0]
    image = (src["src_image"].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    PIL.Image.fromarray(image).save(folder / "room.png")
    np.save(folder / "room.npy", src["src_depth"][0].numpy())
    return {"folder": folder, "image": folder / "room.png", "depth": folder / "room.npy", "pairs": pairs}


@pytest.fixture(scope="session")
def tiny_release(tmp_path_factory):
    from genwarp.testing import write_tiny_release

    root = tmp_path_factory.mktemp("release")
    write_tiny_release(root, "multi1")
    return root


@pytest.fixture(scope="session")
def tiny_pipe():
    from genwarp.pipelines.factory import random_pipeline

    return random_pipeline("tiny", seed=0)


@pytest.fixture(scope="session")
def tiny_depth_model(tmp_path_factory):
    """A tiny random-weight ZoeDepth saved as a local folder (no download)."""
    from transformers import Dinov2Config, ZoeDepthConfig, ZoeDepthForDepthEstimation, ZoeDepthImageProcessor

    torch.manual_seed(0)
    backbone = Dinov2Config(image_size=32, patch_size=8, hidden_size=16, num_hidden_layers=4, num_attention_heads=2,
                            intermediate_size=32, out_indices=[1, 2, 3, 4], apply_layernorm=True,
                            reshape_hidden_states=False)
    cfg = ZoeDepthConfig(backbone_config=backbone, backbone_hidden_size=16, neck_hidden_sizes=[8, 8, 8, 8],
                         reassemble_factors=[4, 2, 1, 0.5], fusion_hidden_size=8, bottleneck_features=8,
                         num_relative_features=8, bin_embedding_dim=8, num_attractors=[4, 4, 2, 1],
                         patch_transformer_hidden_size=8, patch_transformer_intermediate_size=16,
                         patch_transformer_num_attention_heads=2, num_patch_transformer_layers=1,
                         bin_configurations=[{"n_bins": 16, "min_depth": 0.001, "max_depth": 10.0}])
    path = tmp_path_factory.mktemp("tiny-zoedepth")
    ZoeDepthForDepthEstimation(cfg).save_pretrained(path)
    ZoeDepthImageProcessor(size={"height": 32, "width": 32}, ensure_multiple_of=8).save_pretrained(path)
    return path
