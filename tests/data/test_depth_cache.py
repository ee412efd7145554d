import json
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from genwarp.data import DepthCache, MissingDataError, RealEstate10KDataset, SyntheticScenesDataset, make_shim
from genwarp.data.precompute import precompute_depth

REPO = Path(__file__).resolve().parents[2]


class ScaledTruth:
    """A stand-in estimator: the synthetic scene's exact depth divided by a known factor."""

    name = "scaled-truth"
    units = "metric"

    def __init__(self, ds, factor):
        self.ds, self.factor, self.calls = ds, factor, 0

    def estimate(self, images, batch=None):
        self.calls += images.shape[0]
        return torch.stack([self._lookup(img) for img in images])

    def _lookup(self, img):
        for (scene, i), view in self.views.items():
            if view.image.shape == img.shape and torch.equal(view.image, img):
                return view.depth / self.factor
        raise KeyError


def test_cache_roundtrip_and_scale(tmp_path):
    cache = DepthCache(tmp_path / "c", name="zoe")
    d = torch.rand(1, 6, 8) * 10 + 0.5
    p = cache.save("re10k", "seq/1", 3, d)
    assert p.name == "000003.npy" and np.load(p).dtype == np.float16
    torch.testing.assert_close(cache.load("re10k", "seq/1", 3), d, rtol=1e-3, atol=1e-3)
    assert cache.load("re10k", "seq/1", 4) is None and cache.has("re10k", "seq/1", 3)
    cache.save_scene_scale("re10k", "seq/1", {"scale": 2.0, "residual": 0.01})
    torch.testing.assert_close(cache.load("re10k", "seq/1", 3), 2 * d, rtol=1e-3, atol=2e-3)
    assert not list((tmp_path / "c").rglob("*.tmp"))


def test_loader_uses_cache(re10k_raw, tmp_path):
    cache = DepthCache(tmp_path / "cache", name="fake")
    cache.save("re10k", "seqA", 2, torch.full((1, 9, 16), 3.0))  # lower resolution than the frames
    ds = RealEstate10KDataset(re10k_raw["root"], "test", depth=cache, shim=make_shim(8))
    s = ds.get_pair("seqA", 2, 5)
    assert s["depth_source"] == "cache:fake" and bool(s["src_depth_valid"].all())
    torch.testing.assert_close(s["src_depth"], torch.full((1, 8, 8), 3.0))
    # a frame without cached depth is never served with zero depth: get_pair raises (an evaluation
    # stops naming the file), iteration skips and counts it (tests/data/test_depth_cache_missing.py)
    with pytest.warns(UserWarning, match="missing cached depth"), pytest.raises(MissingDataError, match="000004.npy"):
        ds.get_pair("seqA", 4, 5)
    assert ds.health.summary() == {"missing_cached_depth": 1}


def test_precompute_resumable_and_scale_alignment(tmp_path):
    ds = SyntheticScenesDataset("test", 40, num_test_scenes=2, depth="none")
    est = ScaledTruth(ds, factor=4.0)
    gt = SyntheticScenesDataset("test", 40, num_test_scenes=2)
    est.views = {(sc, i): gt.load_view(sc, i) for sc in ("test_0",) for i in range(0, 40, 3)}
    scenes = ["test_0"]
    cache = DepthCache(tmp_path / "cache", name="scaled")

    class Subset(SyntheticScenesDataset):
        def frame_ids(self, scene):
            return list(range(0, 40, 3))

    sub = Subset("test", 40, num_test_scenes=2, depth="none")
    counts = precompute_depth(sub, est, cache, scenes=scenes, batch_size=4, align_pairs=2, align_gap=(3, 9), progress=False)
    assert counts["estimated"] == 14 and counts["aligned"] == 1
    rec = json.loads((tmp_path / "cache" / "synthetic" / "test_0" / "scale.json").read_text())
    assert rec["scale"] == pytest.approx(4.0, rel=0.05) and len(rec["pairs"]) == 2
    # cached depth now loads in pose units
    torch.testing.assert_close(cache.load("synthetic", "test_0", 3), est.views[("test_0", 3)].depth, rtol=0.06, atol=0.05)
    again = precompute_depth(sub, est, cache, scenes=scenes, align_pairs=2, progress=False)
    assert again["estimated"] == 0 and again["skipped_done"] == 14 and again["aligned"] == 0
    assert json.loads((tmp_path / "cache" / "meta.json").read_text())["estimator"] == "scaled-truth"


def test_precompute_script_with_tiny_model(tmp_path, capsys, monkeypatch):
    pytest.importorskip("transformers")
    from transformers import Dinov2Config, DPTImageProcessor, DepthAnythingConfig, DepthAnythingForDepthEstimation

    bb = Dinov2Config(image_size=28, patch_size=14, hidden_size=16, num_hidden_layers=4, num_attention_heads=2,
                      intermediate_size=32, out_indices=[1, 2, 3, 4], reshape_hidden_states=False)
    model_dir = tmp_path / "tiny-da"
    DepthAnythingForDepthEstimation(DepthAnythingConfig(backbone_config=bb, reassemble_hidden_size=16, neck_hidden_sizes=[8, 8, 8, 8],
                                                        fusion_hidden_size=8, head_hidden_size=8, depth_estimation_type="metric",
                                                        max_depth=20)).save_pretrained(model_dir)
    DPTImageProcessor(size={"height": 28, "width": 28}, keep_aspect_ratio=True, ensure_multiple_of=14).save_pretrained(model_dir)
    cmd = [sys.executable, str(REPO / "scripts" / "precompute_depth.py"), "--dataset", "synthetic", "--resolution", "24",
           "--num-test-scenes", "1", "--estimator", str(model_dir), "--cache", str(tmp_path / "cache"), "--batch-size", "8",
           "--local-files-only"]
    # the script in a subprocess once (as a user runs it) ...
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    files = list((tmp_path / "cache" / "synthetic" / "test_0").glob("*.npy"))
    assert len(files) == 40 and np.load(files[0]).shape == (24, 24)
    # ... then in-process (cheaper): a rerun resumes, a missing model is a clear error
    main = runpy.run_path(cmd[1], run_name="precompute_depth")["main"]
    assert main(cmd[2:]) == 0
    assert '"skipped_done": 40' in capsys.readouterr().out
    bad = cmd[2:-5] + ["--estimator", "zoedepth-nyu", "--cache", str(tmp_path / "c2"), "--local-files-only"]
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    assert main(bad) == 2
    assert "hf download Intel/zoedepth-nyu" in capsys.readouterr().err
