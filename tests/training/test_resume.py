"""Exact resume: a run killed at any moment and resumed ends with the weights of an uninterrupted run."""

from __future__ import annotations

import json
import signal

import torch
from safetensors.torch import load_file

from genwarp.training.state_io import load_tree

STEPS = ["trainer.max_steps=6", "trainer.checkpoint_every=1", "trainer.keep_last=2", "trainer.validate_every=0",
         "trainer.ema=true", "trainer.ema_decay=0.5"]


def _final_weights(run):
    """Everything a resume must reproduce: weights, EMA shadow, optimizer and LR-scheduler state
    of the last checkpoint, and the exported model (which holds the EMA weights)."""
    ckpt = run / "checkpoints" / "step_00000006"
    out = {f"model/{k}": v for k, v in load_file(str(ckpt / "model.safetensors")).items()}
    out.update({f"ema/{i}": v for i, v in enumerate(load_tree(ckpt, "ema")["shadow_params"])})
    opt = load_tree(ckpt, "optimizer")
    out.update({f"opt/{i}/{k}": v for i, st in opt["state"].items() for k, v in st.items()})
    sched = load_tree(ckpt, "scheduler")
    out["sched/last_epoch"] = torch.tensor(sched["last_epoch"])
    out["sched/lr"] = torch.tensor(sched["_last_lr"])
    export = run / "model" / "model" / "diffusion_pytorch_model.safetensors"
    out.update({f"export/{k}": v for k, v in load_file(str(export)).items()})
    return out


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_sigkill_after_a_step_or_inside_a_checkpoint_then_resume_is_exact(train_cli, tmp_path):
    straight = tmp_path / "straight"
    train_cli(*STEPS, f"output_dir={straight}")
    reference = _final_weights(straight)

    killed = tmp_path / "killed"
    proc = train_cli(*STEPS, f"output_dir={killed}", "debug.sigkill_after_step=3", check=False)
    assert proc.returncode == -signal.SIGKILL
    assert sorted(p.name for p in (killed / "checkpoints").iterdir()) == ["step_00000002", "step_00000003"]
    proc = train_cli(*STEPS, f"output_dir={killed}", "resume=latest")
    assert f"resumed from {killed / 'checkpoints' / 'step_00000003'} at step 3" in proc.stdout  # the newest
    _assert_same(_final_weights(killed), reference)

    # Killed while writing the step-4 checkpoint: the half-written folder is ignored and removed.
    torn = tmp_path / "torn"
    proc = train_cli(*STEPS, f"output_dir={torn}", "debug.sigkill_in_checkpoint=4", check=False)
    assert proc.returncode == -signal.SIGKILL
    assert (torn / "checkpoints" / "step_00000004.tmp").is_dir()
    train_cli(*STEPS, f"output_dir={torn}", "resume=latest")
    assert not list((torn / "checkpoints").glob("*.tmp"))
    _assert_same(_final_weights(torn), reference)
    state = json.loads((torn / "checkpoints" / "step_00000006" / "trainer_state.json").read_text())
    assert state["step"] == 6 and state["microbatches"] == 6
    assert (torn / "checkpoints" / "step_00000006" / "config.yaml").is_file()
    assert len(list((torn / "checkpoints").iterdir())) == 2  # keep_last


def test_non_finite_loss_stops_naming_the_step_and_last_checkpoint(train_cli, tmp_path):
    proc = train_cli("trainer.max_steps=5", "trainer.checkpoint_every=2", "trainer.validate_every=0", f"output_dir={tmp_path}",
                     "debug.nan_at_step=3", check=False)
    assert proc.returncode != 0
    err = proc.stderr + proc.stdout
    assert "non-finite loss" in err and "at step 3" in err and "step_00000002" in err


def test_resume_from_a_path_that_is_not_a_checkpoint_is_an_error(train_cli, tmp_path):
    proc = train_cli("trainer.max_steps=1", "trainer.validate_every=0", f"output_dir={tmp_path}", f"resume={tmp_path / 'nope'}", check=False)
    assert proc.returncode != 0 and "is not a complete checkpoint folder" in proc.stderr
