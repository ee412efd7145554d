import pytest
import torch
from torch.utils.data import DataLoader, default_collate

from genwarp.data import SAMPLE_KEYS, SyntheticScenesDataset, validate_sample


def test_sample_contract_and_default_collate():
    ds = SyntheticScenesDataset("test", 32, num_test_scenes=4)
    samples = [ds.get_pair("test_0", 0, 5), ds.get_pair("test_1", 3, 1)]
    for s in samples:
        validate_sample(s)
        assert set(s) == set(SAMPLE_KEYS)
    batch = default_collate(samples)
    validate_sample(batch, batched=True)
    assert batch["src_image"].shape == (2, 3, 32, 32)
    assert batch["scene"] == ["test_0", "test_1"]
    assert batch["src_index"].tolist() == [0, 3]
    # a DataLoader with the default collate and workers
    loader = DataLoader(ds, batch_size=4, num_workers=2)
    b = next(iter(loader))
    validate_sample(b, batched=True)


def test_validate_sample_names_the_problem():
    s = SyntheticScenesDataset("test", 16, num_test_scenes=1).get_pair("test_0", 0, 1)
    bad = dict(s)
    bad["src_depth"] = s["src_depth"][0]
    with pytest.raises(ValueError, match="src_depth"):
        validate_sample(bad)
    bad = dict(s)
    del bad["tgt_c2w"]
    with pytest.raises(ValueError, match="tgt_c2w"):
        validate_sample(bad)
    bad = dict(s)
    bad["src_image"] = s["src_image"] * 2 + 0.5
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        validate_sample(bad)
    bad = dict(s)
    bad["src_depth_valid"] = s["src_depth_valid"].float()
    with pytest.raises(ValueError, match="dtype"):
        validate_sample(bad)
    assert s["src_depth_valid"].dtype == torch.bool
