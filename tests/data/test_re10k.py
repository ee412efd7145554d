import json
import warnings

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from genwarp.data import (
    DatasetLayoutError,
    DataWarning,
    IndexSampler,
    MissingDataError,
    CorruptDataError,
    RangeSampler,
    RealEstate10KDataset,
    make_shim,
    read_camera_file,
    validate_sample,
)


# ------------------------------------------------------------------------------------- raw layout


def test_raw_layout_poses_and_frames(re10k_raw):
    ds = RealEstate10KDataset(re10k_raw["root"], "test", shuffle=False)
    assert ds.scene_names() == ["seqA", "seqB", "seqC"]
    s = ds.get_pair("seqA", 2, 7)
    validate_sample(s)
    assert s["dataset"] == "re10k" and s["depth_source"] == "none" and not s["src_depth_valid"].any()
    np.testing.assert_allclose(s["src_c2w"].numpy(), re10k_raw["poses"]["seqA"][2], atol=1e-5)
    np.testing.assert_allclose(s["tgt_c2w"].numpy(), re10k_raw["poses"]["seqA"][7], atol=1e-5)
    torch.testing.assert_close(s["src_intrinsics"], torch.tensor([[0.5, 0, 0.5], [0, 0.9, 0.5], [0, 0, 1.0]]))
    assert s["src_image"].shape == (3, 18, 32)


def test_raw_layout_skips_and_counts_missing_and_corrupt(re10k_raw):
    ds = RealEstate10KDataset(re10k_raw["root"], "test", sampler=RangeSampler(1, 9, pairs_per_scene=40), shuffle=False)
    with pytest.warns(DataWarning) as record:
        samples = list(ds)
    # seqB rows 3, 5 missing (2 frames, one warning for the folder), row 4 corrupt (one warning),
    # seqC has no frames at all (one warning)
    msgs = [str(w.message) for w in record]
    assert sum("missing frame" in m for m in msgs) == 1
    assert sum("corrupt image" in m for m in msgs) == 1
    assert sum("missing sequence" in m for m in msgs) == 1
    counts = ds.health.summary()
    assert counts["missing_frame"] == 2 and counts["missing_sequence"] == 1 and counts["corrupt_image"] >= 1
    assert all(s["scene"] in ("seqA", "seqB") for s in samples)
    assert not any(4 in (s["src_index"], s["tgt_index"]) and s["scene"] == "seqB" for s in samples)
    assert 3 not in ds.frame_ids("seqB") and 4 in ds.frame_ids("seqB")
    with pytest.raises(MissingDataError):
        ds.get_pair("seqB", 3, 6)
    with pytest.raises(CorruptDataError):
        ds.get_pair("seqB", 4, 6)


def test_raw_layout_construction_errors(re10k_raw, tmp_path):
    root = re10k_raw["root"]
    with pytest.raises(DatasetLayoutError, match=str(tmp_path / "nowhere")):
        RealEstate10KDataset(tmp_path / "nowhere", "test")
    with pytest.raises(DatasetLayoutError, match="split folder.*train"):
        RealEstate10KDataset(root, "train")
    with pytest.raises(DatasetLayoutError, match="frames folder"):
        RealEstate10KDataset(root, "test", frames_root=tmp_path / "noframes")
    with pytest.raises(DatasetLayoutError, match=r"\*\.torch.*layout='raw'"):
        RealEstate10KDataset(root, "test", layout="chunks")


@pytest.mark.filterwarnings("ignore::genwarp.data.health.DataWarning")
def test_corrupt_camera_file_is_skipped(re10k_raw):
    root = re10k_raw["root"]
    (root / "test" / "seqA.txt").write_text("http://x\n1 2 3\n")
    with pytest.raises(CorruptDataError, match="line 2"):
        read_camera_file(root / "test" / "seqA.txt")
    ds = RealEstate10KDataset(root, "test", shuffle=False)
    with pytest.warns(DataWarning, match="corrupt camera file"):
        scenes = {s["scene"] for s in ds}
    assert scenes == {"seqB"}


# ----------------------------------------------------------------------------------- chunk layout


def test_chunks_iterate_lazily_and_skip_corrupt(re10k_chunks):
    ds = RealEstate10KDataset(re10k_chunks["root"], "test", layout="chunks", sampler=RangeSampler(1, 3, pairs_per_scene=4), shuffle=False)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        samples = list(ds)
    validate_sample(samples[0])
    keys = {s["scene"] for s in samples}
    assert keys == set(re10k_chunks["keys"])
    counts = ds.health.summary()
    assert counts["corrupt_chunk"] == 1  # 000004.torch truncated
    assert sum("000004.torch" in str(w.message) for w in record) == 1
    # k11 frame 2 is a truncated JPEG: never in a sample
    assert not any(s["scene"] == "k11" and 2 in (s["src_index"], s["tgt_index"]) for s in samples)


def test_chunks_shuffle_and_shard(re10k_chunks):
    root = re10k_chunks["root"]

    def scenes(shard=None, epoch=0, shuffle=True):
        ds = RealEstate10KDataset(root, "test", layout="chunks", sampler=RangeSampler(1, 3), shard=shard, shuffle=shuffle)
        ds.set_epoch(epoch)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return [s["scene"] for s in ds]

    a, b = scenes((0, 2)), scenes((1, 2))
    assert not set(a) & set(b) and set(a) | set(b) == set(re10k_chunks["keys"])
    assert scenes(epoch=0) != scenes(epoch=1)  # reshuffled per epoch
    assert sorted(scenes(epoch=0)) == sorted(scenes(epoch=1))
    # more shards than chunks: examples are split within chunks instead
    parts = [scenes((i, 7)) for i in range(7)]
    flat = [k for p in parts for k in p]
    assert sorted(flat) == sorted(re10k_chunks["keys"])
    # DataLoader workers split the stream
    ds = RealEstate10KDataset(root, "test", layout="chunks", sampler=RangeSampler(1, 3), shuffle=False)
    loader = DataLoader(ds, batch_size=None, num_workers=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = [s["scene"] for s in loader]
    assert sorted(got) == sorted(re10k_chunks["keys"])


@pytest.mark.filterwarnings("ignore::genwarp.data.health.DataWarning")
def test_chunks_get_pair_and_index_sampler(re10k_chunks):
    root = re10k_chunks["root"]
    ds = RealEstate10KDataset(root, "test", layout="chunks", shim=make_shim(16))
    s = ds.get_pair("k21", 0, 5)
    assert s["scene"] == "k21" and s["src_image"].shape == (3, 16, 16)
    entries = [{"scene": "k30", "src_index": 1, "tgt_index": 4}, {"scene": "k02", "src_index": 7, "tgt_index": 0}]
    ds = RealEstate10KDataset(root, "test", layout="chunks", sampler=IndexSampler(entries), shuffle=False)
    got = sorted((s["scene"], s["src_index"], s["tgt_index"]) for s in ds)
    assert got == [("k02", 7, 0), ("k30", 1, 4)]
    # without index.json, get_pair still works (scans once, with a warning)
    (root / "test" / "index.json").unlink()
    ds = RealEstate10KDataset(root, "test", layout="chunks")
    with pytest.warns(DataWarning, match="missing index"):
        assert ds.get_pair("k10", 0, 1)["scene"] == "k10"
    # a chunk root given the raw layout: a clear error with a hint
    with pytest.raises(DatasetLayoutError, match="layout='chunks'"):
        RealEstate10KDataset(root, "test", layout="raw")


# ------------------------------------------------------------------------- real sequence (shared)


@pytest.mark.parametrize("backend", ["auto", "opencv"])
def test_real_sequence_extraction_and_loading(shared_dir, tmp_path, backend):
    from genwarp.data.prepare import extract_sequence_frames

    sample = shared_dir / "samples" / "re10k"
    cam = sample / "8bd5cb1a874d6fb2.txt"
    if not cam.is_file():
        pytest.skip("RealEstate10K sample not in the shared folder")
    root = tmp_path / "re10k"
    (root / "test").mkdir(parents=True)
    (root / "test" / cam.name).write_text(cam.read_text())
    cams = read_camera_file(root / "test" / cam.name)
    assert len(cams) == 114 and cams.url.startswith("https://www.youtube.com/")
    # rows are world-to-camera: c2w must be its rigid inverse
    row = [float(x) for x in cam.read_text().splitlines()[1].split()]
    w2c = torch.eye(4, dtype=torch.float64)
    w2c[:3] = torch.tensor(row[7:19], dtype=torch.float64).view(3, 4)
    torch.testing.assert_close(cams.c2w[0].double() @ w2c, torch.eye(4, dtype=torch.float64), atol=1e-6, rtol=0)
    rep = extract_sequence_frames(root / "test" / cam.name, sample, root / "frames" / "test" / cam.stem, max_side=128, backend=backend)
    assert rep.mode == "order" and rep.written == 114 and not rep.missing_frames
    # resumable: a second run writes nothing
    rep2 = extract_sequence_frames(root / "test" / cam.name, sample, root / "frames" / "test" / cam.stem, max_side=128)
    assert rep2.skipped_existing == 114 and rep2.written == 0
    ds = RealEstate10KDataset(root, "test", shim=make_shim(64))
    s = ds.get_pair(cam.stem, 0, 60)
    validate_sample(s)
    assert s["src_image"].shape == (3, 64, 64)
    # square crop of a 16:9 frame keeps square pixels
    assert float(s["src_intrinsics"][0, 0]) == pytest.approx(float(s["src_intrinsics"][1, 1]), rel=1e-3)


@pytest.mark.parametrize("backend", ["av", "opencv"])
def test_timestamp_matching_on_a_generated_video(tmp_path, backend):
    av = pytest.importorskip("av")  # used to write the test video
    from genwarp.data.prepare import extract_sequence_frames

    # a 10 fps video whose frame k is a flat grey of level 20·k
    vid = tmp_path / "videos" / "seqX.mp4"
    vid.parent.mkdir()
    with av.open(str(vid), "w") as c:
        st = c.add_stream("mpeg4", rate=10)
        st.width, st.height, st.pix_fmt = 32, 16, "yuv420p"
        for k in range(10):
            fr = av.VideoFrame.from_ndarray(np.full((16, 32, 3), 20 * k, np.uint8), format="rgb24")
            for p in st.encode(fr):
                c.mux(p)
        for p in st.encode():
            c.mux(p)
    root = tmp_path / "root"
    (root / "test").mkdir(parents=True)
    rows = ["https://www.youtube.com/watch?v=abc"]
    ident = "1 0 0 0 0 1 0 0 0 0 1 0"
    for k in (2, 5, 7, 30):  # frame 30 does not exist
        rows.append(f"{k * 100_000 + 3_000} 0.5 0.9 0.5 0.5 0 0 {ident}")
    (root / "test" / "seqX.txt").write_text("\n".join(rows) + "\n")
    rep = extract_sequence_frames(root / "test" / "seqX.txt", vid.parent, root / "frames" / "test" / "seqX", ext="png", backend=backend)
    assert rep.mode == "timestamp" and rep.written == 3 and rep.missing_frames == [3_003_000]
    from PIL import Image

    for k in (2, 5, 7):
        level = np.asarray(Image.open(root / "frames" / "test" / "seqX" / f"{k * 100_000 + 3_000}.png")).mean()
        assert abs(level - 20 * k) < 4
    missing = extract_sequence_frames(root / "test" / "seqX.txt", tmp_path, root / "frames" / "test" / "seqX2")
    assert missing.status == "missing_video"


def test_prepare_script_report(tmp_path, re10k_raw):
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "scripts" / "prepare_re10k.py"
    videos = tmp_path / "videos"
    videos.mkdir()
    out = subprocess.run([sys.executable, str(script), "--root", str(re10k_raw["root"]), "--split", "test", "--videos", str(videos),
                          "--frames-root", str(tmp_path / "fr")], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    report = json.loads((tmp_path / "fr" / "test" / "prepare_report.json").read_text())
    assert report["summary"]["missing_videos"] == 3
