"""Training depth: every ``depth`` key is used or refused at start-up, before any model loads."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir

import genwarp.depth
import genwarp.training.loop as loop
from genwarp.data.depth_cache import DepthCache
from genwarp.training.config import register_schema
from genwarp.training.datasets import build_dataset
from genwarp.training.validate import ConfigError, validate_train_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
register_schema()


def _compose(*overrides: str):
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        return compose("train", overrides=list(overrides))


class _ConstantDepth:
    name = "stub"
    units = "metric"

    def estimate(self, images, *, batch=None):
        return torch.full((images.shape[0], 1, *images.shape[-2:]), 3.25)


@pytest.fixture
def stub_estimator(monkeypatch):
    seen = []

    def build(spec, **kw):
        seen.append(spec)
        return _ConstantDepth()

    monkeypatch.setattr(genwarp.depth, "build_depth_estimator", build)
    monkeypatch.setattr(genwarp.depth, "require_depth_model", lambda model, **kw: str(model))
    return seen


@pytest.mark.parametrize("overrides, match", [
    (("depth.source=cache", "depth.cache_root=."), "depth.source=cache cannot be used with data=synthetic"),
    (("depth=gt", "depth.scale_alignment=photometric"), "scale_alignment=photometric"),
    (("depth=gt", "depth.estimator=Intel/zoedepth-nyu"), "depth.estimator='Intel/zoedepth-nyu' is only used"),
    (("depth=gt", "depth.cache_root=somewhere"), "depth.cache_root='somewhere' is only used"),
    (("depth=gt", "depth.corruption=0.5"), "depth.corruption=0.5 is only used"),
    (("depth.source=none",), "depth.source='none' is not a training depth source"),
    (("depth.source=auto",), "'auto' is the evaluation default"),
    (("depth=zoedepth", "depth.scale_alignment=photometric"), "scale_alignment=photometric is not available"),
    (("data=scannet", "data.root=.", "depth=zoedepth", "depth.scale_alignment=gt_least_squares"),
     "gt_least_squares .* evaluation oracle"),
    (("data=scannet", "data.root=.", "depth=corrupted_gt"), "corrupted_gt trains on data=synthetic only"),
    (("data=re10k", "depth=gt"), "needs ground-truth depth, which re10k does not have"),
    (("data=re10k", "depth=zoedepth_cache", "depth.source=estimator", "depth.cache_root=null"),
     "photometric is not available with depth.source=estimator.*precompute an aligned cache"),
    (("data=re10k", "depth=zoedepth", "depth.scale_alignment=none"), None),  # allowed (the warning is the evaluator's)
])
def test_bad_depth_is_refused_at_start_up_before_any_model_loads(overrides, match, monkeypatch, stub_estimator,
                                                                 tmp_path):
    cfg = _compose(*overrides, f"output_dir={tmp_path / 'run'}")

    def no_model(*a, **kw):
        raise AssertionError("a model was built before the depth config was checked")

    monkeypatch.setattr(loop, "build_components", no_model)
    monkeypatch.setattr(loop, "make_accelerator", no_model)
    if match is None:
        with pytest.warns(UserWarning, match="arbitrary scale per sequence"):
            validate_train_config(cfg)
        return
    with pytest.raises(ConfigError, match=match):
        loop.train(cfg)


def test_missing_cache_and_missing_depth_model_fail_at_start_up(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cfg = _compose("data=re10k", "depth=zoedepth_cache", f"depth.cache_root={tmp_path / 'no_cache'}")
    with pytest.raises(ConfigError, match="no_cache.*precompute_depth.py.*--align-pairs 8"):
        validate_train_config(cfg)
    cfg = _compose("depth=zoedepth", f"depth.estimator={tmp_path / 'no_model'}")
    with pytest.raises(ConfigError, match="no_model"):
        validate_train_config(cfg)


def test_synthetic_with_an_estimator_trains_on_the_estimated_depth(stub_estimator):
    cfg = _compose("depth=zoedepth")
    validate_train_config(cfg)
    dataset = build_dataset(cfg.data, cfg.depth, split="train", seed=0, train=True)
    sample = next(iter(dataset))
    assert stub_estimator == ["zoedepth-nyu"]
    assert torch.all(sample["src_depth"] == 3.25)  # not the renderer's exact depth


@pytest.mark.parametrize("alignment, scale", [("photometric", 4.0), ("none", 1.0)])
def test_cache_scale_alignment_is_applied_or_not(alignment, scale, tmp_path):
    from genwarp.testing import write_re10k_chunks

    keys = write_re10k_chunks(tmp_path / "re10k", split="train")["keys"]
    cache = DepthCache(tmp_path / "cache")
    for key in keys:
        for i in range(8):
            cache.save("re10k", key, i, torch.full((18, 32), 2.0))
        cache.save_scene_scale("re10k", key, {"scale": 4.0})
    cfg = _compose("data=re10k", f"data.root={tmp_path / 're10k'}", "data.resolution=16", "depth=zoedepth_cache",
                   f"depth.cache_root={tmp_path / 'cache'}", f"depth.scale_alignment={alignment}")
    validate_train_config(cfg)
    dataset = build_dataset(cfg.data, cfg.depth, split="train", seed=0, train=True)
    sample = next(iter(dataset))
    valid = sample["src_depth_valid"]
    assert torch.allclose(sample["src_depth"][valid], torch.tensor(2.0 * scale))
