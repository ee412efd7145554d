"""`train.py --help` / `evaluate.py --help` list the config groups each script reads (and the
methods), not every folder under configs/; `accelerate=<name>` is refused naming the launch command."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from genwarp.utils.hydra_help import GROUPS, group_options

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "configs"


def _run(script: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    return subprocess.run([sys.executable, str(REPO / "scripts" / script), *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


def _group_lines(help_text: str) -> dict[str, list[str]]:
    section = help_text.split("== Configuration groups ==", 1)[1].split("== Config ==", 1)[0]
    return {m[1]: [o.strip() for o in m[2].split(",")] for m in re.finditer(r"^(\w+): (.+)$", section, re.M)}


@pytest.mark.parametrize("script", sorted(GROUPS))
def test_listed_groups_are_the_root_configs_defaults(script):
    """A group added to a root config's defaults list (or dropped) must be listed (or unlisted)."""
    defaults = yaml.safe_load((CONFIGS / f"{script}.yaml").read_text())["defaults"]
    composed = {next(iter(d)) for d in defaults if isinstance(d, dict)}
    assert composed == set(GROUPS[script])


def test_train_help_lists_its_groups_and_not_the_launch_configs():
    out = _run("train.py", "--help")
    assert out.returncode == 0, out.stderr[-2000:]
    groups = _group_lines(out.stdout)
    assert "accelerate" not in groups
    for group in GROUPS["train"]:
        assert groups[group] == group_options(group, CONFIGS), group
    assert "synthetic_tiny" in groups["experiment"]
    assert "accelerate launch --config_file configs/accelerate/<name>.yaml scripts/train.py" in out.stdout
    assert "== Config ==" in out.stdout and "output_dir:" in out.stdout  # Hydra's config dump is still there


def test_evaluate_help_lists_methods_and_no_training_groups():
    from genwarp.evaluation.methods import METHODS

    out = _run("evaluate.py", "--help")
    assert out.returncode == 0, out.stderr[-2000:]
    groups = _group_lines(out.stdout)
    assert set(groups) == set(GROUPS["evaluate"])
    for training_only in ("experiment", "trainer", "logger", "model", "debug", "accelerate"):
        assert training_only not in groups
    listed = out.stdout.split("method (a key, not a group): ", 1)[1].splitlines()[0].split(", ")
    assert listed == [*METHODS, "none"]


def test_accelerate_group_override_is_refused_with_the_launch_command():
    out = _run("train.py", "accelerate=fsdp", "trainer.max_steps=1")
    assert out.returncode == 2
    assert "accelerate launch --config_file configs/accelerate/fsdp.yaml scripts/train.py" in out.stderr
