"""Validation during training: fixed pairs, warp-only baseline on the same pairs, optional LPIPS, a grid."""

from __future__ import annotations

import pytest

from genwarp.data import SyntheticScenesDataset
from genwarp.pipelines.factory import random_pipeline
from genwarp.training.validation import GRID_COLUMNS, load_validation_pairs, run_validation


def test_validation_scores_and_grids_fixed_pairs():
    data = SyntheticScenesDataset("test", 32)
    batch = load_validation_pairs(data, 3, "data/eval_index_synthetic_test.json")
    again = load_validation_pairs(data, 3, "data/eval_index_synthetic_test.json")
    assert batch["scene"] == again["scene"] and len(batch["scene"]) == 3
    pipe = random_pipeline(codec="pixel", image_prompt="none", seed=0)
    pipe.set_progress_bar_config(disable=True)
    calls = []

    def fake_lpips(a, b):
        calls.append(a.shape)
        return (a - b).abs().mean(dim=(1, 2, 3))

    metrics, grid = run_validation(pipe, batch, steps=2, guidance=3.5, seed=0, near=0.01, far=100.0,
                                   lpips_fn=fake_lpips)
    assert set(metrics) == {"val/psnr", "val/psnr_warp_only", "val/visible_fraction", "val/lpips", "val/psnr_visible",
                            "val/psnr_invisible", "val/psnr_warp_only_visible"}
    assert calls == [(3, 3, 32, 32)]
    assert grid.size[0] > 4 * 32 and grid.size[1] > 3 * 32 and len(GRID_COLUMNS) == 4
    metrics2, _ = run_validation(pipe, batch, steps=2, guidance=3.5, seed=0, near=0.01, far=100.0)
    assert metrics2["val/psnr"] == metrics["val/psnr"]  # fixed seed: same samples every time


def test_validation_lpips_uses_the_evaluation_metric_when_available():
    pytest.importorskip("torchvision")
    pytest.importorskip("lpips")
    from genwarp.evaluation.perceptual import build_lpips

    data = SyntheticScenesDataset("test", 32)
    batch = load_validation_pairs(data, 2, "data/eval_index_synthetic_test.json")
    pipe = random_pipeline(codec="pixel", image_prompt="none", seed=0)
    pipe.set_progress_bar_config(disable=True)
    metrics, _ = run_validation(pipe, batch, steps=1, guidance=1.0, seed=0, near=0.01, far=100.0,
                                lpips_fn=build_lpips("alex", "random"))
    assert metrics["val/lpips"] > 0


def test_region_metrics_split_the_target_by_the_warps_coverage():
    """A "model" that returns the forward warp scores the warp's visible PSNR on the visible part;
    one that returns the target scores 100 dB on both parts (the MSE floor)."""
    import torch

    data = SyntheticScenesDataset("test", 32)
    batch = load_validation_pairs(data, 3, "data/eval_index_synthetic_test.json")

    class Echo:
        """Stands in for a pipeline: the real warp, and images chosen by the test."""

        def __init__(self, pick):
            self.inner = random_pipeline(codec="pixel", image_prompt="none", seed=0)
            self.inner.set_progress_bar_config(disable=True)
            self.pick = pick
            self._execution_device = torch.device("cpu")

        def __call__(self, *args, **kwargs):
            out = self.inner(*args, **kwargs)
            out.images = self.pick(out)
            return out

    target = batch["tgt_image"]
    perfect, _ = run_validation(Echo(lambda o: target.clone()), batch, steps=1, guidance=1.0, seed=0, near=0.01,
                                far=100.0)
    assert perfect["val/psnr_visible"] == perfect["val/psnr_invisible"] == 100.0
    warp, _ = run_validation(Echo(lambda o: o.warped.clone()), batch, steps=1, guidance=1.0, seed=0, near=0.01,
                             far=100.0)
    assert warp["val/psnr_visible"] == warp["val/psnr_warp_only_visible"] > 25.0
    # The warp's holes are black: far below its visible part.
    assert warp["val/psnr_invisible"] < warp["val/psnr_visible"] - 10
