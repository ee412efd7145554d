"""Helpers to run scripts/train.py as a user would (a subprocess), on tiny CPU settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TINY = ["trainer.batch_size=2", "logger=none", "logger.progress_bar=false", "data.resolution=32",
        "evaluate_after=false"]


def run_train(*overrides: str, launcher: list[str] | None = None, check: bool = True, timeout: int = 300,
              script: str | Path | None = None, env: dict[str, str] | None = None):
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1", **(env or {}))
    flags = [o for o in overrides if o.startswith("-")]  # Hydra's flags (-m) go before the overrides
    rest = [o for o in overrides if not o.startswith("-")]
    cmd = (launcher or [sys.executable]) + [str(script or REPO / "scripts" / "train.py"), *flags, *TINY, *rest]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


@pytest.fixture(scope="session")
def train_cli():
    return run_train
