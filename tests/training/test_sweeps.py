"""Hydra sweeps: every job of `-m` trains into its own run folder, with its overrides recorded."""

from __future__ import annotations

import json

from omegaconf import OmegaConf


def test_a_two_job_sweep_writes_two_run_folders(train_cli, tmp_path):
    sweep = tmp_path / "sweep"
    proc = train_cli("-m", "trainer.learning_rate=0.001,0.0001", "trainer.max_steps=1", "trainer.checkpoint_every=1",
                     "trainer.validate_every=0", f"hydra.sweep.dir={sweep}")
    jobs = sorted(p.name for p in sweep.iterdir() if p.is_dir())
    assert jobs == ["0", "1"], (jobs, proc.stdout[-2000:])
    for job, lr in zip(jobs, (0.001, 0.0001)):
        run = sweep / job
        cfg = OmegaConf.load(run / "config.yaml")
        assert cfg.trainer.learning_rate == lr and cfg.output_dir == str(run)
        assert "trainer.learning_rate=" + str(lr) in OmegaConf.load(run / "overrides.yaml")
        assert json.loads((run / "checkpoints" / "step_00000001" / "trainer_state.json").read_text())["step"] == 1
        assert (run / "model" / "model_index.json").is_file()


def test_a_single_run_records_its_command_line_overrides(train_cli, tmp_path):
    train_cli("trainer.max_steps=1", "trainer.checkpoint_every=1", "trainer.validate_every=0", f"output_dir={tmp_path}")
    recorded = list(OmegaConf.load(tmp_path / "overrides.yaml"))
    assert "trainer.max_steps=1" in recorded and f"output_dir={tmp_path}" in recorded


def test_a_sweep_under_accelerate_launch_is_refused(train_cli, tmp_path):
    proc = train_cli("-m", "trainer.learning_rate=0.001,0.0001", "trainer.max_steps=1", f"hydra.sweep.dir={tmp_path}",
                     env={"WORLD_SIZE": "2"}, check=False)
    assert proc.returncode == 2 and "error: a Hydra sweep (-m) runs its jobs one after another" in proc.stderr
    assert not list(tmp_path.rglob("config.yaml"))
