"""Peers' frozen RealEstate10K / ACID evaluation pairs, imported into our index format.

Two protocols (``scripts/make_eval_index.py --from-geogpt`` / ``--from-pixelsplat``):

* **GeoGPT** (Rombach et al. 2021, CompVis/geometry-free-view-synthesis,
  ``data/realestate_custom_frames.txt``): one line per test sequence, ``seq,a.png,b.png,c.png``,
  the names being frame timestamps in µs. Its test set forms four pairs per sequence (its
  ``RealEstate10KCustomTest``), written here in that order: label 0 ``a → b`` ("small forward"),
  1 ``a → c`` ("large forward"), 2 ``b → a`` ("small backward"), 3 ``c → a`` ("large backward")
  (source → target). GeoGPT "small" is our ``mid`` range, "large" our ``long``: the ranges are
  *its* pairs, not our frame-gap windows (its small moves have a median gap of ≈ 2.8 s, large
  ≈ 5.6 s). 141 sequences → 564 pairs.
* **pixelSplat / MVSplat** (``assets/evaluation_index_re10k.json`` / ``_acid.json``):
  ``{scene key: {"context": [i, j], "target": [k, ...]} | null}``, indices being positions in the
  scene's chunk arrays (= camera-file rows when a chunk holds every row, as the usual conversion
  does). A ``null`` scene is one the peers could not evaluate: counted, not imported. For
  single-image synthesis every (context, target) pair is one of our pairs, the source being the
  context view: range ``near`` for the context nearer in frame index to the target (the first
  context on a tie), ``far`` for the other. A target equal to its context (gap 0) is counted and
  dropped.

Export (``--export-geogpt`` / ``--export-pixelsplat``, :func:`export_geogpt` /
:func:`export_pixelsplat`) writes any of our indices in those formats, so the peers' own test
scripts run on our pairs; each counts the pairs its format cannot carry.

Timestamps are resolved to camera-file rows when the camera files are given
(:func:`camera_row_lookup`); otherwise entries keep ``src_timestamp`` / ``tgt_timestamp`` and the
evaluator resolves them against the dataset (:func:`genwarp.data.eval_index.resolve_entries`), so
an index can be made before the frames are downloaded. Which pairs the frames on disk can serve
is counted into the index (``availability``); many of the original videos are gone.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from genwarp.data.eval_index import INDEX_FORMAT, frame_index

__all__ = ["GEOGPT_LABELS", "PROTOCOLS", "add_timestamps", "apply_camera_rows", "camera_row_lookup", "export_geogpt",
           "export_pixelsplat", "geogpt_entries", "imported_index", "pixelsplat_entries", "read_geogpt_frames",
           "read_pixelsplat_index"]

# GeoGPT's label → (source, target, our range, direction), over its (a, b, c) frames
GEOGPT_LABELS: dict[int, tuple[str, str, str, str]] = {
    0: ("a", "b", "mid", "forward"),
    1: ("a", "c", "long", "forward"),
    2: ("b", "a", "mid", "backward"),
    3: ("c", "a", "long", "backward"),
}

PROTOCOLS: dict[str, dict[str, Any]] = {
    "geogpt": {
        "name": "geogpt",
        "source": "CompVis/geometry-free-view-synthesis data/realestate_custom_frames.txt",
        "description": "GeoGPT's fixed RealEstate10K test pairs: per sequence (a, b, c), a->b / b->a are its 'small' "
                       "moves (our 'mid'), a->c / c->a its 'large' moves (our 'long'); frames named by timestamp (us)",
        "ranges": {"mid": "GeoGPT small: a->b (label 0), b->a (label 2)",
                   "long": "GeoGPT large: a->c (label 1), c->a (label 3)"},
    },
    "pixelsplat": {
        "name": "pixelsplat",
        "source": "dcharatan/pixelsplat (also donydchen/mvsplat) assets/evaluation_index_<dataset>.json",
        "description": "pixelSplat/MVSplat evaluation index: every (context, target) pair, the context view as the "
                       "source; 'near' = the context nearer in frame index to the target, 'far' = the other; "
                       "indices are chunk positions (= camera-file rows)",
        "ranges": {"near": "source = the nearer of the two context views", "far": "source = the farther context view"},
    },
}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _timestamp(field: str, where: str) -> int:
    stem = field.strip()
    for ext in (".png", ".jpg", ".jpeg"):
        if stem.lower().endswith(ext):
            stem = stem[: -len(ext)]
            break
    if not stem.isdigit():
        raise ValueError(f"{where}: {field!r} is not a frame name <timestamp>.png (a timestamp in microseconds)")
    return int(stem)


def read_geogpt_frames(path: str | Path) -> list[tuple[str, int, int, int]]:
    """``[(sequence, a, b, c)]`` timestamps (µs) of a GeoGPT frames file, in file order. Raises
    ``ValueError`` naming the file and line for a malformed line or a repeated sequence."""
    path = Path(path)
    out: list[tuple[str, int, int, int]] = []
    seen: dict[str, int] = {}
    for ln, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.strip().split(",")
        where = f"{path} line {ln}"
        if len(parts) != 4 or not parts[0]:
            raise ValueError(f"{where}: expected 'sequence,a.png,b.png,c.png', got {line.strip()!r}")
        seq = parts[0].strip()
        if seq in seen:
            raise ValueError(f"{where}: sequence {seq!r} already listed on line {seen[seq]}")
        seen[seq] = ln
        a, b, c = (_timestamp(f, where) for f in parts[1:])
        out.append((seq, a, b, c))
    if not out:
        raise ValueError(f"{path}: lists no sequence")
    return out


def geogpt_entries(frames: list[tuple[str, int, int, int]]) -> list[dict[str, Any]]:
    """GeoGPT's four pairs per sequence (sequences sorted, labels 0-3 as in its test set)."""
    entries = []
    for seq, a, b, c in sorted(frames):
        ts = {"a": a, "b": b, "c": c}
        for label, (src, tgt, rng, direction) in GEOGPT_LABELS.items():
            entries.append({"scene": seq, "src_timestamp": ts[src], "tgt_timestamp": ts[tgt], "range": rng,
                            "direction": direction, "geogpt_label": label})
    return entries


def read_pixelsplat_index(path: str | Path) -> dict[str, dict[str, list[int]] | None]:
    """A pixelSplat/MVSplat evaluation index (``{key: {"context": [...], "target": [...]} | null}``),
    checked (integer indices, two context views); errors name the file and the key."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e.msg} at line {e.lineno}): a pixelSplat evaluation index is "
                         '{key: {"context": [i, j], "target": [k, ...]} | null}') from e
    if not isinstance(data, dict) or not data:
        raise ValueError(f"{path}: expected a non-empty {{scene key: {{context, target}} | null}} object")
    for key, v in data.items():
        if v is None:
            continue
        if not isinstance(v, dict) or not isinstance(v.get("context"), list) or not isinstance(v.get("target"), list):
            raise ValueError(f"{path}: scene {key!r}: expected {{'context': [i, j], 'target': [k, ...]}} or null, got {v!r}")
        if len(v["context"]) < 1 or not v["target"]:
            raise ValueError(f"{path}: scene {key!r}: empty context or target list")
        for name in ("context", "target"):
            for x in v[name]:
                frame_index(x, where=f"{path}: scene {key!r} {name}")
    return data


def pixelsplat_entries(index: dict[str, dict[str, list[int]] | None]) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Our pairs of a pixelSplat index (see the module docstring) and the counts of what was not
    imported: ``null_scene`` (scenes the peers list as unusable) and ``target_is_context`` pairs."""
    entries: list[dict[str, Any]] = []
    skipped = {"null_scene": 0, "target_is_context": 0}
    for key in sorted(index):
        v = index[key]
        if v is None:
            skipped["null_scene"] += 1
            continue
        ctx = [int(c) for c in v["context"]]
        seen: set[tuple[int, int]] = set()
        for t in (int(x) for x in v["target"]):
            order = sorted(range(len(ctx)), key=lambda i: (abs(ctx[i] - t), i))  # nearest first, ties: first listed
            for rank, i in enumerate(order):
                c = ctx[i]
                if c == t:
                    skipped["target_is_context"] += 1
                    continue
                if (c, t) in seen:
                    continue
                seen.add((c, t))
                entries.append({"scene": str(key), "src_index": c, "tgt_index": t, "gap": abs(t - c),
                                "range": "near" if rank == 0 else "far", "context": ctx})
    return entries, skipped


def camera_row_lookup(root: str | Path, split: str) -> Callable[[str], dict[int, int] | None]:
    """``lookup(sequence) -> {timestamp: row}`` from the raw layout's camera files
    ``<root>/<split>/<sequence>.txt`` (no frames needed), ``None`` when the file is absent; rows the
    loader drops are excluded (a repeated timestamp maps to its first row)."""
    from genwarp.data.re10k import read_camera_file

    split_dir = Path(root) / split

    def lookup(seq: str) -> dict[int, int] | None:
        path = split_dir / f"{seq}.txt"
        if not path.is_file():
            return None
        cams = read_camera_file(path)
        out: dict[int, int] = {}
        for row, t in enumerate(cams.timestamps.tolist()):
            if row not in cams.dropped:
                out.setdefault(int(t), row)
        return out

    return lookup


def apply_camera_rows(entries: list[dict[str, Any]], lookup: Callable[[str], dict[int, int] | None]) -> dict[str, int]:
    """Add ``src_index`` / ``tgt_index`` (and ``gap``) to timestamp entries whose camera file
    lists their timestamps; entries without keep their timestamps. Returns the counts of pairs
    left unresolved: ``no_camera_file``, ``timestamp_not_found``."""
    cache: dict[str, dict[int, int] | None] = {}
    counts = {"resolved": 0, "no_camera_file": 0, "timestamp_not_found": 0}
    for e in entries:
        if "src_timestamp" not in e or "tgt_timestamp" not in e:
            continue
        scene = e["scene"]
        if scene not in cache:
            cache[scene] = lookup(scene)
        rows = cache[scene]
        if rows is None:
            counts["no_camera_file"] += 1
            continue
        src, tgt = rows.get(int(e["src_timestamp"])), rows.get(int(e["tgt_timestamp"]))
        if src is None or tgt is None:
            counts["timestamp_not_found"] += 1
            continue
        e["src_index"], e["tgt_index"], e["gap"] = src, tgt, abs(tgt - src)
        counts["resolved"] += 1
    return counts


def imported_index(protocol: str, entries: list[dict[str, Any]], *, dataset: str, split: str, source_file: str | Path,
                   not_imported: dict[str, int] | None = None, camera_rows: dict[str, int] | None = None,
                   availability: dict[str, Any] | None = None) -> dict[str, Any]:
    """The index dict of an imported protocol (``entries`` from :func:`geogpt_entries` /
    :func:`pixelsplat_entries`), recording the protocol, its source file and digest, what was not
    imported, how timestamps were resolved and how many pairs the frames on disk serve."""
    proto = dict(PROTOCOLS[protocol])
    source_file = Path(source_file)
    ranges = list(proto["ranges"])
    with_rows = sum(1 for e in entries if "src_index" in e and "tgt_index" in e)
    index: dict[str, Any] = {
        "format": INDEX_FORMAT,
        "dataset": dataset,
        "split": split,
        "protocol": {**proto, "file": source_file.name, "sha256": _sha256(source_file)},
        "rule": {"type": f"imported:{protocol}", "ranges": proto["ranges"], "description": proto["description"]},
        "frames": {"with_rows": with_rows, "timestamps_only": len(entries) - with_rows,
                   "camera_rows": camera_rows},
        "num_scenes": len({e["scene"] for e in entries}),
        "num_entries": len(entries),
        "counts": {r: sum(1 for e in entries if e["range"] == r) for r in ranges},
        "not_imported": dict(not_imported or {}),
        "availability": availability,
        "created_by": f"scripts/make_eval_index.py --from-{protocol}",
        "entries": entries,
    }
    return index


# ------------------------------------------------------------------------------------------------
# Export: our index in the formats the peers' test scripts read
# ------------------------------------------------------------------------------------------------


def add_timestamps(entries: list[dict[str, Any]], lookup: Callable[[str], dict[int, int] | None]) -> dict[str, int]:
    """Add ``src_timestamp`` / ``tgt_timestamp`` to row entries from the camera files
    (``lookup`` as :func:`camera_row_lookup`: timestamp → row, inverted here). Returns counts:
    ``added``, ``no_camera_file``, ``row_not_found``."""
    cache: dict[str, dict[int, int] | None] = {}
    counts = {"added": 0, "no_camera_file": 0, "row_not_found": 0}
    for e in entries:
        if "src_timestamp" in e and "tgt_timestamp" in e:
            continue
        scene = e["scene"]
        if scene not in cache:
            rows = lookup(scene)
            cache[scene] = None if rows is None else {r: t for t, r in rows.items()}
        ts = cache[scene]
        if ts is None:
            counts["no_camera_file"] += 1
            continue
        src, tgt = ts.get(int(e["src_index"])), ts.get(int(e["tgt_index"]))
        if src is None or tgt is None:
            counts["row_not_found"] += 1
            continue
        e["src_timestamp"], e["tgt_timestamp"] = src, tgt
        counts["added"] += 1
    return counts


def export_geogpt(entries: list[dict[str, Any]]) -> tuple[list[str], dict[str, int]]:
    """GeoGPT frames lines (``seq,a.png,b.png,c.png``, sequences sorted) for ``entries`` that name
    frames by timestamp, and the counts of what the format cannot carry.

    GeoGPT's format holds one triplet per sequence, from which its test set forms exactly
    ``a→b``, ``b→a`` (small = our ``mid``) and ``a→c``, ``c→a`` (large = our ``long``). A
    sequence is exported when one of its ``mid`` pairs and one of its ``long`` pairs share their
    source ``a`` (the first such, in index order); counted and not exported: ``no_timestamp``
    (a row-only pair: give the camera files), ``not_representable`` (a pair of an exported
    sequence outside its four, or of a sequence without such a triplet). ``added``: pairs GeoGPT
    will also run that the index does not list (the triplet's missing reverse directions)."""
    counts = {"exported_pairs": 0, "sequences": 0, "no_timestamp": 0, "not_representable": 0, "added": 0}
    by_scene: dict[str, list[tuple[int, int, str]]] = {}
    for e in entries:
        if "src_timestamp" not in e or "tgt_timestamp" not in e:
            counts["no_timestamp"] += 1
            continue
        by_scene.setdefault(str(e["scene"]), []).append((int(e["src_timestamp"]), int(e["tgt_timestamp"]),
                                                          str(e.get("range"))))
    lines = []
    for seq in sorted(by_scene):
        pairs = by_scene[seq]
        triplet = next(((a, b, c) for a, b, r in pairs if r == "mid"
                        for a2, c, r2 in pairs if r2 == "long" and a2 == a), None)
        if triplet is None:
            counts["not_representable"] += len(pairs)
            continue
        a, b, c = triplet
        four = {(a, b, "mid"), (b, a, "mid"), (a, c, "long"), (c, a, "long")}
        listed = set(pairs)
        counts["exported_pairs"] += sum(1 for p in pairs if p in four)
        counts["not_representable"] += sum(1 for p in pairs if p not in four)
        counts["added"] += len(four - listed)
        counts["sequences"] += 1
        lines.append(f"{seq},{a}.png,{b}.png,{c}.png")
    return lines, counts


def export_pixelsplat(entries: list[dict[str, Any]]) -> tuple[dict[str, dict[str, list[int]]], dict[str, int]]:
    """A pixelSplat/MVSplat evaluation index (``{key: {"context": [i, j], "target": [k, ...]}}``)
    for ``entries`` that name frames by row, and the counts of what it cannot carry.

    One context pair per scene: an imported pixelSplat entry keeps its ``context``; for our own
    pairs the context is the source twice (``[s, s]``: pixelSplat's two-view models then see one
    view; our importer reads it back as the pair ``s → t``). Counted and not exported:
    ``no_row`` (a timestamp-only pair: resolve it with the camera files), ``other_context`` (a
    pair of a scene whose first pair set a different context). Ranges are not carried (pixelSplat
    has none; the import calls them ``near`` / ``far``)."""
    counts = {"exported_pairs": 0, "scenes": 0, "no_row": 0, "other_context": 0}
    out: dict[str, dict[str, list[int]]] = {}
    for e in entries:
        if "src_index" not in e or "tgt_index" not in e:
            counts["no_row"] += 1
            continue
        key, s, t = str(e["scene"]), int(e["src_index"]), int(e["tgt_index"])
        ctx = [int(c) for c in e["context"]] if e.get("context") else [s, s]
        if s not in ctx:
            counts["other_context"] += 1
            continue
        scene = out.setdefault(key, {"context": ctx, "target": []})
        if scene["context"] != ctx:
            counts["other_context"] += 1
            continue
        if t not in scene["target"]:
            scene["target"].append(t)
        counts["exported_pairs"] += 1
    counts["scenes"] = len(out)
    return {k: out[k] for k in sorted(out)}, counts
