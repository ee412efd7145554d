"""Peers' frozen evaluation pairs (GeoGPT, pixelSplat) imported into our index format, frames named by
timestamp or row, resolved against the frames on disk; scripts/evaluate.py runs on the imports.

Fixtures are written in the peers' exact formats: GeoGPT's ``realestate_custom_frames.txt``
(``seq,a.png,b.png,c.png``, µs timestamps) and pixelSplat's ``evaluation_index_re10k.json``
(``{key: {"context": [i, j], "target": [...]} | null}``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from index_scripts import make_index, re10k_evaluate_args, run_evaluate

from genwarp.data import RealEstate10KDataset, load_eval_index
from genwarp.data.eval_index import resolve_entries
from genwarp.data.peer_index import (
    geogpt_entries,
    pixelsplat_entries,
    read_geogpt_frames,
    read_pixelsplat_index,
)


def _geogpt_file(tmp_path: Path, ts: dict[str, list[int]]) -> Path:
    """GeoGPT's format; lines deliberately out of order (it sorts sequences)."""
    A, B, C = ts["seqA"], ts["seqB"], ts["seqC"]
    lines = [
        f"seqB,{B[0]}.png,{B[3]}.png,{B[8]}.png",  # row 3 of seqB has no frame on disk
        f"seqA,{A[1]}.png,{A[4]}.png,{A[10]}.png",
        f"seqC,{C[0]}.png,{C[2]}.png,{C[5]}.png",  # camera file, no frame folder
        "seqZ,100.png,200.png,300.png",  # no camera file at all (video gone)
        f"seqA2,{A[0]}.png,{A[1]}.png,99.png",  # (no camera file either)
    ]
    path = tmp_path / "realestate_custom_frames.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_geogpt_pairs_are_its_test_set(tmp_path):
    path = tmp_path / "frames.txt"
    path.write_text("s2,10.png,20.png,30.png\ns1,1.png,2.png,3.png\n")
    entries = geogpt_entries(read_geogpt_frames(path))
    assert len(entries) == 8 and [e["scene"] for e in entries] == ["s1"] * 4 + ["s2"] * 4  # sorted, 4 per sequence
    got = [(e["src_timestamp"], e["tgt_timestamp"], e["range"], e["direction"], e["geogpt_label"]) for e in entries[:4]]
    # GeoGPT: label 0 dst b | src a, 1 c | a, 2 a | b, 3 a | c; small = our mid, large = our long
    assert got == [(1, 2, "mid", "forward", 0), (1, 3, "long", "forward", 1),
                   (2, 1, "mid", "backward", 2), (3, 1, "long", "backward", 3)]
    path.write_text("s1,1.png,2.png,3.png\ns1,4.png,5.png,6.png\n")
    with pytest.raises(ValueError, match="line 2: sequence 's1' already listed on line 1"):
        read_geogpt_frames(path)
    path.write_text("s1,1.png,2.png\n")
    with pytest.raises(ValueError, match="line 1: expected 'sequence,a.png,b.png,c.png'"):
        read_geogpt_frames(path)
    path.write_text("s1,1.png,x.png,3.png\n")
    with pytest.raises(ValueError, match="'x.png' is not a frame name"):
        read_geogpt_frames(path)


def test_geogpt_import_without_frames_keeps_timestamps(re10k_raw, tmp_path, capsys):
    src = _geogpt_file(tmp_path, re10k_raw["timestamps"])
    out = tmp_path / "geogpt.json"
    assert make_index("--from-geogpt", str(src), "--out", str(out)) == 0
    assert "frames not checked (no --root)" in capsys.readouterr().out
    idx = load_eval_index(out, allow_timestamps=True)
    assert idx["num_entries"] == 20 and idx["counts"] == {"mid": 10, "long": 10}
    assert idx["protocol"]["name"] == "geogpt" and idx["rule"]["type"] == "imported:geogpt"
    assert idx["frames"] == {"with_rows": 0, "timestamps_only": 20, "camera_rows": None} and idx["availability"] is None
    assert all("src_index" not in e and "src_timestamp" in e for e in idx["entries"])
    # readers that need rows (training validation, IndexSampler) refuse, naming the way on
    with pytest.raises(ValueError, match="by timestamp only.*resolve_entries"):
        load_eval_index(out)


def test_geogpt_import_resolves_rows_and_counts_usable_pairs(re10k_raw, tmp_path, capsys):
    ts = re10k_raw["timestamps"]
    src = _geogpt_file(tmp_path, ts)
    out = tmp_path / "geogpt.json"
    with pytest.warns(UserWarning):  # the loader's own warnings about the fixture's missing frames
        assert make_index("--from-geogpt", str(src), "--root", str(re10k_raw["root"]), "--out", str(out)) == 0
    printed = capsys.readouterr().out
    idx = load_eval_index(out, allow_timestamps=True)
    # seqA, seqB, seqC have camera files: their 12 pairs get rows; seqZ / seqA2 keep timestamps
    assert idx["frames"]["camera_rows"] == {"resolved": 12, "no_camera_file": 8, "timestamp_not_found": 0}
    a = [e for e in idx["entries"] if e["scene"] == "seqA"]
    assert [(e["src_index"], e["tgt_index"]) for e in a] == [(1, 4), (1, 10), (4, 1), (10, 1)]
    assert all(ts["seqA"][e["src_index"]] == e["src_timestamp"] for e in a)
    # usable with the frames on disk: seqA 4, seqB 2 (b = row 3 missing), seqC none (no folder), seqZ/seqA2 none
    av = idx["availability"]
    assert av["usable_pairs"] == 6 and av["checked_pairs"] == 20
    assert av["skipped"] == {"missing_frame": 2, "missing_sequence": 12}
    assert "6 of 20 pairs usable with the frames on disk" in printed


def test_resolve_entries_by_timestamp_and_row(re10k_raw, re10k_chunks):
    ts = re10k_raw["timestamps"]["seqA"]
    ds = RealEstate10KDataset(re10k_raw["root"], "test")
    entries = [{"scene": "seqA", "src_timestamp": ts[2], "tgt_timestamp": ts[7]},
               {"scene": "seqA", "src_index": 2, "tgt_index": 7, "src_timestamp": ts[2], "tgt_timestamp": ts[7]},
               {"scene": "seqA", "src_index": 3, "tgt_timestamp": ts[8]},
               {"scene": "seqA", "src_index": 2, "tgt_index": 6, "tgt_timestamp": ts[7]},  # disagree
               {"scene": "seqA", "src_timestamp": ts[2] + 1, "tgt_index": 5}]  # no such timestamp
    res = resolve_entries(entries, ds)
    assert [(e["src_index"], e["tgt_index"]) for e in res.entries] == [(2, 7), (2, 7), (3, 8)]
    assert res.skipped == {"timestamp_row_mismatch": 1, "timestamp_not_found": 1}
    assert res.entries[0]["gap"] == 5
    chunks = RealEstate10KDataset(re10k_chunks["root"], "test", layout="chunks")
    res = resolve_entries([{"scene": "k00", "src_timestamp": 33_367 * 1, "tgt_timestamp": 33_367 * 6}], chunks)
    assert [(e["src_index"], e["tgt_index"]) for e in res.entries] == [(1, 6)]


def _pixelsplat_file(tmp_path: Path) -> Path:
    data = {"k00": {"context": [0, 7], "target": [2, 5, 7]}, "k01": None,
            "k12": {"context": [1, 6], "target": [3]}, "gone": {"context": [0, 4], "target": [1]}}
    path = tmp_path / "evaluation_index_re10k.json"
    path.write_text(json.dumps(data))
    return path


def test_pixelsplat_context_target_become_pairs(tmp_path):
    entries, skipped = pixelsplat_entries(read_pixelsplat_index(_pixelsplat_file(tmp_path)))
    k00 = [(e["src_index"], e["tgt_index"], e["range"]) for e in entries if e["scene"] == "k00"]
    # every (context, target): near = the nearer context; target 7 is context 7 (dropped, counted)
    assert k00 == [(0, 2, "near"), (7, 2, "far"), (7, 5, "near"), (0, 5, "far"), (0, 7, "far")]
    k12 = [(e["src_index"], e["tgt_index"], e["range"]) for e in entries if e["scene"] == "k12"]
    assert k12 == [(1, 3, "near"), (6, 3, "far")]
    assert skipped == {"null_scene": 1, "target_is_context": 1}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"k": {"context": [0, 1.5], "target": [1]}}))
    with pytest.raises(ValueError, match="scene 'k' context: frame index 1.5 is not an integer"):
        read_pixelsplat_index(bad)


def test_pixelsplat_import_counts_usable_pairs_on_chunks(re10k_chunks, tmp_path, capsys):
    out = tmp_path / "ps.json"
    assert make_index("--from-pixelsplat", str(_pixelsplat_file(tmp_path)), "--root", str(re10k_chunks["root"]),
                       "--layout", "chunks", "--out", str(out)) == 0
    idx = load_eval_index(out)  # rows throughout: readable by every loader
    assert idx["protocol"]["name"] == "pixelsplat" and idx["counts"] == {"near": 4, "far": 5}
    assert idx["not_imported"] == {"null_scene": 1, "target_is_context": 1}
    assert idx["availability"]["usable_pairs"] == 7 and idx["availability"]["skipped"] == {"missing_sequence": 2}


def test_evaluate_runs_on_an_imported_timestamp_index(re10k_raw, tmp_path, monkeypatch, capsys):
    """scripts/evaluate.py index=<GeoGPT import without cameras>: timestamps resolved against the
    dataset, pairs whose frames are gone skipped, counted and announced; per-range results."""
    src = _geogpt_file(tmp_path, re10k_raw["timestamps"])
    index = tmp_path / "geogpt.json"
    make_index("--from-geogpt", str(src), "--out", str(index))
    out = tmp_path / "eval"
    with pytest.warns(UserWarning):
        run_evaluate(monkeypatch, "method=oracle", *re10k_evaluate_args(re10k_raw["root"], index, out, 16))
    err = capsys.readouterr().err
    assert "6 of 20 pairs usable with the frames on disk" in err and "missing_sequence 12" in err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["mid"]["n"] == 2 and summary["long"]["n"] == 4 and summary["all"]["n"] == 6  # seqB: b is gone
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["index"]["protocol"] == "geogpt"
    assert manifest["index"]["frames_on_disk"]["usable_pairs"] == 6
    assert manifest["index"]["frames_on_disk"]["skipped"] == {"missing_frame": 2, "missing_sequence": 12}


def test_geogpt_real_file_gives_its_564_pairs(tmp_path):
    """The real GeoGPT file (tests/data/fixtures, verbatim): 141 sequences → 564 pairs, 282 mid
    ("small", median |Δt| 2.8 s) and 282 long ("large", 5.6 s), as the issue and GeoGPT state."""
    import statistics

    src = Path(__file__).parent / "fixtures" / "geogpt_realestate_custom_frames.txt"
    out = tmp_path / "geogpt.json"
    assert make_index("--from-geogpt", str(src), "--out", str(out)) == 0
    idx = load_eval_index(out, allow_timestamps=True)
    assert idx["num_entries"] == 564 and idx["num_scenes"] == 141 and idx["counts"] == {"mid": 282, "long": 282}
    gap = {r: statistics.median(abs(e["tgt_timestamp"] - e["src_timestamp"]) / 1e6 for e in idx["entries"]
                                if e["range"] == r) for r in ("mid", "long")}
    assert gap["mid"] == pytest.approx(2.77, abs=0.01) and gap["long"] == pytest.approx(5.64, abs=0.01)
    assert idx["protocol"]["sha256"] == __import__("hashlib").sha256(src.read_bytes()).hexdigest()
    first = idx["entries"][0]  # f04880903462e8f0,106806000.png,109609000.png,112646000.png: label 0 is a -> b
    assert (first["scene"], first["src_timestamp"], first["tgt_timestamp"]) == ("f04880903462e8f0", 106806000, 109609000)


def test_a_corrupt_frame_of_an_imported_index_is_skipped_and_counted(re10k_raw, tmp_path, monkeypatch, capsys):
    """A frame on disk that does not decode (seqB row 4 of the fixture) drops its pairs under the
    loader's reason, in the import's availability and in the evaluation, which goes on."""
    B = re10k_raw["timestamps"]["seqB"]
    src = tmp_path / "frames.txt"
    src.write_text(f"seqB,{B[0]}.png,{B[4]}.png,{B[8]}.png\n")  # a = row 0, b = row 4 (corrupt), c = row 8
    index = tmp_path / "geogpt.json"
    with pytest.warns(UserWarning):
        assert make_index("--from-geogpt", str(src), "--root", str(re10k_raw["root"]), "--out", str(index)) == 0
    av = load_eval_index(index, allow_timestamps=True)["availability"]
    assert av["usable_pairs"] == 2 and av["skipped"] == {"corrupt_image": 2}  # 0→4 and 4→0
    out = tmp_path / "eval"
    with pytest.warns(UserWarning):
        run_evaluate(monkeypatch, "method=oracle", *re10k_evaluate_args(re10k_raw["root"], index, out, 16))
    assert "2 of 4 pairs usable with the frames on disk; skipped: corrupt_image 2" in capsys.readouterr().err
    assert json.loads((out / "summary.json").read_text())["all"]["n"] == 2
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["index"]["frames_on_disk"]["skipped"] == {"corrupt_image": 2}
