from genwarp.data import SyntheticScenesDataset, measure_pairs_per_second


def test_measure_pairs_per_second_reports():
    r = measure_pairs_per_second(SyntheticScenesDataset("train", 16), num_pairs=20, num_workers=0, batch_size=8)
    assert r["num_pairs"] == 24 and r["resolution"] == (16, 16) and r["pairs_per_second"] > 0
    assert {"seconds", "num_workers", "batch_size", "torch_threads", "cpus"} <= set(r)
    # finite datasets are cycled
    r = measure_pairs_per_second(SyntheticScenesDataset("test", 16, num_test_scenes=2), num_pairs=5, batch_size=None)
    assert r["num_pairs"] == 5
