"""Shared pytest fixtures.

``shared_dir`` points at the workplace's ``../shared`` folder (goldens, samples); tests that need it
skip cleanly when the repository is used on its own.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

if os.environ.get("PYTEST_XDIST_WORKER"):
    # The README runs the suite on two xdist workers for two cores: one thread each (and in the
    # subprocesses they start), since two 2-thread workers oversubscribe the cores several-fold.
    import torch

    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)


def _shared_dir() -> Path:
    env = os.environ.get("GENWARP_SHARED_DIR")
    return Path(env) if env else REPO_ROOT.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    path = _shared_dir()
    if not path.is_dir():
        pytest.skip(f"shared reference folder not found at {path} (set GENWARP_SHARED_DIR)")
    return path


@pytest.fixture(scope="session")
def goldens_dir(shared_dir: Path) -> Path:
    path = shared_dir / "goldens"
    if not path.is_dir():
        pytest.skip(f"goldens not found at {path}")
    return path
