"""Our index exported for Photometric-NVS (YorkUCVIL/Photoconsistent-NVS) and its outputs brought
back under our pair ids.

The reader below is written against what that code reads, not against our exporter:
``src/scripts/sample-trajectory.py`` opens ``<folder>/sampling-spec.json`` (``focal_y``, ``poses``
as nested 4×4 lists, ``dependencies`` indexed by pose, ``generation_order``), lists
``<folder>/samples`` (every entry must be a run number), and for each pose ``k`` of
``generation_order`` conditions on ``dependencies[k]``, reading ``init-ims/<dep:04d>.png`` (RGB,
256×256 for its 32×32 latents) and the relative poses ``inv(pose_dep) @ pose_k``; it writes
``samples/00000000/images/<k:04d>.png``. The poses are checked against the conversion of its
``dataset-data/extract-poses.py`` applied to the camera file's raw world-to-camera rows."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
from index_scripts import make_index, re10k_evaluate_args, run_evaluate

from genwarp.data.eval_index import save_eval_index
from genwarp.data.peer_index import PHOTONVS_PAIRS, export_photonvs


def _read_sampling_folder(folder: Path) -> list[dict]:
    """What Photometric-NVS's sampler reads from one folder: for each view it generates, its pose
    index, the views it is conditioned on (with their images) and the relative poses."""
    with open(folder / "sampling-spec.json") as f:
        spec = json.load(f)
    poses = [np.asarray(p) for p in spec["poses"]]
    assert all(p.shape == (4, 4) for p in poses)
    assert [int(x) for x in os.listdir(folder / "samples")] == []  # exists; only run folders (none yet)
    out = []
    for k in spec["generation_order"]:
        conds = []
        for dep in spec["dependencies"][k]:
            im = np.asarray(PIL.Image.open(folder / "init-ims" / f"{dep:04d}.png"))[:, :, :3]
            assert im.shape == (256, 256, 3) and im.dtype == np.uint8
            conds.append({"pose": dep, "image": im, "rel": np.linalg.inv(poses[dep]) @ poses[k]})
        out.append({"pose": k, "focal_y": float(spec["focal_y"]), "abs": poses[k], "conds": conds,
                    "src_abs": poses[spec["dependencies"][k][0]]})
    return out


def _their_pose(w2c_row: list[float]) -> np.ndarray:
    """extract-poses.py's conversion of a camera-file row (fields 7..18: the 3×4 world-to-camera)."""
    w2c = np.array(w2c_row + [0, 0, 0, 1], dtype=np.float64).reshape(4, 4)
    pre = np.diag([1.0, -1.0, -1.0, 1.0])
    world = np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, -1, 0, 0], [0, 0, 0, 1]], dtype=np.float64)
    return world @ (np.linalg.inv(w2c) @ pre)


def _camera_rows(root: Path, seq: str) -> list[list[float]]:
    lines = (root / "test" / f"{seq}.txt").read_text().splitlines()[1:]
    return [[float(x) for x in line.split()] for line in lines if line.strip()]


def _our_index(tmp_path: Path, ts: dict) -> tuple[Path, list[dict]]:
    r = lambda s, a, b, rng="mid": {"scene": s, "src_index": a, "tgt_index": b, "range": rng}
    entries = [
        r("seqA", 1, 4), r("seqA", 1, 10, "long"), r("seqA", 4, 1), r("seqA", 1, 4),  # the last: duplicate_pair
        r("seqA", 2, 99),  # no row 99: invalid_target_row (and no folder for seqA__2)
        r("seqB", 0, 8, "long"), r("seqB", 4, 0),  # row 4's frame is a truncated JPEG: corrupt_image
        r("seqB", 3, 0),  # row 3's frame is gone: missing_frame
        r("seqC", 0, 2),  # no frame folder: missing_sequence
        {"scene": "seqA", "src_timestamp": ts["seqA"][0], "tgt_timestamp": ts["seqA"][6], "range": "mid"},  # -> 0→6
        {"scene": "seqZ", "src_timestamp": 100, "tgt_timestamp": 200, "range": "mid"},  # no camera file: no_row
    ]
    path = tmp_path / "ours.json"
    save_eval_index({"format": "genwarp-eval-index/1", "dataset": "re10k", "entries": entries}, path)
    return path, entries


EXPORTED = {("seqA", 1, 4), ("seqA", 1, 10), ("seqA", 4, 1), ("seqA", 0, 6), ("seqB", 0, 8)}


def _export(re10k_raw, tmp_path, capsys) -> tuple[Path, dict]:
    index, _ = _our_index(tmp_path, re10k_raw["timestamps"])
    out = tmp_path / "photonvs"
    assert make_index("--export-photonvs", str(index), "--root", str(re10k_raw["root"]), "--out", str(out)) == 0
    printed = capsys.readouterr().out
    assert "5 of 11 pairs exported as 4 Photometric-NVS folders" in printed
    return out, json.loads((out / PHOTONVS_PAIRS).read_text())


def test_export_is_what_their_sampler_reads(re10k_raw, tmp_path, capsys):
    root = re10k_raw["root"]
    out, mapping = _export(re10k_raw, tmp_path, capsys)
    assert sorted(mapping["folders"]) == ["seqA__0", "seqA__1", "seqA__4", "seqB__0"]
    assert sorted(p.name for p in out.iterdir()) == sorted([*mapping["folders"], PHOTONVS_PAIRS])
    seen = set()
    for folder, ids in mapping["folders"].items():
        scene, src = folder.rsplit("__", 1)
        rows = _camera_rows(root, scene)
        views = _read_sampling_folder(out / folder)
        assert [v["pose"] for v in views] == [int(k) for k in ids]  # every generated pose is one of our pairs
        for v in views:
            pid = ids[str(v["pose"])]
            s, a, b = pid.split("__")
            assert (s, a) == (scene, src)
            tgt = int(b)
            seen.add((scene, int(src), tgt))
            assert [c["pose"] for c in v["conds"]] == [0]  # conditioned on the source alone
            # poses: their conversion of the camera file's rows; pose 0 is the source, pose k the target
            np.testing.assert_allclose(v["src_abs"], _their_pose(rows[int(src)][7:]), atol=1e-5)
            np.testing.assert_allclose(v["abs"], _their_pose(rows[tgt][7:]), atol=1e-5)
            # the relative pose it feeds its model, back in OpenCV axes, is ours: inv(c2w_src) @ c2w_tgt
            flip = np.diag([1.0, -1.0, -1.0, 1.0])
            c2w = re10k_raw["poses"][scene]
            ours = np.linalg.inv(np.asarray(c2w[int(src)], dtype=np.float64)) @ np.asarray(c2w[tgt], dtype=np.float64)
            np.testing.assert_allclose(flip @ v["conds"][0]["rel"] @ flip, ours, atol=1e-4)
            assert v["focal_y"] == pytest.approx(0.9)  # fy of the camera file, normalised by the frame height
            # init-ims/0000.png is the source frame: its centre square at 256×256
            frame = PIL.Image.open(next((root / "frames" / "test" / scene).glob(f"{re10k_raw['timestamps'][scene][int(src)]}.*")))
            frame = frame.convert("RGB").resize((640, 360), PIL.Image.BICUBIC).crop((140, 0, 500, 360))
            expected = np.asarray(frame.resize((256, 256), PIL.Image.BICUBIC))
            np.testing.assert_array_equal(v["conds"][0]["image"], expected)
    assert seen == EXPORTED


def test_what_the_format_cannot_carry_is_counted(re10k_raw, tmp_path, capsys):
    _, mapping = _export(re10k_raw, tmp_path, capsys)
    assert mapping["counts"] == {"exported_pairs": 5, "folders": 4, "no_row": 1, "duplicate_pair": 1,
                                 "invalid_target_row": 1, "corrupt_image": 1, "missing_frame": 1,
                                 "missing_sequence": 1}
    assert sum(v for k, v in mapping["counts"].items() if k != "folders") == 11  # every pair accounted for
    # a folder never mixes focal lengths or an off-centre principal point: such pairs are left out
    from genwarp.data import RealEstate10KDataset

    ds = RealEstate10KDataset(re10k_raw["root"], "test", shuffle=False)
    handle = ds.open_scene("seqA")
    handle.cameras.intrinsics[5, 1, 1] *= 1.01
    handle.cameras.intrinsics[7, 0, 2] = 0.52
    counts = export_photonvs([{"scene": "seqA", "src_index": 1, "tgt_index": 5}, {"scene": "seqA", "src_index": 1, "tgt_index": 2},
                              {"scene": "seqA", "src_index": 7, "tgt_index": 2}], ds, tmp_path / "x")
    assert counts == {"exported_pairs": 1, "folders": 1, "no_row": 0, "duplicate_pair": 0, "focal_differs": 1,
                      "off_centre_principal_point": 1}
    with pytest.raises(FileExistsError, match="not empty"):
        export_photonvs([], ds, tmp_path / "x")


def test_their_outputs_become_our_pair_ids_and_are_scored(re10k_raw, tmp_path, capsys, monkeypatch):
    out, mapping = _export(re10k_raw, tmp_path, capsys)
    # what sample-trajectory.py writes: run 0, the source's reconstruction as 0000.png, then each pose
    written = {}
    for folder, ids in mapping["folders"].items():
        images = out / folder / "samples" / "00000000" / "images"
        images.mkdir(parents=True)
        for k in ["0", *ids]:
            if folder == "seqA__1" and k == "2":
                continue  # not generated yet
            arr = np.full((256, 256, 3), (int(k) * 40 + len(folder)) % 256, dtype=np.uint8)
            PIL.Image.fromarray(arr).save(images / f"{int(k):04d}.png")
            if k != "0":
                written[ids[k]] = arr
    preds = tmp_path / "preds"
    assert make_index("--import-photonvs-outputs", str(out), "--out", str(preds)) == 0
    printed = capsys.readouterr().out
    assert "4 Photometric-NVS images" in printed and "1 not generated yet" in printed
    assert sorted(p.stem for p in preds.glob("*.png")) == sorted(written)
    for pid, arr in written.items():
        np.testing.assert_array_equal(np.asarray(PIL.Image.open(preds / f"{pid}.png")), arr)
    # the last one generated, then score with ours: references at 256², predictions by pair id
    missing = mapping["folders"]["seqA__1"]["2"]
    PIL.Image.fromarray(np.zeros((256, 256, 3), np.uint8)).save(out / "seqA__1" / "samples" / "00000000" / "images" / "0002.png")
    assert make_index("--import-photonvs-outputs", str(out), "--out", str(preds)) == 0
    assert (preds / f"{missing}.png").is_file()
    index = tmp_path / "exported.json"
    pairs = [{"scene": s, "src_index": a, "tgt_index": b, "range": "mid"} for s, a, b in sorted(EXPORTED)]
    save_eval_index({"format": "genwarp-eval-index/1", "dataset": "re10k", "entries": pairs}, index)
    base = re10k_evaluate_args(re10k_raw["root"], index, tmp_path / "eval", 256)
    run_evaluate(monkeypatch, *base, "method=none", "stage=prepare")
    run_evaluate(monkeypatch, *base, "stage=score", f"predictions={preds}", "name=photometric_nvs")
    summary = json.loads((preds / "summary.json").read_text())
    assert summary["all"]["n"] == 5


def test_chunk_layout_exports_the_same_way(re10k_chunks, tmp_path, capsys):
    """--layout chunks: cameras and the source JPEG from the chunk (k11's row 2 does not decode)."""
    import torch

    entries = [{"scene": "k00", "src_index": 3, "tgt_index": 6, "range": "mid"},
               {"scene": "k11", "src_index": 2, "tgt_index": 5, "range": "mid"}]
    index = tmp_path / "ours.json"
    save_eval_index({"format": "genwarp-eval-index/1", "dataset": "re10k", "entries": entries}, index)
    out = tmp_path / "photonvs"
    assert make_index("--export-photonvs", str(index), "--root", str(re10k_chunks["root"]), "--layout", "chunks",
                       "--out", str(out)) == 0
    assert "1 of 2 pairs exported" in capsys.readouterr().out
    mapping = json.loads((out / PHOTONVS_PAIRS).read_text())
    assert mapping["folders"] == {"k00__3": {"1": "k00__3__6"}} and mapping["counts"]["corrupt_image"] == 1
    (view,) = _read_sampling_folder(out / "k00__3")
    chunk = torch.load(re10k_chunks["root"] / "test" / "000000.torch", weights_only=False)
    cams = next(e for e in chunk if e["key"] == "k00")["cameras"].double().numpy()
    np.testing.assert_allclose(view["src_abs"], _their_pose(cams[3, 6:].tolist()), atol=1e-5)
    np.testing.assert_allclose(view["abs"], _their_pose(cams[6, 6:].tolist()), atol=1e-5)
    assert view["focal_y"] == pytest.approx(0.9)
