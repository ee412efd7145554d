import json
from pathlib import Path

import pytest

from genwarp.data import (
    DEFAULT_RULES,
    FrameGapRule,
    IndexSampler,
    PairIndexDataset,
    RealEstate10KDataset,
    SyntheticScenesDataset,
    build_eval_index,
    load_eval_index,
    save_eval_index,
)

REPO = Path(__file__).resolve().parents[2]


def test_rule_recorded_and_deterministic(tmp_path):
    ds = SyntheticScenesDataset("test", 16, num_test_scenes=6)
    rule = FrameGapRule({"mid": (3, 6), "long": (12, 20)}, pairs_per_scene=2)
    a = build_eval_index(ds, rule, seed=3)
    b = build_eval_index(SyntheticScenesDataset("test", 16, num_test_scenes=6), rule, seed=3)
    assert a["entries"] == b["entries"]
    assert a["rule"]["ranges"] == {"mid": [3, 6], "long": [12, 20]} and a["rule"]["type"] == "frame_gap"
    for e in a["entries"]:
        lo, hi = rule.ranges[e["range"]]
        assert lo <= abs(e["tgt_index"] - e["src_index"]) <= hi
        assert e["translation"] > 0
    assert a["counts"] == {"mid": 12, "long": 12}
    path = save_eval_index(a, tmp_path / "idx.json")
    loaded = load_eval_index(path)
    assert loaded["entries"] == a["entries"]
    pairs = PairIndexDataset(ds, path)
    assert len(pairs) == 24 and pairs[5]["scene"] == a["entries"][5]["scene"]
    with pytest.raises(ValueError, match="overlap"):
        FrameGapRule({"mid": (3, 10), "long": (8, 20)})


def test_committed_synthetic_index_is_reproducible():
    path = REPO / "data" / "eval_index_synthetic_test.json"
    committed = load_eval_index(path)
    rule = FrameGapRule.from_dict(committed["rule"])
    assert committed["rule"]["ranges"] == {k: list(v) for k, v in DEFAULT_RULES["synthetic"].ranges.items()}
    ds = SyntheticScenesDataset("test", 16, num_test_scenes=committed["dataset_config"]["num_test_scenes"], seed=committed["dataset_config"]["seed"])
    rebuilt = build_eval_index(ds, rule, seed=committed["seed"])
    assert rebuilt["entries"] == committed["entries"]
    assert committed["dataset_config"] == ds.describe()


def test_index_on_raw_re10k_skips_missing(re10k_raw, tmp_path):
    ds = RealEstate10KDataset(re10k_raw["root"], "test")
    with pytest.warns(UserWarning):
        idx = build_eval_index(ds, FrameGapRule({"mid": (1, 3), "long": (5, 8)}), seed=0)
    assert idx["skipped_scenes"] == {"missing_sequence": 1}
    assert {e["scene"] for e in idx["entries"]} == {"seqA", "seqB"}
    assert all(not (e["scene"] == "seqB" and {3, 5} & {e["src_index"], e["tgt_index"]}) for e in idx["entries"])
    # the script produces the same thing
    import subprocess
    import sys

    out = tmp_path / "i.json"
    r = subprocess.run([sys.executable, str(REPO / "scripts" / "make_eval_index.py"), "--dataset", "re10k", "--root", str(re10k_raw["root"]),
                        "--mid", "1", "3", "--long", "5", "8", "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(out.read_text())["entries"] == idx["entries"]
    sampler = IndexSampler(out)
    assert len(sampler) == len(idx["entries"])
