"""Out-of-domain evaluation warps with estimated depth (the method's), ground truth kept for the
masks and as an explicit option; the default fails before any model loads when the depth model or
cache is absent; depth.scale_alignment does what it says."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from PIL import Image

from genwarp.depth import DepthModelNotFoundError
from genwarp.evaluation.config import EvaluateConfig
from genwarp.evaluation.run import run_evaluation
from genwarp.testing.fixtures import write_re10k_raw, write_scannet

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _index(tmp_path: Path, name: str, dataset: str, entries: list[dict]) -> str:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"format": "genwarp-eval-index/1", "dataset": dataset, "entries": entries}))
    return str(path)


def _cfg(tmp_path, out: str, **kw):
    base = dict(method="warp_only", output_dir=str(tmp_path / out), batch_size=2, progress=False, device="cpu",
                metrics=["psnr"])
    base.update(kw)
    return OmegaConf.merge(OmegaConf.structured(EvaluateConfig), base)


@pytest.fixture
def scannet(tmp_path):
    write_scannet(tmp_path / "scannet")
    index = _index(tmp_path, "sn", "scannet", [{"scene": "scene0000_00", "src_index": 0, "tgt_index": 2, "range": "mid"},
                                               {"scene": "scene0001_00", "src_index": 4, "tgt_index": 1, "range": "long"}])
    return {"name": "scannet", "root": str(tmp_path / "scannet"), "resolution": 32}, index


def _no_models(monkeypatch):
    """Any metric network or method build is a failure: the depth check must come first."""
    from genwarp.evaluation import methods, suite

    def boom(*a, **k):
        raise AssertionError("a model was built before the depth check")

    monkeypatch.setattr(suite.MetricSuite, "build", classmethod(lambda cls, *a, **k: boom()))
    monkeypatch.setattr(methods, "build_method", boom)


def test_scannet_default_is_zoedepth_and_fails_first_naming_it(tmp_path, scannet, monkeypatch):
    data, index = scannet
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty_hf_cache"))
    _no_models(monkeypatch)
    with pytest.raises(DepthModelNotFoundError) as err:  # depth unset: the default depth=auto
        run_evaluation(_cfg(tmp_path, "sn_default", data=data, index=index))
    assert "Intel/zoedepth-nyu" in str(err.value) and "hf download Intel/zoedepth-nyu" in str(err.value)


def test_re10k_default_is_the_aligned_cache_and_fails_first_naming_it(tmp_path, monkeypatch):
    write_re10k_raw(tmp_path / "re10k")
    index = _index(tmp_path, "re", "re10k", [{"scene": "seqA", "src_index": 0, "tgt_index": 5, "range": "mid"}])
    _no_models(monkeypatch)
    with pytest.raises(DepthModelNotFoundError) as err:
        run_evaluation(_cfg(tmp_path, "re", data={"name": "re10k", "root": str(tmp_path / "re10k"), "layout": "raw",
                                                  "resolution": 16}, index=index))
    msg = str(err.value)
    assert "depth cache cache/depth/zoedepth-nyu not found" in msg and "scripts/precompute_depth.py" in msg
    assert "--align-pairs 8" in msg and "hf download Intel/zoedepth-nyu" in msg


def test_scannet_warps_with_the_estimate_and_masks_with_sensor_depth(tmp_path, scannet, tiny_zoedepth, capsys):
    data, index = scannet
    est = run_evaluation(_cfg(tmp_path, "est", data=data, index=index,
                              depth={"source": "estimator", "estimator": str(tiny_zoedepth)}))
    assert "visibility masks from the sensor depth" in capsys.readouterr().err
    gt = run_evaluation(_cfg(tmp_path, "gt", data=data, index=index, depth={"source": "gt"}))
    settings = json.loads((tmp_path / "est" / "settings.json").read_text())
    assert settings["images"]["depth"] == {"source": "estimator", "estimator": str(tiny_zoedepth), "scale_alignment": "none"}
    assert settings["references"]["masks"] == {"depth": "exact"}
    for pid in [r["id"] for r in est["score"]["rows"]]:
        vis = [np.asarray(Image.open(tmp_path / f / "visibility" / f"{pid}.png")) for f in ("est", "gt")]
        assert np.array_equal(vis[0], vis[1])  # masks from the sensor depth in both runs
    assert gt["score"]["summary"]["all"]["n"] == est["score"]["summary"]["all"]["n"] == 2
    # the evaluated dataset's source depth is the estimate of the source image, the mask dataset's the sensor's
    from genwarp.data import load_eval_index
    from genwarp.depth import HFDepthEstimator
    from genwarp.evaluation.datasets import build_eval_dataset

    ds, mask = build_eval_dataset("scannet", load_eval_index(index), root=data["root"], resolution=32,
                                  depth=str(tiny_zoedepth))
    sample, exact = ds.get_pair("scene0000_00", 0, 2), mask.get_pair("scene0000_00", 0, 2)
    expected = HFDepthEstimator(tiny_zoedepth, local_files_only=True).estimate(sample["src_image"][None])[0]
    torch.testing.assert_close(sample["src_depth"], expected)
    assert not torch.allclose(sample["src_depth"], exact["src_depth"])


def test_gt_least_squares_rescales_the_estimate_to_sensor_depth(tmp_path, scannet, tiny_zoedepth):
    from genwarp.data import load_eval_index
    from genwarp.depth import least_squares_scale
    from genwarp.evaluation.datasets import GTAlignedDepth, build_eval_dataset

    data, index = scannet
    idx = load_eval_index(index)
    kw = dict(root=data["root"], resolution=32, depth=str(tiny_zoedepth))
    raw, mask = build_eval_dataset("scannet", idx, **kw)
    aligned, _ = build_eval_dataset("scannet", idx, depth_alignment="gt_least_squares", **kw)
    assert isinstance(aligned, GTAlignedDepth) and not isinstance(raw, GTAlignedDepth)
    a, r, g = (d.get_pair("scene0000_00", 0, 2) for d in (aligned, raw, mask))
    valid = g["src_depth_valid"] & a["src_depth_valid"]
    assert float(least_squares_scale(a["src_depth"][None], g["src_depth"][None], valid[None])) == pytest.approx(1.0, abs=1e-4)
    torch.testing.assert_close(a["src_depth"], r["src_depth"] * a["src_depth_scale"])
    assert abs(float(a["src_depth_scale"]) - 1.0) > 1e-3  # a random tiny model is not already in scale


def test_cache_scale_alignment_is_wired(tmp_path, scannet):
    from genwarp.data import DepthCache, load_eval_index
    from genwarp.evaluation.datasets import build_eval_dataset

    data, index = scannet
    cache = DepthCache(tmp_path / "cache")
    for scene, frame in (("scene0000_00", 0), ("scene0001_00", 4)):
        cache.save("scannet", scene, frame, torch.full((24, 32), 2.0))
        cache.save_scene_scale("scannet", scene, {"scale": 3.0})
    idx = load_eval_index(index)
    depth = {}
    for align in ("photometric", "none"):
        ds, _ = build_eval_dataset("scannet", idx, root=data["root"], resolution=32, depth=str(tmp_path / "cache"),
                                   depth_alignment=align)
        depth[align] = ds.get_pair("scene0000_00", 0, 2)["src_depth"]
    assert float(depth["none"].max()) == pytest.approx(2.0) and float(depth["photometric"].max()) == pytest.approx(6.0)
