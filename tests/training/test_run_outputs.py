"""One short run writes what it promises: config, checkpoints, logs, validation grid, a loadable export."""

from __future__ import annotations

import json
import sys

import torch

from genwarp import GenWarpPipeline
from genwarp.data import SyntheticScenesDataset
from genwarp.geometry import relative_transform


def test_one_step_of_everything(train_cli, tmp_path):
    proc = train_cli("debug=one_step", "logger=default", f"output_dir={tmp_path}")
    assert "val/psnr" in proc.stdout
    assert (tmp_path / "config.yaml").is_file()
    assert (tmp_path / "checkpoints" / "step_00000001" / "trainer_state.json").is_file()
    assert (tmp_path / "val" / "step_00000001.png").is_file()
    assert list((tmp_path / "logs").rglob("events.out.tfevents*")), "no TensorBoard events"
    metrics = json.loads((tmp_path / "final_metrics.json").read_text())
    assert metrics["step"] == 1 and "train/loss" in metrics and "val/psnr_warp_only" in metrics
    assert {"val/psnr_visible", "val/psnr_invisible"} <= set(metrics)
    for part in ("preserver", "denoiser", "condition_encoder"):  # every trained part gets a gradient
        assert metrics[f"train/grad_norm_{part}"] > 0, part

    pipe = GenWarpPipeline.from_pretrained(tmp_path / "model")
    pipe.set_progress_bar_config(disable=True)
    s = SyntheticScenesDataset("test", 64).get_pair("test_0", 0, 6)
    out = pipe(s["src_image"][None], s["src_depth"][None], s["src_intrinsics"][None], s["tgt_intrinsics"][None],
               relative_transform(s["src_c2w"], s["tgt_c2w"])[None], height=64, width=64, num_inference_steps=2)
    assert out.images.shape == (1, 3, 64, 64) and torch.isfinite(out.images).all()


def test_two_cpu_processes_both_step_and_checkpoint_once(train_cli, tmp_path):
    launcher = [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
                str(train_cli.__globals__["REPO"] / "configs" / "accelerate" / "cpu_ddp2.yaml")]
    train_cli("trainer.max_steps=2", "trainer.checkpoint_every=2", "trainer.validate_every=2", "trainer.cpu=true",
              f"output_dir={tmp_path}",
              launcher=launcher,
              timeout=400)
    ckpt = tmp_path / "checkpoints" / "step_00000002"
    state = json.loads((ckpt / "trainer_state.json").read_text())
    assert state["num_processes"] == 2 and state["steps_per_rank"] == [2, 2]
    assert sorted(p.name for p in ckpt.glob("random_states_*.json")) == ["random_states_0.json", "random_states_1.json"]
    assert not list(ckpt.glob("*.pkl")) and not list(ckpt.glob("*.bin"))  # data only: nothing to unpickle
    assert len(list(ckpt.glob("model*.safetensors"))) == 1
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["step_00000002"]
    # The logged loss is the mean over ranks (each rank's window mean is gathered), not rank 0's.
    ranks = state["train_loss_per_rank"]
    assert len(ranks) == 2 and abs(ranks[0] - ranks[1]) > 1e-6, ranks
    logged = json.loads((tmp_path / "final_metrics.json").read_text())["train/loss"]
    assert abs(logged - (ranks[0] + ranks[1]) / 2) < 1e-6, (logged, ranks)


def test_main_job_trains_then_scores_against_warp_only(train_cli, tmp_path):
    proc = train_cli("trainer.max_steps=2", "trainer.validate_every=0", "evaluate_after=true", "evaluate_limit=4",
                     f"output_dir={tmp_path}")
    assert "| genwarp |" in proc.stdout and "| warp_only |" in proc.stdout
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results["summary"]) == {"genwarp", "warp_only"}
    assert {"psnr", "ssim"} <= set(results["metrics"])
    summary = results["summary"]
    for method in ("genwarp", "warp_only"):
        assert summary[method]["all"]["n"] == 4
        # The printed table is the results file, number for number.
        assert f"| {summary[method]['all']['psnr']:.2f} | {summary[method]['all']['ssim']:.4f} |" in proc.stdout
    # Warp-only copies exact colours where it lands and leaves black holes: a scorer or a
    # visibility mask that mixed the regions up, or scored the wrong images, would break this.
    warp = summary["warp_only"]["all"]
    assert warp["psnr_visible"] > 25.0 and warp["psnr_invisible"] < warp["psnr_visible"] - 5.0, warp
    assert summary["genwarp"]["all"]["psnr"] != warp["psnr"]  # two methods, two sets of images
    assert (tmp_path / "results.md").read_text().count("|") > 10
    import PIL.Image

    with PIL.Image.open(tmp_path / "results_grid.png") as grid:  # 32² tiles enlarged: labels fit
        assert grid.size[0] >= 4 * 96


def test_wandb_logs_offline_by_default(train_cli, tmp_path):
    import pytest

    pytest.importorskip("wandb")
    train_cli("debug=one_step", "logger=wandb", f"output_dir={tmp_path}")
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and list(runs[0].glob("*.wandb"))
    assert list((runs[0] / "files" / "media" / "images").rglob("*.png"))  # the validation grid
