"""Pairs whose source depth is not in the depth cache: skipped and counted, never used with zero
depth; a cache that lacks most of them stops the run with one error saying what to do."""

import warnings

import pytest
import torch

from genwarp.data import (
    CorruptDataError,
    DepthCache,
    MissingDataError,
    RangeSampler,
    RealEstate10KDataset,
    UnusableDataError,
    make_shim,
)


def _dataset(root, cache, **kw):
    return RealEstate10KDataset(root, "test", depth=cache, shim=make_shim(8), shuffle=False, **kw)


def _fill(cache, scene, frames):
    for i in frames:
        cache.save("re10k", scene, i, torch.full((1, 9, 16), 2.0 + i))


def test_empty_cache_folder_stops_with_a_clear_error(re10k_raw, tmp_path):
    (tmp_path / "empty").mkdir()
    ds = _dataset(re10k_raw["root"], DepthCache(tmp_path / "empty"), sampler=RangeSampler(1, 5, pairs_per_scene=20))
    with warnings.catch_warnings(record=True) as record, pytest.raises(UnusableDataError) as err:
        warnings.simplefilter("always")
        list(ds)  # used to yield every pair with zero depth (val/visible_fraction 0.000, exit 0)
    msg = str(err.value)
    assert "16 of the 16 pairs" in msg and "missing cached depth: 16" in msg
    assert str(tmp_path / "empty") in msg and "scripts/precompute_depth.py" in msg
    assert sum("missing cached depth" in str(w.message) for w in record) == 1  # one warning per scene folder


def test_missing_cached_depth_is_skipped_and_counted(re10k_raw, tmp_path):
    cache = DepthCache(tmp_path / "cache", name="fake")
    _fill(cache, "seqA", [i for i in range(12) if i not in (2, 7)])
    _fill(cache, "seqB", [0, 1, 2, 4, 6, 7, 8, 9])
    ds = _dataset(re10k_raw["root"], cache, sampler=RangeSampler(1, 4, pairs_per_scene=30))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        samples = list(ds)
    assert samples and all(bool(s["src_depth_valid"].all()) for s in samples)
    assert not any(s["scene"] == "seqA" and s["src_index"] in (2, 7) for s in samples)
    counts = ds.health.summary()
    skipped = counts["missing_cached_depth"]
    assert skipped > 0 and ds.pair_counts["unusable"] >= skipped and ds.pair_counts["used"] == len(samples)
    # a pair served by index (evaluation) is never dropped: it raises, naming the file
    with pytest.raises(MissingDataError, match="000007.npy"):
        ds.get_pair("seqA", 7, 8)
    # an unreadable cached file is corrupt data (named), not absent depth
    cache.path_for("re10k", "seqA", 3).write_bytes(b"not an npy")
    with pytest.raises(CorruptDataError, match="000003.npy"):
        ds.get_pair("seqA", 3, 4)


def test_training_stream_skips_missing_depth_and_stops_when_most_is_missing(re10k_raw, tmp_path):
    from genwarp.training.data import TrainPairs

    cache = DepthCache(tmp_path / "cache")
    _fill(cache, "seqA", [i for i in range(12) if i != 5])
    _fill(cache, "seqB", [0, 1, 2, 6, 7, 8, 9])
    ds = _dataset(re10k_raw["root"], cache)
    stream = TrainPairs(ds, seed=0, min_gap=1, max_gap=3, pairs_per_scene=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        items = [stream[i] for i in range(24)]
    assert all(bool(s["src_depth_valid"].all()) for s in items)
    assert stream.skipped > 0 and ds.health.summary().get("missing_cached_depth", 0) > 0

    # an empty cache: the first item already fails (TrainPairs gives up after its attempts, or the
    # dataset's most-unusable guard fires first), with the way on in the message
    (tmp_path / "empty").mkdir()
    stream = TrainPairs(_dataset(re10k_raw["root"], DepthCache(tmp_path / "empty")), seed=0, min_gap=1, max_gap=3)
    with warnings.catch_warnings(), pytest.raises((UnusableDataError, RuntimeError), match="precompute_depth.py"):
        warnings.simplefilter("ignore")
        stream[0]
    # mostly missing: the guard stops the stream once most pairs tried are unusable
    cache = DepthCache(tmp_path / "sparse")
    _fill(cache, "seqA", [0, 1])
    stream = TrainPairs(_dataset(re10k_raw["root"], cache), seed=0, min_gap=1, max_gap=3)
    with warnings.catch_warnings(), pytest.raises(UnusableDataError, match="lacks depth for these frames"):
        warnings.simplefilter("ignore")
        for i in range(200):
            stream[i]
