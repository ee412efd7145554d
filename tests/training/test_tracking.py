"""Tracking a researcher can compare: wandb name/group/tags and one run id across resumes, the main
job's evaluation in the trackers, scalars in train.log, and scripts/plot_runs.py."""

from __future__ import annotations

import importlib.util
from types import SimpleNamespace

import pytest

from genwarp.training.logging import WANDB_ID_FILE, wandb_init_kwargs

REPO = __import__("pathlib").Path(__file__).resolve().parents[2]


def test_wandb_name_group_tags_from_the_experiment_and_overrides_and_a_stored_id(tmp_path):
    cfg = SimpleNamespace(name="ablation_embed_plucker",
                          logger=SimpleNamespace(wandb_name=None, wandb_group=None, wandb_tags=["mine"]))
    overrides = ["experiment=ablation_embed_plucker", "trainer.learning_rate=1e-4", f"output_dir={tmp_path}",
                 "resume=latest", "logger=wandb", "hydra.sweep.dir=x"]
    kw = wandb_init_kwargs(cfg, overrides, tmp_path)
    assert kw["name"] == "ablation_embed_plucker trainer.learning_rate=1e-4"
    assert kw["group"] == "ablation_embed_plucker"
    assert kw["tags"] == ["ablation_embed_plucker", "trainer.learning_rate=1e-4", "mine"]
    assert kw["resume"] == "allow" and kw["id"] == (tmp_path / WANDB_ID_FILE).read_text().strip()
    assert wandb_init_kwargs(cfg, [], tmp_path)["id"] == kw["id"]  # the folder keeps its run
    cfg.logger.wandb_name, cfg.logger.wandb_group = "n", "g"
    assert (wandb_init_kwargs(cfg, [], tmp_path)["name"], wandb_init_kwargs(cfg, [], tmp_path)["group"]) == ("n", "g")


def test_resume_continues_the_wandb_run_and_the_evaluation_reaches_the_trackers(train_cli, tmp_path):
    pytest.importorskip("wandb")
    run = tmp_path / "run"
    common = ["logger=wandb", "trainer.checkpoint_every=1", "trainer.validate_every=0", "trainer.log_every=1",
              f"output_dir={run}"]
    train_cli("trainer.max_steps=1", "evaluate_after=true", "evaluate_limit=2", "depth.scale_alignment=none", *common)
    run_id = (run / WANDB_ID_FILE).read_text().strip()
    train_cli("trainer.max_steps=2", "resume=latest", "depth.scale_alignment=none", *common)
    offline = sorted(p.name for p in (run / "wandb").glob("offline-run-*"))
    assert len(offline) == 2 and all(name.endswith("-" + run_id) for name in offline), (offline, run_id)

    # The plain-text scalar log (no progress bar): every logged step's loss.
    log = (run / "train.log").read_text()
    assert "step 1: train/loss" in log and "step 2: train/loss" in log and "eval/genwarp/all/psnr" in log

    # The main job's evaluation in the trackers: TensorBoard scalars and text, a wandb table.
    plot = _plot_module()
    scalars = plot.read_scalars(run)
    assert [s for s, _ in scalars["train/loss"]] == [1, 2]
    assert {"eval/genwarp/all/psnr", "eval/warp_only/all/psnr"} <= set(scalars)
    assert scalars["eval/genwarp/all/psnr"][0][0] == 1
    first = sorted((run / "wandb").glob("offline-run-*"))[0]
    assert list((first / "files" / "media" / "table").rglob("results*.table.json")), "no wandb evaluation table"

    # Several run folders' curves side by side, in one PNG.
    out = tmp_path / "compare.png"
    assert plot.main([str(run), str(run), "--labels", "a", "b", "--tags", "train/loss", "eval/genwarp/all/psnr",
                      "--out", str(out)]) == 0
    import PIL.Image

    with PIL.Image.open(out) as image:
        assert image.size[0] >= 800 and image.size[1] >= 300


def _plot_module():
    spec = importlib.util.spec_from_file_location("plot_runs", REPO / "scripts" / "plot_runs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
