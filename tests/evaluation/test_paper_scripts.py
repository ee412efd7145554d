"""Every scripts/paper/ entry point runs on tiny inputs and writes its files."""

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from genwarp.evaluation.config import EvaluateConfig
from genwarp.evaluation.run import run_evaluation

pytest.importorskip("matplotlib")  # every paper script draws its figure
pytest.importorskip("torchmetrics")  # the evaluation folders they read are scored with FID

REPO = Path(__file__).resolve().parents[2]
PAPER = REPO / "scripts" / "paper"


def _script(name):
    if str(PAPER) not in sys.path:
        sys.path.insert(0, str(PAPER))
    spec = importlib.util.spec_from_file_location(f"paper_{name}", PAPER / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from evaluation_helpers import TinyFeatures, tiny_lpips

    root = tmp_path_factory.mktemp("runs")
    inject = {"lpips_modules": {"lpips": tiny_lpips()}, "fid_extractor": TinyFeatures()}
    dirs = []
    for method in ("oracle", "warp_only"):
        cfg = OmegaConf.merge(OmegaConf.structured(EvaluateConfig), dict(
            method=method, data={"name": "synthetic", "resolution": 32}, output_dir=str(root / method), limit=6,
            batch_size=3, progress=False, device="cpu"))
        run_evaluation(cfg, suite_kwargs=inject)
        dirs.append(root / method)
    return dirs


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    from genwarp.pipelines.factory import random_pipeline

    root = tmp_path_factory.mktemp("ckpt")
    for seed in (0, 1):
        random_pipeline(seed=seed).save_pretrained(root / f"step_{seed}")
    return [root / "step_0", root / "step_1"]


TINY = ["--limit", "2", "--resolution", "32", "--num-inference-steps", "2"]


def test_table1(runs, tmp_path, capsys):
    _script("table1")  # importable
    _script("runs_table").main(["--name", "table1", "--runs", *map(str, runs), "--out", str(tmp_path)])
    data = json.loads((tmp_path / "table1.json").read_text())
    assert [r["row"] for r in data["rows"]] == ["oracle", "warp_only"]
    summary = json.loads((runs[1] / "summary.json").read_text())
    assert data["rows"][1]["synthetic/mid/psnr"] == summary["mid"]["psnr"]
    assert (tmp_path / "table1.csv").is_file() and "| oracle |" in (tmp_path / "table1.md").read_text()


def test_table2_rows_by_condition_kind(runs, tmp_path):
    kinds = []
    for kind, src in (("coords", runs[0]), ("depth", runs[1])):
        dst = tmp_path / f"run_{kind}"
        shutil.copytree(src, dst)
        meta = json.loads((dst / "meta.json").read_text())
        meta["method_info"] = {"condition_kind": kind}
        (dst / "meta.json").write_text(json.dumps(meta))
        kinds.append(dst)
    _script("runs_table").main(["--name", "table2", "--row-by", "condition_kind", "--metrics", "fid",
                                "--runs", *map(str, kinds), "--out", str(tmp_path / "t2")])
    rows = json.loads((tmp_path / "t2" / "table2.json").read_text())["rows"]
    assert [r["row"] for r in rows] == ["coords", "depth"] and "synthetic/long/fid" in rows[0]


@pytest.mark.parametrize("name", ["fig8", "fig13"])
def test_per_pair_figures(runs, tmp_path, name):
    _script(name).main(["--runs", *map(str, runs), "--out", str(tmp_path), "--bins", "2"])
    for suffix in (".png", ".json", "_points.csv"):
        assert (tmp_path / f"{name}{suffix}").stat().st_size > 0
    curves = json.loads((tmp_path / f"{name}.json").read_text())["binned"]
    assert set(curves) == {"oracle", "warp_only"}


def test_table3(checkpoints, tmp_path):
    _script("table3").main(["--checkpoints", *map(str, checkpoints), "--labels", "0", "1", "--out", str(tmp_path), *TINY])
    rows = json.loads((tmp_path / "table3.json").read_text())["rows"]
    assert [r["checkpoint"] for r in rows] == ["0", "1"] and rows[0]["pairs"] == 2
    assert (tmp_path / "table3.png").is_file() and (tmp_path / "table3.md").is_file()


def test_table3_from_training_checkpoints(checkpoints, tmp_path):
    from safetensors.torch import save_file

    from genwarp.pipelines import GenWarpPipeline

    state = GenWarpPipeline.from_pretrained(str(checkpoints[0])).model.state_dict()
    step = tmp_path / "checkpoints" / "step_00000100"
    step.mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in state.items()}, str(step / "model.safetensors"))
    _script("table3").main(["--base-export", str(checkpoints[0]), "--checkpoints", str(step), str(checkpoints[0]),
                            "--out", str(tmp_path / "out"), *TINY])
    rows = json.loads((tmp_path / "out" / "table3.json").read_text())["rows"]
    assert rows[0]["checkpoint"] == "step_00000100"
    assert rows[0]["flow_epe_px"] == pytest.approx(rows[1]["flow_epe_px"])  # same weights, same pairs, same noise


def test_table4_and_fig4(checkpoints, tmp_path):
    _script("table4").main(["--checkpoint", str(checkpoints[0]), "--out", str(tmp_path), *TINY])
    rows = json.loads((tmp_path / "table4.json").read_text())["rows"]
    assert [r["region"] for r in rows] == ["visible", "invisible"]
    assert (tmp_path / "table4.md").is_file() and (tmp_path / "table4_layers.csv").is_file()
    _script("fig4").main(["--checkpoint", str(checkpoints[0]), "--queries", "0.5,0.5", "0.2,0.8",
                          "--out", str(tmp_path), *TINY])
    data = json.loads((tmp_path / "fig4_attention.json").read_text())
    assert len(data["pairs"]) == 2 and len(data["pairs"][0]["queries"]) == 2
    assert (tmp_path / "fig4_attention.png").stat().st_size > 0


@pytest.mark.slow
def test_synthetic_benchmark(checkpoints, tmp_path):
    pytest.importorskip("torchvision")  # random-backbone LPIPS
    pytest.importorskip("lpips")
    _script("synthetic_benchmark").main([
        "--checkpoint", str(checkpoints[0]), "--inpaint-model", "opencv:telea", "--limit", "2", "--resolution", "32",
        "--metrics", "psnr", "ssim", "lpips", "--lpips-backbone", "random", "--num-inference-steps", "2",
        "--out", str(tmp_path)])
    data = json.loads((tmp_path / "benchmark.json").read_text())
    assert [(r["method"], r["depth"]) for r in data["rows"]][::2] == [
        ("oracle", "exact depth"), ("warp_only", "exact depth"), ("warp_inpaint (opencv:telea)", "exact depth"),
        ("genwarp", "exact depth")]
    assert data["rows"][0]["all/psnr"] == 100.0 and data["rows"][1]["depth"] == "corrupted depth (strength 1)"
    md = (tmp_path / "benchmark.md").read_text()
    assert "RANDOM AlexNet" in md and "synthetic_benchmark.py" in md
