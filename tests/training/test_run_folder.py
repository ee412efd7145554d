"""One run per folder: no silent overwrite, no two trainings at once, no ignored override on resume,
and bad config values named at start-up."""

from __future__ import annotations

import json

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from genwarp.training.config import TrainConfig, register_schema
from genwarp.training.run_folder import lock_run_folder, resume_config_changes
from genwarp.training.validate import config_problems

register_schema()
CONFIGS = Path(__file__).resolve().parents[2] / "configs"
FAST = ["trainer.max_steps=1", "trainer.checkpoint_every=1", "trainer.validate_every=0"]


def _error_line(proc):
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    return lines[0]


def test_a_second_training_into_a_run_folder_is_refused_unless_resume_or_overwrite(train_cli, tmp_path):
    train_cli(*FAST, f"output_dir={tmp_path}")
    before = (tmp_path / "checkpoints" / "step_00000001" / "model.safetensors").read_bytes()
    line = _error_line(train_cli(*FAST, "trainer.seed=5", f"output_dir={tmp_path}", check=False))
    assert str(tmp_path) in line and "resume=latest" in line and "overwrite=true" in line
    assert (tmp_path / "checkpoints" / "step_00000001" / "model.safetensors").read_bytes() == before
    assert "seed: 0" in (tmp_path / "config.yaml").read_text()  # the first run's record is untouched

    proc = train_cli(*FAST, "trainer.seed=5", f"output_dir={tmp_path}", "overwrite=true")
    assert "overwrite=true: removed the previous run's" in proc.stdout
    assert (tmp_path / "checkpoints" / "step_00000001" / "model.safetensors").read_bytes() != before
    assert "seed: 5" in (tmp_path / "config.yaml").read_text()


def test_a_folder_in_use_by_another_training_is_refused_at_start_up(train_cli, tmp_path):
    lock = lock_run_folder(tmp_path)  # this test process plays the other training
    try:
        line = _error_line(train_cli(*FAST, f"output_dir={tmp_path}", check=False))
    finally:
        lock.close()
    assert "is in use by another training" in line and "pid" in line
    assert not (tmp_path / "config.yaml").exists() and not (tmp_path / "checkpoints").exists()


def test_resume_refuses_a_changed_hyper_parameter_and_records_allowed_changes(train_cli, tmp_path):
    train_cli(*FAST, f"output_dir={tmp_path}")
    line = _error_line(train_cli("trainer.max_steps=2", "trainer.checkpoint_every=1", "trainer.validate_every=0",
                                 "trainer.learning_rate=0.01", "resume=latest", f"output_dir={tmp_path}", check=False))
    assert "trainer.learning_rate: 0.001 → 0.01" in line and "trainer.max_steps" not in line
    proc = train_cli("trainer.max_steps=2", "trainer.checkpoint_every=1", "trainer.validate_every=0", "resume=latest",
                     f"output_dir={tmp_path}")
    assert "trainer.max_steps: 1 → 2" in proc.stdout
    assert "max_steps: 2" in (tmp_path / "config.yaml").read_text()
    assert json.loads((tmp_path / "checkpoints" / "step_00000002" / "trainer_state.json").read_text())["step"] == 2


def test_resume_config_changes_splits_refused_from_bookkeeping():
    base = OmegaConf.structured(TrainConfig(output_dir="a"))
    changed = base.copy()
    changed.trainer.learning_rate = 0.5
    changed.model.num_frequencies = 7
    changed.trainer.log_every = 3
    changed.output_dir = "b"
    refused, allowed = resume_config_changes(OmegaConf.to_yaml(base), changed)
    assert [r.split(":")[0] for r in refused] == ["model.num_frequencies", "trainer.learning_rate"]
    assert [a.split(":")[0] for a in allowed] == ["output_dir", "trainer.log_every"]


def test_depth_keys_no_source_reads_may_differ_on_resume():
    """A depth=gt run folder written with the old inert defaults (estimator / scale_alignment set)
    resumes under today's null defaults; the same change under a source that reads them is refused."""
    base = OmegaConf.structured(TrainConfig(output_dir="a"))
    old = base.copy()
    old.depth.source = "gt"
    old.depth.estimator, old.depth.scale_alignment = "Intel/zoedepth-nyu", "photometric"
    new = base.copy()
    new.depth.source = "gt"
    new.depth.estimator, new.depth.scale_alignment = None, None
    refused, allowed = resume_config_changes(OmegaConf.to_yaml(old), new)
    assert refused == [] and sorted(a.split(":")[0] for a in allowed) == ["depth.estimator", "depth.scale_alignment"]
    old.depth.source = new.depth.source = "estimator"
    refused, _ = resume_config_changes(OmegaConf.to_yaml(old), new)
    assert sorted(r.split(":")[0] for r in refused) == ["depth.estimator", "depth.scale_alignment"]


@pytest.mark.parametrize("override, key", [
    ("trainer.batch_size=0", "trainer.batch_size=0"),
    ("trainer.learning_rate=-1", "trainer.learning_rate=-1"),
    ("trainer.learning_rate=nan", "trainer.learning_rate=nan"),
    ("data.resolution=7", "data.resolution=7"),
    ("trainer.checkpoint_every=0", "trainer.checkpoint_every=0"),
    ("trainer.log_every=0", "trainer.log_every=0"),
    ("trainer.condition_dropout=1.5", "trainer.condition_dropout=1.5"),
    ("trainer.lr_scheduler=cosin", "trainer.lr_scheduler='cosin'"),
    ("trainer.far=0.001", "trainer.far=0.001"),
    ("data.max_gap=1", "data.max_gap=1"),
    ("data.min_gap=0", "data.min_gap=0"),  # the training stream needs a gap of at least one frame
])
def test_each_bad_config_value_is_named(override, key):
    cfg = OmegaConf.structured(TrainConfig(output_dir="x"))
    cfg.merge_with_dotlist([override])
    problems = config_problems(cfg)
    assert len(problems) == 1 and problems[0].startswith(key), problems


@pytest.mark.parametrize("preset", sorted(p.stem for p in (CONFIGS / "experiment").glob("*.yaml")))
def test_every_preset_passes_the_start_up_checks(preset):
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose("train", overrides=[f"experiment={preset}", "output_dir=x"])
    assert config_problems(cfg) == []


def test_a_bad_value_is_one_error_line_before_anything_is_built(train_cli, tmp_path):
    line = _error_line(train_cli("trainer.batch_size=0", "trainer.log_every=0", f"output_dir={tmp_path}", check=False))
    assert "trainer.batch_size=0" in line and "trainer.log_every=0" in line
    assert not (tmp_path / "config.yaml").exists() and not (tmp_path / ".train.lock").exists()
