"""Benchmark building blocks: FLOP counting, the training step, the chunk data path, the script.

No test here asserts a timing; they check that every figure is produced and computed as documented.
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest
import torch
from torch.nn import functional as F

from genwarp.perf import H100_DENSE_BF16_TFLOPS, count_flops, mfu, sampling_tflop
from genwarp.perf.data import chunk_training_pairs, write_synthetic_chunks
from genwarp.perf.training import build_training, measure_training, model_flops, synthetic_batch

REPO = Path(__file__).resolve().parents[2]


def test_flop_counter_counts_attention_on_the_cpu():
    b, h, lq, lk, d = 2, 3, 16, 32, 8
    q = torch.randn(b, h, lq, d, requires_grad=True)
    kv = torch.randn(b, h, lk, d, requires_grad=True)
    forward = 2 * (2 * b * h * lq * lk * d)  # q·kᵀ and p·v
    assert count_flops(lambda: F.scaled_dot_product_attention(q, kv, kv)) == forward
    both = count_flops(lambda: F.scaled_dot_product_attention(q, kv, kv).sum().backward())
    assert both == forward + 5 * (2 * b * h * lq * lk * d)  # recompute scores + four gradient matmuls


def test_issue_arithmetic():
    assert sampling_tflop(steps=20, views=1) == pytest.approx(32.0)  # 0.80 TFLOP × 20 steps × 2 CFG halves
    assert 32.0 / H100_DENSE_BF16_TFLOPS == pytest.approx(0.0405, abs=1e-4)  # ≈ 40 ms at the limit
    assert mfu(395e12, 1.0) == pytest.approx(0.5)


def test_training_step_flops_memory_row_and_checkpointing_recompute():
    batch = synthetic_batch(2, 64, "cpu")
    plain = build_training("tiny", "cpu", "fp32", checkpointing=False)
    flops = model_flops(plain, batch)
    assert flops > 0 and all(p.grad is None for p in plain.model.trainable_parameters())
    row = measure_training(plain, 2, 64, steps=1, warmup=1, flops=flops, peak_tflops=1.0)
    assert row["loss_finite"] and row["mfu"] == pytest.approx(flops / row["step_median_s"] / 1e12)
    assert row["samples_per_s"] == pytest.approx(2 / row["step_median_s"]) and row["peak_mem_gb"] is None
    ckpt = build_training("tiny", "cpu", "bf16", checkpointing=True)
    assert count_flops(lambda: ckpt.forward_backward(batch)) > flops  # the recomputed forward


def test_synthetic_chunks_read_back_through_the_training_data_path(tmp_path):
    from genwarp.data import SyntheticScenesDataset

    write_synthetic_chunks(tmp_path, num_scenes=2, frames=5, resolution=32)
    assert json.loads((tmp_path / "train" / "index.json").read_text()) == {"synth00000": "000000.torch",
                                                                           "synth00001": "000000.torch"}
    sample = chunk_training_pairs(tmp_path, 32, max_gap=4)[0]
    scene = SyntheticScenesDataset(split="test", resolution=32, num_test_scenes=2).open_scene(
        "test_" + sample["scene"][-1])
    image, depth, K, c2w = scene.render([sample["src_index"]])
    assert sample["depth_source"] == "cache:synthetic_gt"
    torch.testing.assert_close(sample["src_depth"], depth[0], atol=depth.max().item() * 1e-3, rtol=0)  # float16
    torch.testing.assert_close(sample["src_intrinsics"], K[0])
    torch.testing.assert_close(sample["src_c2w"], c2w[0], atol=1e-5, rtol=0)
    assert (sample["src_image"] - image[0]).abs().mean() < 0.03  # JPEG


def _benchmark_module():
    spec = importlib.util.spec_from_file_location("genwarp_benchmark_script", REPO / "scripts" / "benchmark.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_script_writes_every_section(tmp_path, capsys):
    out = tmp_path / "bench.json"
    _benchmark_module().main([
        "--device", "cpu", "--compare", "--batch-sizes", "2", "--repeats", "1", "--steps", "2",
        "--train-batch-sizes", "2", "--train-steps", "1", "--data-pairs", "8", "--data-scenes", "2",
        "--data-frames", "4", "--flops-arch", "tiny", "--flops-resolution", "64", "--output", str(out),
    ])
    report = json.loads(out.read_text())
    rows = report["results"]
    sampling = [r for r in rows if r["benchmark"] == "sampling"]
    assert [(r["variant"], r["sources"], r["views_per_source"]) for r in sampling] == [
        ("plain", 1, 2), ("plain", 2, 1), ("optimized", 1, 2), ("optimized", 2, 1)]
    for r in sampling:
        assert r["median_s"] > 0 and r["p90_s"] >= r["median_s"] and math.isfinite(r["views_per_s"])
        assert r["tflop_per_call"] > 0 and "release_anchor_s" not in r  # anchors only at the issue's settings
    assert sampling[2]["applied"]["fused_attention_layers"] == 64
    training = [r for r in rows if r["benchmark"] == "training"]
    assert [r["checkpointing"] for r in training] == [False, True]
    assert training[0]["model_tflop_per_step"] == training[1]["model_tflop_per_step"]  # model FLOPs, no recompute
    assert all(r["mfu"] > 0 and r["loss_finite"] for r in training)
    flops = {r["what"]: r for r in rows if r["benchmark"] == "flops"}
    assert flops["component: denoiser_with_reference"]["tflop"] > flops["component: denoiser_plain"]["tflop"]
    assert "target_s" not in flops["sampling 1 source(s) × 2 view(s), 2 steps + CFG"]  # not the issue's settings
    (data,) = [r for r in rows if r["benchmark"] == "data"]
    assert data["pairs_per_second"] > 0 and data["data_over_training"] == pytest.approx(
        data["pairs_per_second"] / max(r["samples_per_s"] for r in training))
    assert report["meta"]["device_type"] == "cpu" and report["meta"]["settings"]["arch"] == "tiny"
    assert "### sampling" in out.with_suffix(".md").read_text()
    assert "sampling" in capsys.readouterr().out

    # Checkpointing alone: model FLOPs counted on the same model with checkpointing switched off.
    _benchmark_module().main(["--device", "cpu", "--only", "training", "--checkpointing", "on", "--train-batch-sizes",
                              "2", "--train-steps", "1", "--output", str(out)])
    (alone,) = json.loads(out.read_text())["results"]
    assert alone["checkpointing"] and alone["flops_source"] == "counted"
    assert alone["model_tflop_per_step"] == training[0]["model_tflop_per_step"]


def test_meta_device_budget_equals_the_counted_pipeline_and_training_step():
    from genwarp.geometry import fov_to_intrinsics
    from genwarp.perf.budget import component_flops, sampling_budget, training_flops_per_sample
    from genwarp.pipelines.factory import random_pipeline

    components = component_flops("tiny", 64)
    pipe = random_pipeline("tiny")
    pipe.set_progress_bar_config(disable=True)
    for sources, views in ((1, 3), (2, 1)):
        K = fov_to_intrinsics(torch.full((sources,), 0.9), 1.0)
        T = torch.eye(4).repeat(sources, views, 1, 1)
        T[..., 0, 3] = 0.1
        image, depth = torch.rand(sources, 3, 64, 64), 1 + torch.rand(sources, 1, 64, 64)
        counted = count_flops(lambda: pipe(image, depth, K, K, T, height=64, width=64, num_inference_steps=2))
        budget = sampling_budget(components, steps=2, views=views, sources=sources)["total"] * 1e12
        assert counted == pytest.approx(budget, rel=1e-3)  # the warp's few small matmuls are not in the budget
    setup = build_training("tiny", "cpu", "fp32")
    setup.objective.condition_dropout = 0.0
    counted = model_flops(setup, synthetic_batch(1, 64, "cpu"))
    assert counted == pytest.approx(training_flops_per_sample("tiny", 64)["total"], rel=1e-2)
