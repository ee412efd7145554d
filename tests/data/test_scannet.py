import numpy as np
import pytest
import torch

from genwarp.data import DatasetLayoutError, DataWarning, MissingDataError, RangeSampler, ScanNetDataset, make_shim, validate_sample


@pytest.mark.filterwarnings("ignore::genwarp.data.health.DataWarning")
def test_scannet_pair_poses_intrinsics_and_registered_depth(scannet_root):
    ds = ScanNetDataset(scannet_root["root"], sampler=RangeSampler(1, 3))
    assert ds.scene_names() == ["scene0000_00", "scene0001_00"]
    s = ds.get_pair("scene0000_00", 1, 4)
    validate_sample(s)
    np.testing.assert_allclose(s["src_c2w"].numpy(), scannet_root["poses"][("scene0000_00", 1)], atol=1e-6)
    # pixel K (fx 60, cx 31.5 on 64 px) -> normalised (60/64, (31.5+0.5)/64)
    torch.testing.assert_close(s["src_intrinsics"], torch.tensor([[60 / 64, 0, 0.5], [0, 60 / 48, 0.5], [0, 0, 1.0]]))
    assert s["src_depth"].shape == (1, 48, 64) and s["depth_source"] == "gt" and s["tgt_depth_valid"].any()
    # depth camera: fx_n 27/32 vs colour 60/64 -> colour u maps to depth u_d = 0.9 (u - 0.5) + 0.5;
    # the depth PNG holds 2000 + 100 i + 10 col (mm), columns < 6 invalid. Registration happens
    # on a grid of the depth image's size (32 columns), then nearest-upsampled to the colour size.
    d = s["src_depth"][0, 10]
    valid = s["src_depth_valid"][0, 10]
    for x in range(64):
        u = (x // 2 + 0.5) / 32
        col = int((0.9 * (u - 0.5) + 0.5) * 32)
        if col < 6:
            assert not valid[x]
        else:
            assert valid[x] and float(d[x]) == pytest.approx((2100 + 10 * col) / 1000, abs=1e-4)


def test_scannet_drops_invalid_poses(scannet_root):
    ds = ScanNetDataset(scannet_root["root"], sampler=RangeSampler(1, 2, pairs_per_scene=30), shuffle=False, shim=make_shim(16))
    with pytest.warns(DataWarning, match="invalid pose"):
        samples = list(ds)
    assert ds.health.summary()["invalid_pose"] == 1
    assert 3 not in ds.frame_ids("scene0000_00")
    assert not any(s["scene"] == "scene0000_00" and 3 in (s["src_index"], s["tgt_index"]) for s in samples)
    with pytest.raises(MissingDataError):
        ds.get_pair("scene0000_00", 3, 1)


def test_scannet_layout_errors(scannet_root, tmp_path):
    with pytest.raises(DatasetLayoutError, match="does not exist"):
        ScanNetDataset(tmp_path / "nope")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetLayoutError, match="color/<i>.jpg"):
        ScanNetDataset(empty)
    with pytest.raises(DatasetLayoutError, match="single scene"):
        ScanNetDataset(scannet_root["root"] / "scene0000_00")
    lst = tmp_path / "scenes.txt"
    lst.write_text("scene0001_00\n")
    assert ScanNetDataset(scannet_root["root"], scenes=lst).scene_names() == ["scene0001_00"]
