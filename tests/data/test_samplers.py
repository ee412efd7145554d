import numpy as np
import pytest

from genwarp.data import IndexSampler, RangeSampler
from genwarp.data.samplers import sample_gap_pairs


def test_range_sampler_gaps_and_directions():
    rng = np.random.default_rng(0)
    ids = list(range(0, 50)) + list(range(60, 80))  # a hole of missing frames
    s = RangeSampler(3, 7, pairs_per_scene=500)
    pairs = s.scene_pairs("x", ids, rng)
    gaps = [t - a for a, t in pairs]
    assert all(3 <= abs(g) <= 7 for g in gaps)
    assert any(g < 0 for g in gaps) and any(g > 0 for g in gaps)
    assert all(a in ids and t in ids for a, t in pairs)
    fwd = RangeSampler(3, 7, pairs_per_scene=200, both_directions=False).scene_pairs("x", ids, rng)
    assert all(t > a for a, t in fwd)


def test_range_sampler_too_short_scene_and_widening():
    rng = np.random.default_rng(0)
    assert RangeSampler(10, 20).scene_pairs("x", list(range(5)), rng) == []
    s = RangeSampler(1, 2, final_min_gap=5, final_max_gap=20, widen_steps=100)
    assert s.gap_range() == (1, 2)
    s.set_step(50)
    assert s.gap_range() == (3, 11)
    s.set_step(1000)
    assert s.gap_range() == (5, 20)
    with pytest.raises(ValueError):
        RangeSampler(1, 2, final_max_gap=5)  # widening needs widen_steps


def test_sample_gap_pairs_deterministic():
    a = sample_gap_pairs(range(30), 2, 5, 10, True, np.random.default_rng(1))
    b = sample_gap_pairs(range(30), 2, 5, 10, True, np.random.default_rng(1))
    assert a == b


def test_index_sampler(tmp_path):
    entries = [
        {"scene": "b", "src_index": 0, "tgt_index": 5, "range": "mid"},
        {"scene": "a", "src_index": 1, "tgt_index": 2, "range": "long"},
        {"scene": "b", "src_index": 3, "tgt_index": 1, "range": "long"},
    ]
    s = IndexSampler({"entries": entries})
    assert s.scenes() == ["b", "a"] and len(s) == 3
    assert s.scene_pairs("b", [], np.random.default_rng()) == [(0, 5), (3, 1)]
    assert len(IndexSampler({"entries": entries}, ranges=["long"])) == 2
    with pytest.raises(ValueError, match="tgt_index"):
        IndexSampler({"entries": [{"scene": "a", "src_index": 1}]})
