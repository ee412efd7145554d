"""Frozen evaluation indices: which (scene, source, target) pairs an evaluation uses.

An index is a JSON file::

    {
      "format": "genwarp-eval-index/1",
      "dataset": "synthetic", "split": "test", "seed": 0,
      "rule": {"type": "frame_gap", "unit": "frame index difference |tgt - src|",
               "ranges": {"mid": [lo, hi], "long": [lo, hi]}, "both_directions": true,
               "pairs_per_scene": 1, "description": "..."},
      "dataset_config": {...},            # what defines the scenes (synthetic generator knobs)
      "num_entries": N,
      "entries": [{"scene", "src_index", "tgt_index", "range", "gap",
                   "translation", "rotation_deg"}, ...]
    }

**The range rule** (:class:`FrameGapRule`): a pair is *mid-range* when its frame gap
``|tgt − src|`` lies in the rule's ``mid`` window and *long-range* when it lies in the ``long``
window (inclusive; the windows do not overlap). For every scene (sorted by name) and every
range, ``pairs_per_scene`` pairs are drawn uniformly among the valid ones (source uniform over
frames that have a partner in the window, target uniform over its partners, either temporal
direction) with a generator seeded by ``(seed, scene, range)`` — so the index does not depend on
iteration order, and a scene too short for a window simply contributes no pair to it. Every entry
also records the pair's camera translation (in pose units) and relative rotation (degrees) so
analyses can bin by geometry as well. Default windows per dataset are in :data:`DEFAULT_RULES`.

**Frames by row or by timestamp.** An entry names each frame by its row (``src_index`` /
``tgt_index``: camera-file row, chunk position or frame number) or, for RealEstate10K / ACID, by
its timestamp in µs (``src_timestamp`` / ``tgt_timestamp``), or both. Imported peer protocols
(:mod:`genwarp.data.peer_index`) keep timestamps when the camera files were not at hand.
:func:`resolve_entries` turns timestamps into rows against a dataset and drops (and counts) the
pairs whose frames are not on disk; ``scripts/evaluate.py`` does this. Readers that need rows
(training validation, :class:`~genwarp.data.samplers.IndexSampler`) load an index with
``load_eval_index(path)`` and refuse a timestamp-only entry naming :func:`resolve_entries`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genwarp.data.base import PairDataset, stable_seed
from genwarp.data.health import DataError
from genwarp.data.samplers import sample_gap_pairs

__all__ = ["DEFAULT_RULES", "INDEX_FORMAT", "FrameGapRule", "ResolvedEntries", "build_eval_index", "check_index_entries",
           "frame_index", "load_eval_index", "read_json", "resolve_entries", "save_eval_index", "scene_timestamps"]

INDEX_FORMAT = "genwarp-eval-index/1"


@dataclass(frozen=True)
class FrameGapRule:
    """Mid/long range by frame-gap windows (see the module docstring)."""

    ranges: dict[str, tuple[int, int]]
    both_directions: bool = True
    pairs_per_scene: int = 1
    description: str = ""

    def __post_init__(self) -> None:
        spans = sorted((lo, hi, name) for name, (lo, hi) in self.ranges.items())
        for lo, hi, name in spans:
            if lo < 1 or hi < lo:
                raise ValueError(f"range {name!r}: need 1 <= lo <= hi, got [{lo}, {hi}]")
        for (lo1, hi1, n1), (lo2, hi2, n2) in zip(spans, spans[1:]):
            if lo2 <= hi1:
                raise ValueError(f"ranges {n1!r} [{lo1}, {hi1}] and {n2!r} [{lo2}, {hi2}] overlap")

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "frame_gap",
            "unit": "frame index difference |tgt - src|",
            "ranges": {k: [int(v[0]), int(v[1])] for k, v in self.ranges.items()},
            "both_directions": self.both_directions,
            "pairs_per_scene": self.pairs_per_scene,
            "description": self.description,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FrameGapRule:
        if d.get("type", "frame_gap") != "frame_gap":
            raise ValueError(f"unknown rule type {d.get('type')!r}")
        return cls({k: (int(v[0]), int(v[1])) for k, v in d["ranges"].items()}, bool(d.get("both_directions", True)),
                   int(d.get("pairs_per_scene", 1)), str(d.get("description", "")))

    def with_pairs_per_scene(self, n: int) -> FrameGapRule:
        return FrameGapRule(dict(self.ranges), self.both_directions, int(n), self.description)


DEFAULT_RULES: dict[str, FrameGapRule] = {
    # RealEstate10K / ACID camera files list (nearly) every video frame at 24-30 fps:
    # mid ≈ 0.5-1.5 s of camera motion, long ≈ 2-4 s.
    "re10k": FrameGapRule({"mid": (15, 45), "long": (60, 120)}, description="RealEstate10K rows (~30 fps): mid 15-45 frames, long 60-120 frames"),
    "acid": FrameGapRule({"mid": (15, 45), "long": (60, 120)}, description="ACID rows (~30 fps): mid 15-45 frames, long 60-120 frames"),
    # ScanNet frame numbers are 30 fps sensor frames (also when exported with a frame skip).
    "scannet": FrameGapRule({"mid": (30, 60), "long": (90, 180)}, description="ScanNet frame numbers (30 fps): mid 1-2 s, long 3-6 s"),
    # synthetic paths move 0.03-0.08 m and yaw 0-2 deg per step (SyntheticSceneConfig defaults):
    # mid ≈ 0.2-1 m / up to 24 deg, long ≈ 0.5-2.4 m / up to 60 deg.
    "synthetic": FrameGapRule({"mid": (6, 12), "long": (18, 30)}, description="synthetic path steps: mid 6-12, long 18-30"),
}


def _pose_stats(c2w_a: torch.Tensor, c2w_b: torch.Tensor) -> tuple[float, float]:
    a, b = c2w_a.double(), c2w_b.double()
    trans = float(torch.linalg.norm(a[:3, 3] - b[:3, 3]))
    R = a[:3, :3].T @ b[:3, :3]
    cos = max(-1.0, min(1.0, (float(torch.trace(R)) - 1.0) / 2.0))
    return trans, math.degrees(math.acos(cos))


def _handle_pose(handle: Any, index: int) -> torch.Tensor | None:
    for attr in ("c2w",):
        c2w = getattr(handle, attr, None)
        if isinstance(c2w, torch.Tensor):
            return c2w[index]
    cams = getattr(handle, "cameras", None)
    if cams is not None and hasattr(cams, "c2w"):
        return cams.c2w[index]
    scene = getattr(handle, "scene", None)
    if scene is not None and hasattr(scene, "c2w"):
        return scene.c2w[index]
    poses = getattr(handle, "poses", None)
    if isinstance(poses, dict) and index in poses:
        return torch.as_tensor(poses[index])
    return None


def build_eval_index(
    dataset: PairDataset,
    rule: FrameGapRule | None = None,
    *,
    seed: int = 0,
    scenes: list[str] | None = None,
    split: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Build an index for ``dataset`` (deterministic for a given seed, rule and set of frames)."""
    name = dataset.dataset_name
    rule = rule or DEFAULT_RULES.get(name)
    if rule is None:
        raise ValueError(f"no default range rule for dataset {name!r}; pass one")
    scene_list = sorted(scenes if scenes is not None else dataset.scene_names())
    entries: list[dict[str, Any]] = []
    skipped: dict[str, int] = {}
    for scene in scene_list:
        try:
            handle = dataset.open_scene(scene)
        except DataError as e:
            skipped[e.kind] = skipped.get(e.kind, 0) + 1
            dataset.health.record(e.kind, e.path or scene, str(e))
            continue
        for range_name, (lo, hi) in rule.ranges.items():
            rng = np.random.default_rng(stable_seed(seed, "eval-index", scene, range_name))
            for src, tgt in sample_gap_pairs(handle.frame_ids, lo, hi, rule.pairs_per_scene, rule.both_directions, rng):
                e = {"scene": scene, "src_index": src, "tgt_index": tgt, "range": range_name, "gap": abs(tgt - src)}
                pa, pb = _handle_pose(handle, src), _handle_pose(handle, tgt)
                if pa is not None and pb is not None:
                    t, r = _pose_stats(pa, pb)
                    e["translation"] = round(t, 6)
                    e["rotation_deg"] = round(r, 4)
                entries.append(e)
    index: dict[str, Any] = {
        "format": INDEX_FORMAT,
        "dataset": name,
        "split": split if split is not None else getattr(dataset, "split", None),
        "seed": int(seed),
        "rule": rule.to_dict(),
        "num_scenes": len(scene_list),
        "num_entries": len(entries),
        "counts": {r: sum(1 for e in entries if e["range"] == r) for r in rule.ranges},
        "skipped_scenes": skipped,
    }
    describe = getattr(dataset, "describe", None)
    if callable(describe):
        index["dataset_config"] = describe()
    if extra:
        index.update(extra)
    index["entries"] = entries
    return index


def save_eval_index(index: dict[str, Any], path: str | Path) -> Path:
    """Write ``index`` as JSON: metadata indented, one entry per line (diff-friendly)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    head = {k: v for k, v in index.items() if k != "entries"}
    text = json.dumps(head, indent=2, sort_keys=False)
    lines = [json.dumps(e, sort_keys=False) for e in index.get("entries", [])]
    body = ',\n    '.join(lines)
    text = text[:-2] + ',\n  "entries": [\n    ' + body + '\n  ]\n}\n' if lines else text[:-2] + ',\n  "entries": []\n}\n'
    path.write_text(text)
    return path


def frame_index(value: Any, *, where: str) -> int:
    """``value`` as a frame index: a non-negative integer (``18`` or ``18.0``; never ``18.7``,
    ``"18"`` or ``true``). Raises ``ValueError`` naming ``where`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{where}: frame index {value!r} is not an integer")
    if isinstance(value, (float, np.floating)) and not (math.isfinite(value) and float(value).is_integer()):
        raise ValueError(f"{where}: frame index {value!r} is not an integer (an index is a frame number; "
                         "it is never rounded or truncated)")
    if int(value) < 0:
        raise ValueError(f"{where}: frame index {value!r} is negative")
    return int(value)


def _frame_ref(e: dict[str, Any], end: str, where: str, *, rows_required: bool) -> None:
    row, ts = f"{end}_index", f"{end}_timestamp"
    if row in e:
        frame_index(e[row], where=f"{where} {row}")
    if ts in e:
        frame_index(e[ts], where=f"{where} {ts}")
    if row not in e and ts not in e:
        raise ValueError(f"{where} lacks {row} (or {ts})")
    if row not in e and rows_required:
        raise ValueError(f"{where} names its {end} frame by timestamp only ({ts}={e[ts]}): resolve the index against "
                         "the dataset first (genwarp.data.eval_index.resolve_entries, as scripts/evaluate.py does, or "
                         "re-import it with the camera files: scripts/make_eval_index.py --root)")


def check_index_entries(entries: Any, where: str, *, rows_required: bool = True) -> list[dict[str, Any]]:
    """Check the ``entries`` of an index: a non-empty list of objects with a ``scene`` and, for
    each end, an integer ``src_index`` / ``tgt_index`` — or, unless ``rows_required``, an integer
    ``src_timestamp`` / ``tgt_timestamp`` instead. Returns them; raises ``ValueError`` naming
    ``where`` and the offending entry."""
    if not isinstance(entries, list):
        raise ValueError(f"{where}: 'entries' must be a list of pairs, got {type(entries).__name__}")
    if not entries:
        raise ValueError(f"{where}: the index lists no pairs (empty 'entries'): rebuild it with "
                         "scripts/make_eval_index.py (a scene too short for every range contributes none)")
    for i, e in enumerate(entries):
        if not isinstance(e, dict):
            raise ValueError(f"{where}: entry {i} is a {type(e).__name__}, not an object")
        if "scene" not in e:
            raise ValueError(f"{where}: entry {i} lacks scene")
        if not isinstance(e["scene"], str) or not e["scene"]:
            raise ValueError(f"{where}: entry {i}: scene {e['scene']!r} is not a non-empty string")
        for end in ("src", "tgt"):
            _frame_ref(e, end, f"{where}: entry {i} (scene {e['scene']!r})", rows_required=rows_required)
    return entries


def read_json(path: str | Path, what: str = "JSON file") -> Any:
    """``json.load`` of ``path`` whose errors name the file (and what to do)."""
    path = Path(path)
    try:
        with open(path) as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: {what} is not valid JSON ({e.msg} at line {e.lineno} column {e.colno}): "
                         "repair or regenerate it") from e
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: {what} is not UTF-8 text ({e}): repair or regenerate it") from e


def load_eval_index(path: str | Path, *, allow_timestamps: bool = False) -> dict[str, Any]:
    """Read and check an index file (raises ValueError naming the file on a malformed one: not
    JSON, no or empty ``entries``, an entry without scene/src_index/tgt_index or with a
    non-integer frame index). With ``allow_timestamps`` an entry may name a frame by
    ``src_timestamp`` / ``tgt_timestamp`` only (then :func:`resolve_entries` gives rows).

    A relative path that does not exist from the working directory is looked up from the
    repository root, where the committed indices live (``data/eval_index_*.json``).
    """
    path = Path(path)
    if not path.is_absolute() and not path.exists():
        from genwarp.cli import find_resource

        try:
            path = find_resource(path.as_posix())
        except FileNotFoundError:
            pass
    if not path.is_file():
        raise FileNotFoundError(f"evaluation index not found: {path} (scripts/make_eval_index.py builds one)")
    index = read_json(path, "the evaluation index")
    if not isinstance(index, dict) or "entries" not in index:
        raise ValueError(f"{path}: not an evaluation index (no 'entries')")
    if index.get("format") not in (None, INDEX_FORMAT):
        raise ValueError(f"{path}: unknown index format {index.get('format')!r}")
    check_index_entries(index["entries"], str(path), rows_required=not allow_timestamps)
    return index


# ------------------------------------------------------------------------------------------------
# Timestamps → rows, and which pairs the frames on disk can serve
# ------------------------------------------------------------------------------------------------


def scene_timestamps(handle: Any) -> dict[int, int] | None:
    """``{timestamp (µs): row}`` of a RealEstate10K / ACID scene handle (raw: its camera file;
    chunks: the chunk's ``timestamps``), rows dropped by the loader excluded (a repeated timestamp
    maps to its first row, as the loader keeps it). ``None`` for datasets without timestamps."""
    cams = getattr(handle, "cameras", None)
    if cams is not None and hasattr(cams, "timestamps"):
        ts, dropped = np.asarray(cams.timestamps), getattr(cams, "dropped", {})
    elif getattr(handle, "timestamps", None) is not None:
        ts, dropped = np.asarray(handle.timestamps), getattr(handle, "dropped", {})
    else:
        return None
    out: dict[int, int] = {}
    for row, t in enumerate(ts.tolist()):
        if row not in dropped:
            out.setdefault(int(t), row)
    return out


@dataclass
class ResolvedEntries:
    """What :func:`resolve_entries` kept (entries with rows) and what it dropped.

    ``skipped`` counts dropped pairs by reason; ``examples`` holds one message per reason."""

    entries: list[dict[str, Any]]
    skipped: dict[str, int]
    examples: dict[str, str]

    @property
    def num_skipped(self) -> int:
        return sum(self.skipped.values())

    def summary(self) -> str:
        total = len(self.entries) + self.num_skipped
        text = f"{len(self.entries)} of {total} pairs usable with the frames on disk"
        if self.skipped:
            text += "; skipped: " + ", ".join(f"{k} {v} (e.g. {self.examples[k]})" for k, v in sorted(self.skipped.items()))
        return text

    def to_dict(self) -> dict[str, Any]:
        return {"usable_pairs": len(self.entries), "checked_pairs": len(self.entries) + self.num_skipped,
                "skipped": dict(sorted(self.skipped.items()))}


def resolve_entries(entries: list[dict[str, Any]], dataset: Any, probe_frames: bool = False) -> ResolvedEntries:
    """Entries with rows for every frame, keeping only pairs ``dataset`` can serve.

    A frame named by timestamp is looked up in its scene's camera rows (:func:`scene_timestamps`);
    an entry that has both a row and a timestamp is checked for agreement. A pair is dropped and
    counted — never silently — when its scene cannot be opened (``missing_sequence``, …), a
    timestamp is not a usable row of the scene (``timestamp_not_found``), row and timestamp
    disagree (``timestamp_row_mismatch``) or a frame is absent or unusable (``missing_frame``).
    With ``probe_frames`` every frame of a kept pair is also decoded once, and a pair with a frame
    that is on disk but unreadable is dropped under the loader's reason (``corrupt_image``, …)
    instead of stopping the evaluation half-way (peers' indices name frames of videos we
    downloaded ourselves, where a truncated file is not rare).
    """
    kept: list[dict[str, Any]] = []
    skipped: dict[str, int] = {}
    examples: dict[str, str] = {}
    decoded: dict[tuple[str, int], DataError | None] = {}  # (scene, row) -> the error of decoding it, or None
    open_handle: list[Any] = [None, None]  # [scene, handle]: one scene open at a time (chunk handles hold images)

    def skip(kind: str, msg: str) -> None:
        skipped[kind] = skipped.get(kind, 0) + 1
        examples.setdefault(kind, msg)

    def decode_error(scene: str, row: int) -> DataError | None:
        if (scene, row) not in decoded:
            if open_handle[0] != scene:
                open_handle[:] = [scene, dataset.open_scene(scene)]
            try:
                open_handle[1].load_view(row, with_depth=False)
                decoded[scene, row] = None
            except DataError as err:
                decoded[scene, row] = err
        return decoded[scene, row]

    scenes: dict[str, Any] = {}  # scene -> (usable rows, {timestamp: row} | None) or its DataError
    for e in entries:
        scene = str(e["scene"])
        if scene not in scenes:
            try:
                handle = dataset.open_scene(scene)
                scenes[scene] = (set(handle.frame_ids), scene_timestamps(handle))  # not the handle: chunks hold images
            except DataError as err:
                scenes[scene] = err
        info = scenes[scene]
        if isinstance(info, DataError):
            skip(info.kind or "missing_sequence", f"{scene}: {info}")
            continue
        frames, by_ts = info
        out = dict(e)
        ok = True
        for end in ("src", "tgt"):
            row_key, ts_key = f"{end}_index", f"{end}_timestamp"
            if ts_key not in out:
                continue
            if by_ts is None:
                raise ValueError(f"{scene}: the index names frames by timestamp, but dataset "
                                 f"{getattr(dataset, 'dataset_name', dataset)!r} has no timestamps")
            row = by_ts.get(int(out[ts_key]))
            if row is None:
                skip("timestamp_not_found", f"{scene}: no usable camera row has timestamp {out[ts_key]}")
                ok = False
                break
            if row_key in out and int(out[row_key]) != row:
                skip("timestamp_row_mismatch", f"{scene}: {row_key}={out[row_key]} but {ts_key}={out[ts_key]} is row {row}")
                ok = False
                break
            out[row_key] = row
        if not ok:
            continue
        absent = [end for end in ("src", "tgt") if int(out[f"{end}_index"]) not in frames]
        if absent:
            rows = " and ".join(f"{end} row {out[end + '_index']}" for end in absent)
            skip("missing_frame", f"{scene}: {rows} not on disk")
            continue
        if probe_frames:
            errors = [(end, decode_error(scene, int(out[f"{end}_index"]))) for end in ("src", "tgt")]
            bad = [(end, err) for end, err in errors if err is not None]
            if bad:
                end, err = bad[0]
                skip(err.kind or "corrupt_frame", f"{scene}: {end} row {out[end + '_index']}: {err}")
                continue
        if "gap" not in out:
            out["gap"] = abs(int(out["tgt_index"]) - int(out["src_index"]))
        kept.append(out)
    return ResolvedEntries(kept, skipped, examples)
