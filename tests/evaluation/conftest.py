"""Fixtures of the evaluation tests."""

from __future__ import annotations

import pytest
from evaluation_helpers import TinyFeatures, tiny_lpips


@pytest.fixture
def tiny_metrics():
    return {"lpips": tiny_lpips(0), "lpips_vgg": tiny_lpips(1, "lpips_vgg"), "fid": TinyFeatures(0)}


@pytest.fixture
def empty_torch_home(tmp_path, monkeypatch):
    home = tmp_path / "torch_home"
    home.mkdir()
    monkeypatch.setenv("TORCH_HOME", str(home))
    monkeypatch.delenv("GENWARP_WEIGHTS_DIR", raising=False)
    return home
