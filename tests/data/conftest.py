"""Tiny on-disk fixtures in the exact formats the loaders read (built in a temp dir)."""

from __future__ import annotations

from pathlib import Path

import pytest

from genwarp.testing import write_re10k_chunks, write_re10k_raw, write_scannet


@pytest.fixture
def re10k_raw(tmp_path: Path) -> dict:
    """root/test/{seqA,seqB,seqC}.txt; frames for seqA (all), seqB (rows 3 and 5 missing, row 4
    corrupt); seqC has no frame folder."""
    return write_re10k_raw(tmp_path / "re10k")


@pytest.fixture
def re10k_chunks(tmp_path: Path) -> dict:
    """root/test/000000.torch … 000003.torch (3 examples each, 8 frames) + index.json;
    one example with a truncated JPEG; one more chunk file truncated on disk."""
    return write_re10k_chunks(tmp_path / "chunks")


@pytest.fixture
def scannet_root(tmp_path: Path) -> dict:
    """Two scenes; colour 64×48, depth 32×24 (uint16 mm, a different FoV), frame 3 of scene0 has a
    -inf pose."""
    return write_scannet(tmp_path / "scannet")
