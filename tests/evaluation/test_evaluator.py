import json
import math
import shutil
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from genwarp.evaluation.config import EvaluateConfig
from genwarp.evaluation.evaluator import index_pairs, markdown_table, summarize
from genwarp.evaluation.layout import EvalLayout, read_png, write_png
from genwarp.evaluation.run import run_evaluation

REPO = Path(__file__).resolve().parents[2]


def _cfg(tmp_path, **kw):
    base = dict(data={"name": "synthetic", "resolution": 32}, depth={"source": "gt"}, output_dir=str(tmp_path / "out"),
                limit=4, batch_size=2, progress=False, device="cpu")
    base.update(kw)
    return OmegaConf.merge(OmegaConf.structured(EvaluateConfig), base)


def _inject(tiny_metrics):
    return {"lpips_modules": tiny_metrics, "fid_extractor": tiny_metrics["fid"]}


def test_oracle_end_to_end_scores_perfectly(tmp_path, tiny_metrics):
    pytest.importorskip("torchmetrics")  # FID
    res = run_evaluation(_cfg(tmp_path, method="oracle"), suite_kwargs=_inject(tiny_metrics))
    out = tmp_path / "out"
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) == {"mid", "long", "all"} and summary["all"]["n"] == 4
    for rng in summary.values():
        assert rng["psnr"] == pytest.approx(100.0) and rng["ssim"] == pytest.approx(1.0)
        assert rng["lpips"] == pytest.approx(0.0, abs=1e-6) and abs(rng["fid"]) < 1e-3
    rows = (out / "per_pair.csv").read_text().splitlines()
    assert len(rows) == 5 and rows[0].startswith("id,scene,src_index,tgt_index,range,invisible_ratio,psnr")
    assert "| all | 4 |" in (out / "results.md").read_text()
    assert res["generate"]["generated"] == 4
    meta = json.loads((out / "meta.json").read_text())
    assert meta["method"] == "oracle" and meta["num_pairs"] == 4


def test_generation_resumes_and_foreign_predictions_score_the_same(tmp_path, tiny_metrics):
    cfg = _cfg(tmp_path, method="warp_only", metrics=["psnr", "ssim"])
    first = run_evaluation(cfg)
    layout = EvalLayout(tmp_path / "out")
    pid = index_pairs(REPO / "data" / "eval_index_synthetic_test.json", 4)[1]["id"]
    layout.path("images", pid).unlink()
    again = run_evaluation(cfg)
    assert again["generate"]["skipped"] == 3 and again["generate"]["generated"] == 1
    assert again["score"]["summary"] == first["score"]["summary"]
    # a folder of images produced elsewhere is scored by the same code
    foreign = tmp_path / "foreign"
    shutil.copytree(tmp_path / "out" / "images", foreign)
    other = run_evaluation(_cfg(tmp_path, method="none", name="elsewhere", stage="score", predictions=str(foreign),
                                metrics=["psnr", "ssim"]))
    assert json.loads((foreign / "meta.json").read_text())["method"] == "elsewhere"
    assert json.loads((tmp_path / "out" / "meta.json").read_text())["method"] == "warp_only"  # untouched
    assert other["score"]["summary"]["all"]["psnr"] == pytest.approx(first["score"]["summary"]["all"]["psnr"])
    # a missing prediction is an error, never a dropped row
    (foreign / f"{pid}.png").unlink()
    for f in ("per_pair.csv", "per_pair.json", "summary.json", "meta.json", "results.md"):
        assert (foreign / f).is_file()
    with pytest.raises(FileNotFoundError, match="1 of 4 pairs lack a prediction"):
        run_evaluation(_cfg(tmp_path, method="none", stage="score", predictions=str(foreign), metrics=["psnr"]))


def test_masks_use_exact_depth_under_depth_noise(tmp_path):
    clean = run_evaluation(_cfg(tmp_path, method="none", stage="prepare", output_dir=str(tmp_path / "a")))
    noisy = run_evaluation(_cfg(tmp_path, method="warp_only", metrics=["psnr"], output_dir=str(tmp_path / "b"),
                                depth={"source": "corrupted_gt", "corruption": 1.0}))
    assert clean["generate"]["generated"] == 4
    for p in index_pairs(REPO / "data" / "eval_index_synthetic_test.json", 4):
        a = read_png(tmp_path / "a" / "visibility" / f"{p['id']}.png", 1)
        b = read_png(tmp_path / "b" / "visibility" / f"{p['id']}.png", 1)
        assert torch.equal(a, b)
    assert noisy["score"]["summary"]["all"]["psnr_visible"] < 60


def test_method_mismatch_and_config_errors(tmp_path):
    run_evaluation(_cfg(tmp_path, method="oracle", metrics=["psnr"], limit=2))
    with pytest.raises(ValueError, match="already holds images"):
        run_evaluation(_cfg(tmp_path, method="warp_only", metrics=["psnr"], limit=2))
    with pytest.raises(ValueError, match="method='magic'"):
        run_evaluation(_cfg(tmp_path, method="magic"))
    with pytest.raises(ValueError, match="unknown metric"):
        run_evaluation(_cfg(tmp_path, method="oracle", metrics=["psnr", "fidd"]))
    with pytest.raises(ValueError, match="exactly one of checkpoint"):
        run_evaluation(_cfg(tmp_path, method="genwarp"))
    with pytest.raises(ValueError, match="data.name='mars'"):
        run_evaluation(_cfg(tmp_path, method="oracle", data={"name": "mars"}))
    with pytest.raises(Exception, match="batch_sizee"):
        OmegaConf.merge(OmegaConf.structured(EvaluateConfig), {"batch_sizee": 3})


def test_genwarp_checkpoint_end_to_end(tmp_path, tiny_metrics):
    pytest.importorskip("torchmetrics")  # FID
    from genwarp.pipelines.factory import random_pipeline

    random_pipeline().save_pretrained(tmp_path / "export")
    cfg = _cfg(tmp_path, method="genwarp", checkpoint=str(tmp_path / "export"), limit=2,
               sampler={"num_inference_steps": 2})
    res = run_evaluation(cfg, suite_kwargs=_inject(tiny_metrics))
    assert res["score"]["summary"]["all"]["n"] == 2
    assert len(list((tmp_path / "out" / "warped").glob("*.png"))) == 2
    assert json.loads((tmp_path / "out" / "method.json").read_text())["condition_kind"] == "coords"


def test_hydra_config_composes_and_rejects_typos():
    from hydra import compose, initialize_config_dir

    from genwarp.evaluation.config import register_schema

    register_schema()
    with initialize_config_dir(str(REPO / "configs"), version_base="1.3"):
        cfg = compose("evaluate", overrides=["method=warp_only", "data=synthetic", "output_dir=x"])
        assert cfg.method == "warp_only" and list(cfg.metrics) == ["psnr", "ssim", "lpips", "fid"]
        assert cfg.data.name == "synthetic" and cfg.depth.source == "auto"  # exact depth on synthetic:
        from genwarp.depth import resolve_depth_spec

        assert resolve_depth_spec("synthetic", cfg.depth).source == "gt"
        cfg = compose("evaluate", overrides=["method=oracle", "data=scannet", "depth=corrupted_gt"])
        assert cfg.data.name == "scannet" and cfg.depth.corruption == 1.0 and cfg.output_dir == "outputs/eval/oracle_scannet"
        with pytest.raises(Exception):
            compose("evaluate", overrides=["batch_sizee=3"])
        with pytest.raises(Exception):
            compose("evaluate", overrides=["batch_size=many"])


def test_summary_and_table_helpers(tmp_path):
    rows = [{"range": "mid", "psnr": 20.0}, {"range": "mid", "psnr": math.nan}, {"range": "long", "psnr": 10.0}]
    s = summarize(rows, ["psnr"])
    assert s["mid"] == {"n": 2, "psnr": 20.0} and s["all"]["psnr"] == 15.0
    assert "| mid | 2 | 20.00 |" in markdown_table(s, ["n", "psnr"])
    write_png(tmp_path / "m.png", torch.tensor([[[0.0, 1.0]]]))
    assert read_png(tmp_path / "m.png", 1).tolist() == [[[0.0, 1.0]]]


@pytest.mark.slow
def test_two_processes_match_one(tmp_path):
    """accelerate launch with 2 CPU processes (uneven split): same per-pair rows as one process."""
    import csv
    import subprocess
    import sys

    common = ["method=warp_only", "data=synthetic", "data.resolution=32", "limit=5", "batch_size=2",
              "metrics=[psnr,ssim]", "progress=false"]
    script = str(REPO / "scripts" / "evaluate.py")
    subprocess.run([sys.executable, script, *common, f"output_dir={tmp_path / 'one'}"], check=True, capture_output=True)
    subprocess.run([sys.executable, "-m", "accelerate.commands.launch", "--cpu", "--num_processes", "2",
                    "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", script, *common,
                    f"output_dir={tmp_path / 'two'}"], check=True, capture_output=True)

    def rows(d):
        with open(d / "per_pair.csv") as f:
            return [(r["id"], round(float(r["psnr"]), 4), round(float(r["ssim"]), 5)) for r in csv.DictReader(f)]

    assert rows(tmp_path / "one") == rows(tmp_path / "two") and len(rows(tmp_path / "one")) == 5


def test_scannet_and_re10k_fixtures(tmp_path):
    """Real-dataset code paths on the data package's tiny fixture layouts."""
    from genwarp.testing.fixtures import write_re10k_raw, write_scannet

    write_scannet(tmp_path / "scannet")
    index = {"format": "genwarp-eval-index/1", "dataset": "scannet", "entries": [
        {"scene": "scene0000_00", "src_index": 0, "tgt_index": 2, "range": "mid"},
        {"scene": "scene0001_00", "src_index": 4, "tgt_index": 1, "range": "long"}]}
    (tmp_path / "scannet.json").write_text(json.dumps(index))
    data = {"name": "scannet", "root": str(tmp_path / "scannet"), "resolution": 32}
    res = run_evaluation(_cfg(tmp_path, method="warp_only", data=data, index=str(tmp_path / "scannet.json"),
                              metrics=["psnr", "ssim"], output_dir=str(tmp_path / "sn")))
    assert res["score"]["summary"]["all"]["n"] == 2 and set(res["score"]["summary"]) == {"mid", "long", "all"}
    # a pair whose frame is corrupt (−inf pose) aborts the evaluation instead of being dropped
    index["entries"].append({"scene": "scene0000_00", "src_index": 3, "tgt_index": 0, "range": "mid"})
    (tmp_path / "bad.json").write_text(json.dumps(index))
    with pytest.raises(Exception, match="scene0000_00|pose|finite"):
        run_evaluation(_cfg(tmp_path, method="warp_only", data=data, index=str(tmp_path / "bad.json"),
                            metrics=["psnr"], output_dir=str(tmp_path / "sn_bad")))

    write_re10k_raw(tmp_path / "re10k")
    index = {"format": "genwarp-eval-index/1", "dataset": "re10k",
             "entries": [{"scene": "seqA", "src_index": 0, "tgt_index": 5, "range": "mid"}]}
    (tmp_path / "re10k.json").write_text(json.dumps(index))
    data = {"name": "re10k", "root": str(tmp_path / "re10k"), "layout": "raw", "resolution": 16}
    oracle = run_evaluation(_cfg(tmp_path, method="oracle", data=data, depth={"source": "none"}, metrics=["psnr"],
                                 index=str(tmp_path / "re10k.json"), output_dir=str(tmp_path / "re")))
    row = oracle["score"]["rows"][0]
    assert row["psnr"] == pytest.approx(100.0) and row["invisible_ratio"] == 1.0  # no depth: nothing visible
    with pytest.raises(ValueError, match="no source depth"):
        run_evaluation(_cfg(tmp_path, method="warp_only", data=data, depth={"source": "none"}, metrics=["psnr"],
                            index=str(tmp_path / "re10k.json"), output_dir=str(tmp_path / "re2")))
