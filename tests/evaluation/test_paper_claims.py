"""Claims that match their sources: the paper_re10k preset yields Table 3's checkpoints without an
override."""

from pathlib import Path

from hydra import compose, initialize_config_dir

from genwarp.training.checkpoint import STATE_FILE, checkpoint_root, list_checkpoints, prune_checkpoints
from genwarp.training.config import register_schema

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
TABLE3_STEPS = (2000, 6000, 10000)


def test_paper_re10k_keeps_table3_checkpoints(tmp_path):
    register_schema()
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose("train", overrides=["experiment=paper_re10k", f"output_dir={tmp_path}"])
    t = cfg.trainer
    every, keep = int(t.checkpoint_every), int(t.keep_last)
    steps = list(range(every, int(t.max_steps) + 1, every))
    assert set(TABLE3_STEPS) <= set(steps)
    # replay the run's checkpoint writes with the real pruning rule: the Table 3 points survive to the end
    root = checkpoint_root(tmp_path)
    for step in steps:
        d = root / f"step_{step:08d}"
        d.mkdir(parents=True)
        (d / STATE_FILE).write_text("{}")
        prune_checkpoints(tmp_path, keep)
    assert set(TABLE3_STEPS) <= {s for s, _ in list_checkpoints(tmp_path)}
