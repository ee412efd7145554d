"""FID says what it was computed from (images, resolution, resize mode) in summary.json, and warns
when fewer than 2 048 images feed it."""

import json

import pytest
import torch
from evaluation_helpers import TinyFeatures
from omegaconf import OmegaConf

from genwarp.evaluation.config import EvaluateConfig
from genwarp.evaluation.fid import FID_MIN_IMAGES, FID_RESIZE, FIDMetric
from genwarp.evaluation.run import run_evaluation


def test_fid_info_and_small_sample_warning():
    pytest.importorskip("torchmetrics")
    fid = FIDMetric(TinyFeatures())
    g = torch.Generator().manual_seed(0)
    fid.update(torch.rand(5, 3, 16, 20, generator=g), torch.rand(5, 3, 16, 20, generator=g), "mid")
    with pytest.warns(UserWarning, match=f"from 5 images, fewer than {FID_MIN_IMAGES}"):
        fid.compute("mid")
    info = fid.info("mid")
    assert info["fid_images"] == 5 and info["fid_resolution"] == "16x20"
    assert info["fid_resize"].startswith("injected extractor TinyFeatures")
    fid.update(torch.rand(2, 3, 8, 8, generator=g), torch.rand(2, 3, 8, 8, generator=g), "mid")
    assert fid.info("mid")["fid_resolution"] == "mixed: 8x8, 16x20"
    assert "antialias=False" in FID_RESIZE and "299x299" in FID_RESIZE


def test_summary_json_records_what_fid_used(tmp_path):
    cfg = OmegaConf.merge(OmegaConf.structured(EvaluateConfig), dict(
        method="warp_only", data={"name": "synthetic", "resolution": 24}, depth={"source": "gt"},
        output_dir=str(tmp_path / "out"), limit=4, batch_size=2, progress=False, device="cpu", metrics=["psnr", "fid"]))
    with pytest.warns(UserWarning, match="fewer than 2048"):
        res = run_evaluation(cfg, suite_kwargs={"fid_extractor": TinyFeatures(0)})
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary == json.loads(json.dumps(res["score"]["summary"]))
    for rng, entry in summary.items():
        assert entry["fid_images"] == entry["n"] and entry["fid_resolution"] == "24x24", rng
        assert entry["fid_resize"].startswith("injected extractor")
