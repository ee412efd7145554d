"""Shared pytest fixtures.

``goldens_dir`` is ``tests/goldens`` (the release's and the official code's outputs, committed with the
tests): a test that needs a golden fails when it is missing, it never skips. ``shared_dir`` points at
the workplace's ``../shared`` folder (``GENWARP_SHARED_DIR`` overrides it) for the RealEstate10K
sample video; the tests that need it skip cleanly when the repository is used on its own.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
GOLDENS_DIR = REPO_ROOT / "tests" / "goldens"

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
def goldens_dir() -> Path:
    """``tests/goldens``; a missing folder is a failure (the goldens are part of the repository)."""
    if not (GOLDENS_DIR / "README.md").is_file():
        pytest.fail(f"goldens not found at {GOLDENS_DIR}: they are committed with the tests (restore them with git)")
    return GOLDENS_DIR


@pytest.fixture(scope="session")
def golden_file(goldens_dir: Path):
    """``golden_file("release_tiny/golden_A.npz")`` → its path under ``tests/goldens``; a missing file
    fails the test naming it (never a skip)."""

    def find(relative: str) -> Path:
        path = goldens_dir / relative
        if not path.exists():
            pytest.fail(f"golden {path} is missing: it is committed under tests/goldens (restore it with git)")
        return path

    return find
