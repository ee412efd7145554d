"""Launch settings with one source each: mixed precision (accelerate config vs trainer), gradient
accumulation (trainer only; the launcher's or DeepSpeed's differing value refused)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from genwarp.training.launch import (check_engine_accumulation, check_fsdp_checkpointing, check_gradient_accumulation,
                                     fill_deepspeed_config, resolve_mixed_precision)
from genwarp.training.state_io import load_tree
from genwarp.training.validate import ConfigError

FAST = ["trainer.max_steps=1", "trainer.validate_every=0", "trainer.checkpoint_every=1"]


def test_mixed_precision_comes_from_one_source_and_a_contradiction_is_refused():
    assert resolve_mixed_precision(None, {})[0] == "no"
    assert resolve_mixed_precision(None, {"ACCELERATE_MIXED_PRECISION": "bf16"}) == ("bf16", "the accelerate launch config")
    assert resolve_mixed_precision("bf16", {})[0] == "bf16"
    assert resolve_mixed_precision("bf16", {"ACCELERATE_MIXED_PRECISION": "bf16"})[0] == "bf16"
    with pytest.raises(ConfigError, match="contradicts the accelerate launch config's mixed_precision='bf16'"):
        resolve_mixed_precision("no", {"ACCELERATE_MIXED_PRECISION": "bf16"})


def test_the_launch_configs_precision_is_used_and_recorded_and_accumulation_steps_once(train_cli, tmp_path,
                                                                                        monkeypatch):
    """One run for both (CI time): the launch config's bf16 wins over the unset trainer value and is
    recorded; with accumulation 2 the optimizer and the LR schedule step once per step, not per micro-batch."""
    monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", "bf16")  # what `accelerate launch` exports from its config
    run = tmp_path / "a"
    proc = train_cli("trainer.max_steps=2", "trainer.gradient_accumulation_steps=2", "trainer.checkpoint_every=2",
                     "trainer.validate_every=0", "trainer.ema=false", f"output_dir={run}")
    assert "mixed precision: bf16 (from the accelerate launch config)" in proc.stdout
    assert "mixed_precision: bf16" in (run / "config.yaml").read_text()
    ckpt = run / "checkpoints" / "step_00000002"
    state = json.loads((ckpt / "trainer_state.json").read_text())
    assert state["step"] == 2 and state["microbatches"] == 4
    assert load_tree(ckpt, "scheduler")["last_epoch"] == 2
    steps = {float(s["step"]) for s in load_tree(ckpt, "optimizer")["state"].values()}
    assert steps == {2.0}, steps  # two optimizer steps, not four

    proc = train_cli(*FAST, "trainer.mixed_precision=no", f"output_dir={tmp_path / 'b'}", check=False)
    err = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert proc.returncode == 2 and len(err) == 1 and "trainer.mixed_precision='no' contradicts" in err[0], proc.stderr
    assert not (tmp_path / "b" / "config.yaml").exists()


def test_gradient_accumulation_has_one_source():
    check_gradient_accumulation(2, {})
    check_gradient_accumulation(2, {"ACCELERATE_GRADIENT_ACCUMULATION_STEPS": "2"})
    with pytest.raises(ConfigError, match="trainer.gradient_accumulation_steps=2 contradicts"):
        check_gradient_accumulation(2, {"ACCELERATE_GRADIENT_ACCUMULATION_STEPS": "1"})
    trainer = SimpleNamespace(gradient_accumulation_steps=2, max_grad_norm=1.0, batch_size=3)
    ds = {"gradient_accumulation_steps": "auto", "gradient_clipping": "auto", "train_micro_batch_size_per_gpu": "auto"}
    acc = SimpleNamespace(state=SimpleNamespace(deepspeed_plugin=SimpleNamespace(deepspeed_config=ds)),
                          gradient_accumulation_steps=1)
    fill_deepspeed_config(acc, trainer)
    assert ds == {"gradient_accumulation_steps": 2, "gradient_clipping": 1.0, "train_micro_batch_size_per_gpu": 3}
    assert acc.gradient_accumulation_steps == 2
    check_engine_accumulation(acc, 2)
    ds["gradient_accumulation_steps"] = 1
    with pytest.raises(ConfigError, match="gradient_accumulation_steps=1 contradicts"):
        fill_deepspeed_config(acc, trainer)
    acc.gradient_accumulation_steps = 1
    with pytest.raises(ConfigError, match="accumulates 1 micro-batches"):
        check_engine_accumulation(acc, 2)
    assert fill_deepspeed_config(SimpleNamespace(state=SimpleNamespace()), trainer) is None


def test_fsdp_v1_full_state_dict_is_refused_and_the_exact_modes_pass():
    from torch.distributed.fsdp import StateDictType

    def acc(version, kind):
        return SimpleNamespace(state=SimpleNamespace(fsdp_plugin=SimpleNamespace(fsdp_version=version, state_dict_type=kind)))

    with pytest.raises(ConfigError, match="FULL_STATE_DICT does not resume exactly.*SHARDED_STATE_DICT"):
        check_fsdp_checkpointing(acc(1, StateDictType.FULL_STATE_DICT))
    for version, kind in ((1, StateDictType.SHARDED_STATE_DICT), (2, StateDictType.FULL_STATE_DICT),
                          (2, StateDictType.SHARDED_STATE_DICT)):
        check_fsdp_checkpointing(acc(version, kind))  # measured exact (tests/distributed/test_engines.py)
    check_fsdp_checkpointing(SimpleNamespace(state=SimpleNamespace(fsdp_plugin=None)))  # not FSDP
