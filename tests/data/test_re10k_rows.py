"""RealEstate10K camera rows that cannot be used: duplicate timestamps, non-finite values, a file
without its URL line — dropped (or kept) by one rule in the raw and the chunk layout, and counted."""

import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from genwarp.data import CorruptDataError, RealEstate10KDataset, read_camera_file
from genwarp.testing.fixtures import camera_row, make_chunk_example, random_c2w

K = (0.5, 0.9, 0.5, 0.5)
N = 8


def _rows(seed=0):
    rng = np.random.default_rng(seed)
    ts = [1_000_000 + 33_367 * i for i in range(N)]
    poses = [random_c2w(rng) for _ in range(N)]
    return ts, poses


def _write_raw(root, lines, timestamps, seq="seqA"):
    (root / "test").mkdir(parents=True, exist_ok=True)
    (root / "test" / f"{seq}.txt").write_text("\n".join(lines) + "\n")
    fdir = root / "frames" / "test" / seq
    fdir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    for t in set(timestamps):
        Image.fromarray(rng.integers(0, 255, (12, 16, 3), dtype=np.uint8)).save(fdir / f"{t}.png")
    return root


def _raw_dataset(root):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        ds = RealEstate10KDataset(root, "test", shuffle=False)
        ids = ds.frame_ids("seqA")
    return ds, ids, [str(w.message) for w in record]


def _write_chunk(root, example):
    (root / "test").mkdir(parents=True, exist_ok=True)
    torch.save([example], root / "test" / "000000.torch")
    (root / "test" / "index.json").write_text('{"%s": "000000.torch"}' % example["key"])
    return root


def _chunk_dataset(root):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        ds = RealEstate10KDataset(root, "test", layout="chunks", shuffle=False)
        ids = ds.frame_ids("seqA")
    return ds, ids, [str(w.message) for w in record]


def test_duplicate_timestamps_are_dropped_and_counted_in_both_layouts(tmp_path):
    ts, poses = _rows()
    ts[3] = ts[2]  # row 3 repeats row 2's timestamp with another pose: one image, two poses
    url = "https://www.youtube.com/watch?v=abc"
    root = _write_raw(tmp_path / "raw", [url] + [camera_row(t, K, p) for t, p in zip(ts, poses)], ts)
    ds, ids, msgs = _raw_dataset(root)
    assert ids == [0, 1, 2, 4, 5, 6, 7]
    assert ds.health.summary()["duplicate_timestamp"] == 1
    assert any("duplicate timestamp" in m and "row 3 (line 5)" in m for m in msgs)
    np.testing.assert_allclose(ds.get_pair("seqA", 2, 5)["src_c2w"].numpy(), poses[2], atol=1e-5)  # the first row wins
    with pytest.raises(CorruptDataError, match="repeats row 2"):
        ds.get_pair("seqA", 3, 5)

    rng = np.random.default_rng(0)
    ex = make_chunk_example("seqA", N, rng)
    ex["timestamps"][3] = ex["timestamps"][2]
    cds, cids, cmsgs = _chunk_dataset(_write_chunk(tmp_path / "chunks", ex))
    assert cids == ids and cds.health.summary()["duplicate_timestamp"] == 1
    assert any("duplicate timestamp" in m for m in cmsgs)
    # the iterating path drops the same rows (and counts them)
    from genwarp.data import RangeSampler

    cds = RealEstate10KDataset(tmp_path / "chunks", "test", layout="chunks", shuffle=False,
                               sampler=RangeSampler(1, 2, pairs_per_scene=30))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        samples = list(cds)
    assert samples and not any(3 in (s["src_index"], s["tgt_index"]) for s in samples)
    assert cds.health.summary()["duplicate_timestamp"] == 1


def test_non_finite_row_drops_the_row_in_both_layouts(tmp_path):
    ts, poses = _rows(2)
    lines = ["https://www.youtube.com/watch?v=abc"] + [camera_row(t, K, p) for t, p in zip(ts, poses)]
    parts = lines[1 + 4].split()
    parts[9] = "nan"  # row 4: a NaN in its world-to-camera matrix
    lines[1 + 4] = " ".join(parts)
    root = _write_raw(tmp_path / "raw", lines, ts)
    cams = read_camera_file(root / "test" / "seqA.txt")  # the file is not refused as a whole
    assert len(cams) == N and cams.dropped[4][0] == "invalid_pose" and "non-finite value" in cams.dropped[4][1]
    ds, ids, msgs = _raw_dataset(root)
    assert ids == [0, 1, 2, 3, 5, 6, 7]
    assert ds.health.summary() == {"invalid_pose": 1}
    assert any("invalid pose" in m and "non-finite value" in m and "line 6" in m for m in msgs)
    assert not any("19 fields" in m for m in msgs)
    with pytest.raises(CorruptDataError, match="non-finite value"):
        ds.get_pair("seqA", 4, 6)

    rng = np.random.default_rng(0)
    ex = make_chunk_example("seqA", N, rng)
    ex["cameras"][4, 9] = float("nan")
    cds, cids, cmsgs = _chunk_dataset(_write_chunk(tmp_path / "chunks", ex))
    assert cids == ids and cds.health.summary() == {"invalid_pose": 1}
    assert any("non-finite value" in m for m in cmsgs)
    with pytest.raises(CorruptDataError, match="non-finite value"):
        cds.get_pair("seqA", 4, 6)


def test_camera_file_without_url_line_keeps_its_first_row(tmp_path):
    ts, poses = _rows(3)
    root = _write_raw(tmp_path / "raw", [camera_row(t, K, p) for t, p in zip(ts, poses)], ts)  # no URL line
    cams = read_camera_file(root / "test" / "seqA.txt")
    assert len(cams) == N and cams.url_missing and cams.url == ""
    np.testing.assert_allclose(cams.c2w[0].numpy(), poses[0], atol=1e-5)
    assert int(cams.timestamps[0]) == ts[0]
    ds, ids, msgs = _raw_dataset(root)
    assert ids == list(range(N)) and ds.health.summary() == {"missing_url_line": 1}
    assert any("missing url line" in m for m in msgs)
    np.testing.assert_allclose(ds.get_pair("seqA", 0, 3)["src_c2w"].numpy(), poses[0], atol=1e-5)
    # a malformed line 1 (a truncated row) is refused, naming the line
    (root / "test" / "seqA.txt").write_text("1 2 3\n" + camera_row(ts[0], K, poses[0]) + "\n")
    with pytest.raises(CorruptDataError, match="line 1"):
        read_camera_file(root / "test" / "seqA.txt")


def test_prepare_reports_the_dropped_rows(tmp_path):
    from genwarp.data.prepare import extract_sequence_frames

    ts, poses = _rows(4)
    ts[5] = ts[4]
    lines = [camera_row(t, K, p) for t, p in zip(ts, poses)]  # no URL line either
    lines[1] = lines[1].replace(lines[1].split()[3], "inf", 1)
    (tmp_path / "test").mkdir()
    cam = tmp_path / "test" / "seqA.txt"
    cam.write_text("\n".join(lines) + "\n")
    (tmp_path / "videos").mkdir()
    rep = extract_sequence_frames(cam, tmp_path / "videos", tmp_path / "frames")
    assert rep.status == "missing_video" and rep.url_missing
    assert rep.dropped_rows == {"invalid_pose": 1, "duplicate_timestamp": 1} and rep.listed == N - 2
    assert any("non-finite value" in m for m in rep.dropped_examples)


def test_off_centre_principal_point_is_parsed_in_both_layouts(tmp_path):
    """fx, fy, cx, cy are four different numbers here (every other fixture has cx = cy = 0.5), so a
    parser that swaps cx/cy (or fx/fy) gives a different K in the camera file, the raw layout and
    the chunk layout."""
    K_off = (0.61, 0.83, 0.27, 0.71)  # fx, fy, cx, cy (normalised)
    expected = torch.tensor([[0.61, 0.0, 0.27], [0.0, 0.83, 0.71], [0.0, 0.0, 1.0]])
    ts, poses = _rows(seed=3)
    url = "https://www.youtube.com/watch?v=offc"
    root = _write_raw(tmp_path / "raw", [url] + [camera_row(t, K_off, p) for t, p in zip(ts, poses)], ts)
    cam = read_camera_file(root / "test" / "seqA.txt")
    torch.testing.assert_close(cam.intrinsics, expected.expand(N, 3, 3))
    ds, ids, _ = _raw_dataset(root)
    s = ds.get_pair("seqA", 1, 6)
    torch.testing.assert_close(s["src_intrinsics"], expected)
    torch.testing.assert_close(s["tgt_intrinsics"], expected)
    np.testing.assert_allclose(s["tgt_c2w"].numpy(), poses[6], atol=1e-5)

    ex = make_chunk_example("seqA", N, np.random.default_rng(3))
    ex["cameras"][:, :4] = torch.tensor(K_off)
    cds, _, _ = _chunk_dataset(_write_chunk(tmp_path / "chunks", ex))
    c = cds.get_pair("seqA", 2, 5)
    torch.testing.assert_close(c["src_intrinsics"], expected)
    torch.testing.assert_close(c["tgt_intrinsics"], expected)
