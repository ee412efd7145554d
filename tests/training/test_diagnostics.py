"""scripts/diagnose.py on a finished run; the diagnostics on models whose answer is known."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch

from genwarp.data import SyntheticScenesDataset
from genwarp.evaluation import diagnostics
from genwarp.pipelines.factory import random_pipeline
from genwarp.training.validation import load_validation_pairs

REPO = Path(__file__).resolve().parents[2]


def _batch(n=3):
    return load_validation_pairs(SyntheticScenesDataset("test", 32), n, REPO / "data/eval_index_synthetic_test.json")


def test_a_model_without_reference_attention_ignores_its_source():
    batch = _batch()
    pipe = random_pipeline(codec="pixel", image_prompt="none", seed=0)
    pipe.set_progress_bar_config(disable=True)
    with_ref = diagnostics.source_swap_sensitivity(pipe, batch)
    pipe.model.register_to_config(reference_attention=False)  # the ablation: no preserver pass
    without = diagnostics.source_swap_sensitivity(pipe, batch)
    assert without["relative"] == 0.0 and with_ref["relative"] > 0.0


def test_source_colour_sensitivity_is_zero_without_the_reference():
    batch = _batch()
    pipe = random_pipeline(codec="pixel", image_prompt="none", seed=0)
    pipe.set_progress_bar_config(disable=True)
    with_ref = diagnostics.source_colour_sensitivity(pipe, batch)
    pipe.model.register_to_config(reference_attention=False)
    without = diagnostics.source_colour_sensitivity(pipe, batch)
    assert without["relative"] == 0.0 and with_ref["relative"] > 0.0
    assert with_ref["chroma_target"] > 0.01 and with_ref["chroma_generated"] >= 0.0
    assert 10.0 < with_ref["psnr_grey_target"] < 60.0


def test_attention_flow_and_condition_scale_report_every_layer():
    batch = _batch()
    pipe = random_pipeline(codec="pixel", image_prompt="none", seed=0)
    pipe.set_progress_bar_config(disable=True)
    flow = diagnostics.attention_flow(pipe, batch, min_grid=4)
    assert flow and all(0.0 <= r["flow_accuracy"] <= 1.0 and 0.0 < r["source_mass"] < 1.0 for r in flow)
    assert all(r["source_mass"] / r["grid"] ** 2 <= r["peak_weight"] <= r["source_mass"] for r in flow)
    scale = diagnostics.condition_feature_scale(pipe, batch)
    assert scale["target_condition_rms"] > 0 and scale["conv_in_noise_rms"] > 0


def test_true_correspondence_of_an_identity_pair_is_the_same_token():
    pair = SyntheticScenesDataset("test", 32).get_pair("test_0", 5, 5)
    batch = {k: (v[None] if isinstance(v, torch.Tensor) else [v]) for k, v in pair.items()}
    tokens, visible = diagnostics._true_source_tokens(batch, 16)
    assert visible.all() and torch.equal(tokens[0], torch.arange(256))


def test_diagnose_script_writes_json_and_markdown(train_cli, tmp_path):
    train_cli("debug=one_step", f"output_dir={tmp_path}")
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "diagnose.py"), str(tmp_path), "--pairs", "2",
                           "--settings", "1:1.0"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads((tmp_path / "diagnostics.json").read_text())
    assert report["pairs"] == 2 and report["sampler"][0]["steps"] == 1 and report["attention_flow"]
    assert "flow accuracy" in (tmp_path / "diagnostics.md").read_text()
    bad = subprocess.run([sys.executable, str(REPO / "scripts" / "diagnose.py"), str(tmp_path / "nope")],
                         cwd=REPO, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "not a finished run folder" in bad.stderr
