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

**Photometric-NVS** (Yu et al. 2023, YorkUCVIL/Photoconsistent-NVS) has no test-pair file: its
sampler ``src/scripts/sample-trajectory.py -o <folder>`` runs one folder per call, reading
``<folder>/sampling-spec.json`` (``focal_y``; ``poses``: 4×4 camera-to-world matrices in its
Blender convention; ``dependencies[k]``: the pose indices view ``k`` is conditioned on;
``generation_order``), the given images ``<folder>/init-ims/<k:04d>.png`` (256×256) and an
existing ``<folder>/samples/``; it writes ``samples/00000000/images/<k:04d>.png`` (256×256, the
given views' VQGAN reconstructions included) and ``latents/<k:04d>.npy``. ``--export-photonvs``
(:func:`export_photonvs`) writes one such folder per (scene, source row) of our index: pose 0
the source, poses 1.. its targets, each conditioned on the source alone; ``photonvs_pairs.json``
maps (folder, pose) to our pair id and ``--import-photonvs-outputs``
(:func:`import_photonvs_outputs`) copies the sampler's images to ``<pair id>.png``.

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

__all__ = ["GEOGPT_LABELS", "PHOTONVS_PAIRS", "PHOTONVS_RUN", "PHOTONVS_SIZE", "PROTOCOLS", "add_timestamps",
           "apply_camera_rows", "camera_row_lookup", "export_geogpt", "export_photonvs", "export_pixelsplat",
           "geogpt_entries", "import_photonvs_outputs", "imported_index", "photonvs_init_image", "photonvs_pose",
           "pixelsplat_entries", "read_geogpt_frames", "read_pixelsplat_index"]

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


# ------------------------------------------------------------------------------------------------
# Photometric-NVS (YorkUCVIL/Photoconsistent-NVS): one sampling folder per source frame
# ------------------------------------------------------------------------------------------------

#: side of the images its sampler reads and writes (VQGAN latents 4×32×32, 8× downsampling)
PHOTONVS_SIZE = 256
#: the run folder ``sample-trajectory.py`` writes (it always opens run 0: ``set_run(0)``)
PHOTONVS_RUN = "00000000"
#: written beside the folders: ``{"folders": {folder: {pose index: our pair id}}, ...}``
PHOTONVS_PAIRS = "photonvs_pairs.json"
PHOTONVS_FORMAT = "genwarp-photonvs-export/1"

# Its poses are camera-to-world matrices of a camera looking down -z with +y up (OpenGL/Blender),
# in a world whose +z is up: extract-poses.py turns a RealEstate10K row (w2c, OpenCV camera: +z
# forward, +y down) into  WORLD_Z_UP · inverse(w2c) · CV_TO_GL.
_CV_TO_GL = (1.0, -1.0, -1.0)  # flip the camera's y and z axes (right-multiplied)
_WORLD_Z_UP = ((1.0, 0.0, 0.0), (0.0, 0.0, 1.0), (0.0, -1.0, 0.0))  # world y-down -> z-up (left-multiplied)


def photonvs_pose(c2w: Any) -> list[list[float]]:
    """Our camera-to-world (OpenCV camera, the RealEstate10K world) as Photometric-NVS's pose: a
    4×4 nested list, Blender camera axes in its z-up world (the conversion of its
    ``dataset-data/extract-poses.py``). Relative poses — all its model sees — do not depend on the
    world rotation."""
    import numpy as np

    m = np.asarray(c2w, dtype=np.float64).reshape(4, 4)
    out = np.eye(4)
    world = np.asarray(_WORLD_Z_UP)
    out[:3, :3] = world @ (m[:3, :3] * np.asarray(_CV_TO_GL)[None, :])
    out[:3, 3] = world @ m[:3, 3]
    return out.tolist()


def photonvs_init_image(image: Any) -> Any:
    """A (3, H, W) image in [0, 1] (H ≤ W) as the 256×256 PIL image Photometric-NVS's pipeline
    makes of a video frame (its ``Realestate_dataset_video.py``): resized to height 360 when it is
    not, the central 360×360 square (left edge ``(W - 360) // 2``), resized to 256×256 (bicubic,
    Pillow's default in its environment)."""
    import numpy as np
    import PIL.Image
    import torch

    arr = (torch.as_tensor(image).detach().float().clamp(0, 1) * 255).round().to(torch.uint8)
    img = PIL.Image.fromarray(np.ascontiguousarray(arr.permute(1, 2, 0).cpu().numpy()))
    w, h = img.size
    if h != 360:
        img = img.resize((round(w * 360 / h), 360), PIL.Image.BICUBIC)
        w, h = img.size
    left = (w - 360) // 2
    return img.crop((left, 0, left + 360, 360)).resize((PHOTONVS_SIZE, PHOTONVS_SIZE), PIL.Image.BICUBIC)


def _scene_camera(handle: Any, row: int) -> tuple[Any, Any] | None:
    """(normalised K, c2w) of a row of a RealEstate10K scene handle, ``None`` for a row the loader
    drops or does not have."""
    cams = getattr(handle, "cameras", None)
    cams = handle if cams is None else cams
    K, c2w, dropped = getattr(cams, "intrinsics", None), getattr(cams, "c2w", None), getattr(cams, "dropped", {})
    if K is None or c2w is None or not 0 <= row < len(c2w) or row in dropped:
        return None
    return K[row], c2w[row]


def export_photonvs(entries: list[dict[str, Any]], dataset: Any, out_dir: str | Path, *,
                    source_index: str | None = None) -> dict[str, int]:
    """Write ``entries`` (rows) as Photometric-NVS sampling folders under ``out_dir`` (see the
    module docstring) from ``dataset`` (a :class:`~genwarp.data.RealEstate10KDataset`: the
    cameras, and the source frames for ``init-ims/0000.png``). Returns the counts.

    One folder ``<scene>__<source row>`` per source: ``sampling-spec.json`` with ``focal_y`` (the
    source row's fy, normalised by the frame height = by the side of the central square),
    ``poses`` (:func:`photonvs_pose`; 0 = source, k = the k-th target in index order),
    ``dependencies`` ``[null, [0], [0], ...]`` and ``generation_order`` ``[1, ..., n]``;
    ``init-ims/0000.png`` (:func:`photonvs_init_image`); an empty ``samples/``. Counted and not
    exported, because the format has one focal length and a centred principal point per folder
    and needs the source image: ``no_row`` (a timestamp-only pair), ``duplicate_pair``, the
    loader's reason when the source frame cannot be read (``missing_sequence``,
    ``missing_frame``, ``corrupt_image``, ...), ``invalid_target_row``, ``portrait_frame``,
    ``off_centre_principal_point`` (|c − 0.5| > 1e-3), ``non_square_pixels`` (fx·W and fy·H more
    than 2 % apart: its rays use one focal for both axes), ``focal_differs`` (a target's fy more
    than 0.1 % from the source's). Ranges are not carried (the pair ids are)."""
    import numpy as np

    from genwarp.data.health import DataError
    from genwarp.evaluation.layout import pair_id

    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise FileExistsError(f"{out_dir} is not empty: export Photometric-NVS folders into a new folder "
                              "(its sampler resumes from what a folder's samples/ already holds)")
    counts: dict[str, int] = {"exported_pairs": 0, "folders": 0, "no_row": 0, "duplicate_pair": 0}

    def skip(kind: str, n: int = 1) -> None:
        counts[kind] = counts.get(kind, 0) + n

    groups: dict[tuple[str, int], list[int]] = {}
    for e in entries:
        if "src_index" not in e or "tgt_index" not in e:
            skip("no_row")
            continue
        targets = groups.setdefault((str(e["scene"]), int(e["src_index"])), [])
        if int(e["tgt_index"]) in targets:
            skip("duplicate_pair")
            continue
        targets.append(int(e["tgt_index"]))
    folders: dict[str, dict[str, str]] = {}
    for (scene, src), targets in sorted(groups.items()):
        try:
            view = dataset.open_scene(scene).load_view(src, with_depth=False)
        except DataError as err:
            skip(err.kind, len(targets))
            continue
        handle = dataset.open_scene(scene)
        K = np.asarray(view.intrinsics, dtype=np.float64)
        _, h, w = view.image.shape
        if h > w:
            skip("portrait_frame", len(targets))
            continue
        if abs(K[0, 2] - 0.5) > 1e-3 or abs(K[1, 2] - 0.5) > 1e-3:
            skip("off_centre_principal_point", len(targets))
            continue
        if abs(K[0, 0] * w / (K[1, 1] * h) - 1.0) > 0.02:
            skip("non_square_pixels", len(targets))
            continue
        focal_y = float(K[1, 1])
        poses, ids = [photonvs_pose(view.c2w)], {}
        for tgt in targets:
            cam = _scene_camera(handle, tgt)
            if cam is None:
                skip("invalid_target_row")
                continue
            if abs(float(cam[0][1, 1]) / focal_y - 1.0) > 1e-3:
                skip("focal_differs")
                continue
            poses.append(photonvs_pose(cam[1]))
            ids[str(len(poses) - 1)] = pair_id(scene, src, tgt)
        if not ids:
            continue
        folder = pair_id(scene, src, 0).rsplit("__", 1)[0]
        root = out_dir / folder
        (root / "init-ims").mkdir(parents=True)
        (root / "samples").mkdir()
        spec = {"focal_y": focal_y, "poses": poses, "dependencies": [None] + [[0]] * len(ids),
                "generation_order": list(range(1, len(poses)))}
        (root / "sampling-spec.json").write_text(json.dumps(spec))
        photonvs_init_image(view.image).save(root / "init-ims" / "0000.png")
        folders[folder] = ids
        counts["exported_pairs"] += len(ids)
    counts["folders"] = len(folders)
    if folders:
        (out_dir / PHOTONVS_PAIRS).write_text(json.dumps(
            {"format": PHOTONVS_FORMAT, "index": source_index, "size": PHOTONVS_SIZE, "run": PHOTONVS_RUN,
             "counts": counts, "folders": folders}, indent=1) + "\n")
    return counts


def import_photonvs_outputs(export_dir: str | Path, predictions: str | Path) -> dict[str, int]:
    """Copy what Photometric-NVS's sampler wrote in the folders of :func:`export_photonvs`
    (``<folder>/samples/00000000/images/<k:04d>.png``) to ``predictions/<pair id>.png``, the
    names ``scripts/evaluate.py stage=score predictions=...`` reads. Counts ``imported`` and
    ``not_generated`` (an image the sampler has not written yet); the source reconstruction
    (pose 0) is not a prediction and is not copied."""
    import shutil

    export_dir, predictions = Path(export_dir), Path(predictions)
    mapping_path = export_dir / PHOTONVS_PAIRS
    if not mapping_path.is_file():
        raise FileNotFoundError(f"{mapping_path} does not exist: {export_dir} is not a folder written by "
                                "make_eval_index.py --export-photonvs")
    mapping = json.loads(mapping_path.read_text())
    if mapping.get("format") != PHOTONVS_FORMAT:
        raise ValueError(f"{mapping_path}: format {mapping.get('format')!r}, expected {PHOTONVS_FORMAT!r}")
    counts = {"imported": 0, "not_generated": 0}
    predictions.mkdir(parents=True, exist_ok=True)
    for folder, ids in sorted(mapping["folders"].items()):
        images = export_dir / folder / "samples" / mapping.get("run", PHOTONVS_RUN) / "images"
        for k, pid in sorted(ids.items(), key=lambda kv: int(kv[0])):
            src = images / f"{int(k):04d}.png"
            if not src.is_file():
                counts["not_generated"] += 1
                continue
            shutil.copyfile(src, predictions / f"{pid}.png")
            counts["imported"] += 1
    return counts
