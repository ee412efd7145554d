"""The training data stream is a pure function of (seed, index): resumable and rank-sharded."""

from __future__ import annotations

import itertools

import torch

from genwarp.data import RealEstate10KDataset, SyntheticScenesDataset
from genwarp.testing import write_re10k_chunks
from genwarp.training.data import ResumableBatchSampler, TrainPairs


def _key(sample):
    return sample["scene"], sample["src_index"], sample["tgt_index"]


def test_items_are_deterministic_and_scenes_change_every_pairs_per_scene():
    pairs = TrainPairs(SyntheticScenesDataset("train", 32), seed=3, min_gap=2, max_gap=6, pairs_per_scene=2)
    again = TrainPairs(SyntheticScenesDataset("train", 32), seed=3, min_gap=2, max_gap=6, pairs_per_scene=2)
    items = [pairs[i] for i in range(6)]
    assert [_key(s) for s in items] == [_key(again[i]) for i in range(6)]
    assert torch.equal(items[5]["tgt_image"], again[5]["tgt_image"])
    assert [s["scene"] for s in items] == ["train_0", "train_0", "train_1", "train_1", "train_2", "train_2"]
    assert all(2 <= abs(s["tgt_index"] - s["src_index"]) <= 6 for s in items)
    other_seed = TrainPairs(SyntheticScenesDataset("train", 32), seed=4, min_gap=2, max_gap=6, pairs_per_scene=2)
    assert [_key(other_seed[i]) for i in range(6)] != [_key(s) for s in items]


def test_gap_window_widens_with_the_item_index():
    pairs = TrainPairs(SyntheticScenesDataset("train", 32), min_gap=1, max_gap=4, max_gap_final=20, widen_items=100)
    assert pairs.gap_window(0) == (1, 4) and pairs.gap_window(50) == (1, 12) and pairs.gap_window(500) == (1, 20)


def test_finite_datasets_cycle_epochs_chunk_major_and_skip_corrupt_data(tmp_path):
    info = write_re10k_chunks(tmp_path / "chunks", split="train")
    dataset = RealEstate10KDataset(info["root"], "train", layout="chunks")
    pairs = TrainPairs(dataset, seed=0, min_gap=1, max_gap=3, pairs_per_scene=1)
    n = len(info["keys"])
    first_epoch = [pairs.scene_for_slot(i) for i in range(n)]
    assert sorted(first_epoch) == sorted(info["keys"])
    chunks = [name[1] for name in first_epoch]  # keys are k<chunk><example>
    assert sum(a != b for a, b in itertools.pairwise(chunks)) == 3  # each chunk visited once, contiguously
    assert [pairs.scene_for_slot(n + i) for i in range(n)] != first_epoch  # reshuffled next epoch
    samples = [pairs[i] for i in range(2 * n)]  # k11 has a corrupt frame: skipped or avoided, never fatal
    assert all(s["src_image"].shape[0] == 3 for s in samples)


def test_batch_sampler_ranks_interleave_and_resume_mid_stream():
    world = [ResumableBatchSampler(2, start=0, rank=r, world_size=3) for r in range(3)]
    firsts = [list(itertools.islice(iter(s), 2)) for s in world]
    flat = sorted(i for rank in firsts for batch in rank for i in batch)
    assert flat == list(range(12))  # two global micro-batches, disjoint across ranks
    resumed = ResumableBatchSampler(2, start=1, rank=1, world_size=3)
    assert next(iter(resumed)) == firsts[1][1]


def test_overfit_limit_repeats_the_first_items():
    pairs = TrainPairs(SyntheticScenesDataset("train", 32), seed=0, limit=3)
    assert _key(pairs[4]) == _key(pairs[1])


def _same_recolouring(raw: torch.Tensor, aug: torch.Tensor, unclamped: torch.Tensor):
    """(order, gains) with aug[c] = raw[order[c]] · gain[c] on ``unclamped`` pixels, or None."""
    for order in itertools.permutations(range(3)):
        gains = []
        for c, o in enumerate(order):
            ok = unclamped[c] & (raw[o] > 0.05)
            ratio = aug[c][ok] / raw[o][ok]
            if not ok.any() or (ratio.max() - ratio.min()) > 1e-4 * ratio.mean():
                break
            gains.append(float(ratio.mean()))
        else:
            return order, gains
    return None


def test_pair_colour_augmentation_changes_both_views_alike_and_keeps_the_pair():
    plain = TrainPairs(SyntheticScenesDataset("train", 32), seed=3, min_gap=2, max_gap=6)
    off = TrainPairs(SyntheticScenesDataset("train", 32), seed=3, min_gap=2, max_gap=6, colour_gain=0.0)
    aug = TrainPairs(SyntheticScenesDataset("train", 32), seed=3, min_gap=2, max_gap=6, colour_gain=0.3,
                     channel_permute=True)
    assert torch.equal(off[4]["src_image"], plain[4]["src_image"])
    changed_order = 0
    for i in range(8):
        raw, item = plain[i], aug[i]
        assert _key(item) == _key(raw)  # the same pair, only recoloured
        assert torch.equal(item["tgt_image"], aug[i]["tgt_image"])  # deterministic
        found = []
        for key in ("src_image", "tgt_image"):
            unclamped = (item[key] > 0) & (item[key] < 1)
            found.append(_same_recolouring(raw[key], item[key], unclamped))
        assert found[0] is not None and found[1] is not None
        assert found[0][0] == found[1][0] and all(abs(a - b) < 1e-3 for a, b in zip(found[0][1], found[1][1]))
        changed_order += found[0][0] != (0, 1, 2)
    assert changed_order >= 3  # most of the 8 items got another channel order
