"""Checkpoints are data (no code runs on resume), a bad checkpoint falls back, a full disk is named."""

from __future__ import annotations

import errno
import json
import os
import pickle
import random
import shutil
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from genwarp.training import checkpoint as ckpt_mod
from genwarp.training.checkpoint import CheckpointError, check_checkpoint, resolve_resume
from genwarp.training.state_io import StateFormatError, load_tree, save_tree

RUN = ["trainer.max_steps=3", "trainer.checkpoint_every=1", "trainer.keep_last=3", "trainer.validate_every=0",
       "trainer.ema=true"]


class _Payload:
    """Unpickling this creates ``marker``: evidence that a checkpoint file was unpickled."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _plant(path, marker, size=None):
    """Replace ``path`` by a pickle payload (padded to ``size`` bytes so size checks pass)."""
    data = pickle.dumps(_Payload(marker))
    if size is not None:
        data = data + b"\0" * max(0, size - len(data))
    path.write_bytes(data)


def test_state_trees_round_trip_optimizer_rng_and_ema_exactly(tmp_path):
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.99))
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    state = {"opt": opt.state_dict(), "python": random.getstate(), "numpy": np.random.get_state(),
             "torch": torch.get_rng_state(), "inf": float("inf"), "keys": {1: "a", None: 2.5, False: [1, (2, 3)], "s": 0}}
    save_tree(tmp_path, "s", state)
    back = load_tree(tmp_path, "s")
    assert back["python"] == state["python"]
    assert back["numpy"][0] == "MT19937" and np.array_equal(back["numpy"][1], state["numpy"][1])
    assert back["numpy"][1].dtype == state["numpy"][1].dtype and back["numpy"][2:] == state["numpy"][2:]
    assert torch.equal(back["torch"], state["torch"]) and back["inf"] == float("inf")
    assert back["keys"] == state["keys"]
    assert back["opt"]["param_groups"] == state["opt"]["param_groups"]  # tuples (betas) stay tuples
    opt2 = torch.optim.AdamW(torch.nn.Linear(3, 2).parameters(), lr=1.0)
    opt2.load_state_dict(back["opt"])
    for k, v in opt.state_dict()["state"][0].items():
        assert torch.equal(opt2.state_dict()["state"][0][k], v), k
    random.setstate(back["python"])  # the restored states are usable as such
    np.random.set_state(back["numpy"])
    torch.set_rng_state(back["torch"])


def test_objects_that_are_not_data_are_refused_when_writing(tmp_path):
    with pytest.raises(TypeError, match="cannot be stored as data"):
        save_tree(tmp_path, "bad", {"fn": print})
    assert not (tmp_path / "bad.json").exists()


def test_no_checkpoint_file_is_ever_unpickled_on_resume(train_cli, tmp_path):
    run = tmp_path / "run"
    train_cli(*RUN, f"output_dir={run}")
    step3 = run / "checkpoints" / "step_00000003"
    assert not list(step3.glob("*.pkl")) and not list(step3.glob("*.bin"))
    marker = tmp_path / "PWNED"
    # Accelerate's file names, with payloads: a loader that falls back to them would run the payload.
    for name in ("custom_checkpoint_0.pkl", "random_states_0.pkl", "optimizer.bin", "scheduler.bin",
                 "pytorch_model.bin", "scaler.pt"):
        torch.save({"state": _Payload(marker)}, step3 / name)
    # And a real file of step 3 replaced by a same-size payload: step 3 is unusable, step 2 is used.
    _plant(step3 / "ema.safetensors", marker, size=(step3 / "ema.safetensors").stat().st_size)
    proc = train_cli(*RUN[1:], "trainer.max_steps=4", f"output_dir={run}", "resume=latest")
    assert not marker.exists(), "a checkpoint file was unpickled"
    out = proc.stdout + proc.stderr
    assert "step_00000003: " in out and "ema.safetensors is unreadable" in out
    assert "resumed from" in out and "step_00000002 at step 2" in out


@pytest.mark.parametrize("name", ["model.safetensors", "optimizer.safetensors", "optimizer.json", "ema.json",
                                  "ema.safetensors", "scheduler.json", "random_states_0.json",
                                  "random_states_0.safetensors", "trainer_state.json"])
def test_each_checkpoint_file_replaced_by_a_payload_is_rejected_unread(tmp_path, name, tiny_checkpoint):
    ckpt = tmp_path / "step_00000001"
    shutil.copytree(tiny_checkpoint, ckpt)
    marker = tmp_path / "PWNED"
    _plant(ckpt / name, marker, size=(ckpt / name).stat().st_size)
    reason = check_checkpoint(ckpt)
    if reason is None:  # a same-size JSON file passes the cheap check; reading it must then fail
        stem = name.rsplit(".", 1)[0]
        with pytest.raises(StateFormatError):
            load_tree(ckpt, stem)
    assert not marker.exists()


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory, train_cli):
    run = tmp_path_factory.mktemp("tiny_ckpt")
    train_cli("trainer.max_steps=1", "trainer.checkpoint_every=1", "trainer.validate_every=0", "trainer.ema=true",
              f"output_dir={run}")
    return run / "checkpoints" / "step_00000001"


def test_bad_checkpoints_fall_back_to_the_newest_usable_one(train_cli, tmp_path):
    run = tmp_path / "run"
    train_cli(*RUN, f"output_dir={run}")
    root = run / "checkpoints"
    model3 = root / "step_00000003" / "model.safetensors"
    model3.write_bytes(model3.read_bytes()[: model3.stat().st_size // 2])  # truncated
    (root / "step_00000002" / "optimizer.safetensors").unlink()  # deleted

    # An explicit path to a bad checkpoint: one error line naming the file, before any model is built.
    proc = train_cli(*RUN[1:], "trainer.max_steps=4", f"output_dir={run}", f"resume={root / 'step_00000003'}",
                     check=False)
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "model.safetensors" in lines[0] and "truncated" in lines[0]
    assert "Traceback" not in proc.stderr

    proc = train_cli(*RUN[1:], "trainer.max_steps=4", f"output_dir={run}", "resume=latest")
    out = proc.stdout + proc.stderr
    assert "skipped 2 unusable checkpoint(s)" in out and "optimizer.safetensors is missing" in out
    assert "step_00000001 at step 1" in out
    assert json.loads((root / "step_00000004" / "trainer_state.json").read_text())["step"] == 4


def test_no_usable_checkpoint_is_an_error_not_a_fresh_start(tmp_path):
    for step in (1, 2):
        d = tmp_path / "checkpoints" / f"step_{step:08d}"
        d.mkdir(parents=True)
        (d / "trainer_state.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="no usable checkpoint.*step_00000002: .*not valid JSON"):
        resolve_resume("latest", tmp_path)
    assert resolve_resume("latest", tmp_path / "fresh") is None  # a fresh run: nothing to resume yet


def test_a_full_disk_is_named_with_the_last_good_checkpoint(tmp_path, monkeypatch, tiny_checkpoint):
    root = tmp_path / "checkpoints"
    root.mkdir()
    shutil.copytree(tiny_checkpoint, root / "step_00000001")
    accelerator = SimpleNamespace(is_main_process=True, wait_for_everyone=lambda: None)

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ckpt_mod, "write_training_state", full_disk)
    with pytest.raises(CheckpointError, match=r"no space left on device.*last good checkpoint is .*step_00000001"):
        ckpt_mod.save_checkpoint(accelerator, tmp_path, 2, {}, "", keep_last=3)
    assert not (root / "step_00000002.tmp").exists()


def test_the_planted_payload_is_live_under_accelerates_own_custom_state_loader(tmp_path):
    """Why checkpoints avoid ``save_state``: Accelerate reads registered objects (the EMA) with
    ``weights_only=False``, so the payload used above would run there. If this stops holding,
    the payload tests above no longer prove anything and need a new payload."""
    from accelerate import PartialState
    from accelerate.checkpointing import load_custom_state

    PartialState(cpu=True)  # its logger needs one; reset below so no other test inherits it
    marker = tmp_path / "PWNED"
    torch.save({"state": _Payload(marker)}, tmp_path / "custom_checkpoint_0.pkl")
    try:
        with pytest.raises(Exception):  # the payload's return value is no state dict
            load_custom_state(torch.nn.Linear(1, 1), tmp_path, index=0)
    finally:
        PartialState._reset_state()
    assert marker.exists()


def test_an_old_pickle_format_checkpoint_is_refused_not_unpickled(tmp_path):
    d = tmp_path / "checkpoints" / "step_00000004"
    d.mkdir(parents=True)
    (d / "trainer_state.json").write_text(json.dumps({"step": 4, "microbatches": 4}))  # no "files": old layout
    marker = tmp_path / "PWNED"
    torch.save({"state": _Payload(marker)}, d / "custom_checkpoint_0.pkl")
    with pytest.raises(CheckpointError, match=r"older genwarp in pickle format \(custom_checkpoint_0.pkl\)"):
        resolve_resume(str(d), tmp_path)
    assert not marker.exists()
