"""Our indices exported in the peers' formats (GeoGPT frames file, pixelSplat index) round-trip
through our importers; what a format cannot carry is counted, not written."""

from __future__ import annotations

import json
from pathlib import Path

from genwarp.data.eval_index import save_eval_index
from genwarp.data.peer_index import (export_geogpt, export_pixelsplat, geogpt_entries, pixelsplat_entries,
                                     read_geogpt_frames, read_pixelsplat_index)

REPO = Path(__file__).resolve().parents[2]
SCRIPT = str(REPO / "scripts" / "make_eval_index.py")
FIXTURE = Path(__file__).parent / "fixtures" / "geogpt_realestate_custom_frames.txt"


def _make_index(*args: str) -> int:
    from importlib import util

    spec = util.spec_from_file_location("make_eval_index", SCRIPT)
    mod = util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.main(list(args))


def _pairs(entries, by="timestamp"):
    a, b = (f"src_{by}", f"tgt_{by}")
    return sorted((e["scene"], int(e[a]), int(e[b]), e["range"]) for e in entries)


def test_geogpt_file_round_trips_through_import_and_export(tmp_path):
    """The real GeoGPT file: import (564 pairs) -> export gives back its 141 lines exactly."""
    index = tmp_path / "geogpt.json"
    assert _make_index("--from-geogpt", str(FIXTURE), "--out", str(index)) == 0
    out = tmp_path / "frames.txt"
    assert _make_index("--export-geogpt", str(index), "--out", str(out)) == 0
    assert sorted(out.read_text().splitlines()) == sorted(FIXTURE.read_text().split())
    assert read_geogpt_frames(out) == sorted(read_geogpt_frames(FIXTURE))


def _our_index(tmp_path):
    e = lambda s, a, b, r: {"scene": s, "src_timestamp": a, "tgt_timestamp": b, "range": r}  # noqa: E731
    entries = [
        e("s1", 10, 20, "mid"), e("s1", 20, 10, "mid"),
        e("s1", 30, 95, "long"),  # long pair from another source than the mid pair's: not representable
        e("s1", 10, 90, "long"),  # c->a missing: GeoGPT adds it
        e("s2", 5, 15, "mid"), e("s2", 15, 5, "mid"),  # no long pair from the same source
        {"scene": "s3", "src_index": 1, "tgt_index": 4, "range": "mid"},  # rows only, no timestamps
    ]
    path = tmp_path / "ours.json"
    save_eval_index({"format": "genwarp-eval-index/1", "dataset": "re10k", "entries": entries}, path)
    return path, entries


def test_our_index_exports_to_geogpt_what_it_can_and_counts_the_rest(tmp_path, capsys):
    path, entries = _our_index(tmp_path)
    lines, counts = export_geogpt(entries)
    assert lines == ["s1,10.png,20.png,90.png"]
    assert counts == {"exported_pairs": 3, "sequences": 1, "no_timestamp": 1, "not_representable": 3, "added": 1}
    out = tmp_path / "frames.txt"
    assert _make_index("--export-geogpt", str(path), "--out", str(out)) == 0
    assert "3 of 7 pairs exported" in capsys.readouterr().out
    back = geogpt_entries(read_geogpt_frames(out))
    exported = [x for x in entries if x["scene"] == "s1" and (x["src_timestamp"], x["tgt_timestamp"]) != (30, 95)]
    assert set(_pairs(exported)) <= set(_pairs(back))  # every exported pair comes back, same range
    assert set(_pairs(back)) - set(_pairs(exported)) == {("s1", 90, 10, "long")}  # the one GeoGPT adds


def _pixelsplat_file(tmp_path: Path) -> tuple[Path, dict]:
    data = {"k00": {"context": [0, 7], "target": [2, 5, 7]}, "k01": None, "k12": {"context": [1, 6], "target": [3]}}
    path = tmp_path / "evaluation_index_re10k.json"
    path.write_text(json.dumps(data))
    return path, data


def test_pixelsplat_index_round_trips_through_import_and_export(tmp_path):
    src, data = _pixelsplat_file(tmp_path)
    index = tmp_path / "ps.json"
    assert _make_index("--from-pixelsplat", str(src), "--out", str(index)) == 0
    out = tmp_path / "evaluation_index_re10k.out.json"
    assert _make_index("--export-pixelsplat", str(index), "--out", str(out)) == 0
    # every scene comes back as it was; a null scene (never imported) cannot
    assert json.loads(out.read_text()) == {k: v for k, v in data.items() if v is not None}


def test_our_rows_export_to_pixelsplat_one_context_per_scene(tmp_path):
    entries = [{"scene": "a", "src_index": 3, "tgt_index": 40, "range": "long"},
               {"scene": "a", "src_index": 3, "tgt_index": 20, "range": "mid"},
               {"scene": "a", "src_index": 9, "tgt_index": 1, "range": "mid"},  # another source: other_context
               {"scene": "b", "src_timestamp": 1, "tgt_timestamp": 2, "range": "mid"}]  # no rows
    data, counts = export_pixelsplat(entries)
    assert data == {"a": {"context": [3, 3], "target": [40, 20]}}
    assert counts == {"exported_pairs": 2, "scenes": 1, "no_row": 1, "other_context": 1}
    path = tmp_path / "x.json"
    path.write_text(json.dumps(data))
    back, skipped = pixelsplat_entries(read_pixelsplat_index(path))
    assert sorted((e["scene"], e["src_index"], e["tgt_index"]) for e in back) == [("a", 3, 20), ("a", 3, 40)]
    assert skipped == {"null_scene": 0, "target_is_context": 0}


def test_row_index_exports_to_geogpt_with_the_camera_files(re10k_raw, tmp_path, capsys):
    """Rows become timestamps through --root's camera files (a row-only index exports the same
    GeoGPT line as the timestamps it came from)."""
    ts = re10k_raw["timestamps"]["seqA"]
    rows = [(1, 4, "mid"), (4, 1, "mid"), (1, 10, "long"), (10, 1, "long")]
    entries = [{"scene": "seqA", "src_index": s, "tgt_index": t, "range": r} for s, t, r in rows]
    entries.append({"scene": "seqGone", "src_index": 0, "tgt_index": 3, "range": "mid"})  # no camera file
    path = tmp_path / "rows.json"
    save_eval_index({"format": "genwarp-eval-index/1", "dataset": "re10k", "entries": entries}, path)
    out = tmp_path / "frames.txt"
    assert _make_index("--export-geogpt", str(path), "--root", str(re10k_raw["root"]), "--out", str(out)) == 0
    assert out.read_text().splitlines() == [f"seqA,{ts[1]}.png,{ts[4]}.png,{ts[10]}.png"]
    printed = capsys.readouterr().out
    assert "{'added': 4, 'no_camera_file': 1, 'row_not_found': 0}" in printed
    assert "4 of 5 pairs exported" in printed and "'no_timestamp': 1" in printed
