"""What determines the images of an evaluation folder, recorded in ``<output_dir>/settings.json``.

A folder is resumable (finished pairs are skipped), so a second run into it must make the *same*
images, or it would report the old numbers under the new configuration. ``settings.json`` holds

* ``references`` — what makes ``sources/``, ``targets/``, ``visibility/``: the dataset (name,
  root, layout, frames root, split, effective resolution), the index's dataset definition
  (``dataset_config``: the synthetic scenes), and the depth the visibility masks come from
  (``exact`` whenever the masks use exact depth, else the evaluated depth and the seed);
* ``images`` — what makes ``images/`` and ``warped/``: the references' settings, the method and
  its settings (checkpoint or release folder with a content digest, sampler steps / guidance /
  resolution / near / far, inpainting settings, dtype), the evaluated depth (source, corruption,
  cache, estimator) and the seed.

:func:`check_settings` compares a new run's settings with the recorded ones before anything is
written, and refuses a mismatch with one error listing the differing keys (old → new) and the way
on: a new ``output_dir``, or ``overwrite=true``, which deletes the stale files and regenerates.
A folder with images but no record (written before this existed) counts as a mismatch.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

__all__ = ["RESULT_FILES", "SETTINGS_FILE", "check_settings", "diff_settings", "folder_digest", "generation_settings",
           "read_settings"]

SETTINGS_FILE = "settings.json"
RESULT_FILES = ("per_pair.csv", "per_pair.json", "summary.json", "meta.json", "results.md")
_DIGEST_BYTES = 1 << 20  # head and tail of every file: cheap on multi-GB weights, changes with any training step


def folder_digest(path: str | Path | None) -> str | None:
    """A content digest of a weights folder (or file): names, sizes and the first and last MiB of
    every file. ``None`` when ``path`` is not on disk (a hub id)."""
    if not path:
        return None
    root = Path(path)
    if not root.exists():
        return None
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file()
                                                 and not any(part.startswith(".") for part in p.relative_to(root).parts))
    h = hashlib.sha256()
    for f in files:
        size = f.stat().st_size
        h.update(f"{f.relative_to(root) if f != root else f.name}\0{size}\0".encode())
        with open(f, "rb") as fh:
            h.update(fh.read(_DIGEST_BYTES))
            if size > 2 * _DIGEST_BYTES:
                fh.seek(size - _DIGEST_BYTES)
                h.update(fh.read(_DIGEST_BYTES))
    return h.hexdigest()[:16]


def _plain(x: Any) -> Any:
    """JSON types (what a round trip through settings.json gives back)."""
    return json.loads(json.dumps(x, default=str))


def generation_settings(cfg: Any, *, index: dict[str, Any], dataset_kwargs: dict[str, Any], exact_masks: bool,
                        method_info: dict[str, Any] | None) -> dict[str, Any]:
    """The ``references`` and (given ``method_info``, i.e. a method generates) ``images`` settings
    of a run (see the module docstring). ``exact_masks``: the visibility masks come from exact
    depth (a mask dataset, or ground-truth depth)."""
    from genwarp.evaluation.datasets import DEFAULT_RESOLUTION

    data, depth = cfg.data, cfg.depth
    name = data.get("name")
    res = dataset_kwargs.get("resolution") or DEFAULT_RESOLUTION.get(name)
    source = depth.get("source", "gt")
    depth_used: dict[str, Any] = {"source": source}
    if source == "corrupted_gt":
        depth_used["corruption"] = float(depth.get("corruption", 0.0) or 0.0)
    elif source == "cache":
        depth_used["cache_root"] = str(Path(str(depth.get("cache_root"))).resolve())
        for k in ("estimator", "scale_alignment"):
            if depth.get(k) is not None:
                depth_used[k] = depth.get(k)
    elif source == "estimator":
        depth_used["estimator"] = depth.get("estimator")
        if depth.get("scale_alignment") is not None:
            depth_used["scale_alignment"] = depth.get("scale_alignment")
    references: dict[str, Any] = {
        "data": {"name": name, "resolution": int(res) if res else None,
                 "root": str(Path(data["root"]).resolve()) if data.get("root") else None,
                 "layout": dataset_kwargs.get("layout"), "split": dataset_kwargs.get("split"),
                 "frames_root": str(Path(data["frames_root"]).resolve()) if data.get("frames_root") else None},
        "index": {"dataset": index.get("dataset"), "dataset_config": index.get("dataset_config")},
        "masks": {"depth": "exact"} if exact_masks else {"depth": depth_used, "seed": int(cfg.seed)},
    }
    out: dict[str, Any] = {"references": _plain(references)}
    if method_info is not None:
        method: dict[str, Any] = {"name": cfg.method, "describe": method_info}
        if cfg.method == "genwarp":
            method.update(checkpoint=str(Path(cfg.checkpoint).resolve()) if cfg.checkpoint else None,
                          checkpoint_digest=folder_digest(cfg.checkpoint),
                          release_root=str(Path(cfg.release_root).resolve()) if cfg.release_root else None,
                          release_variant=cfg.release_variant if cfg.release_root else None,
                          release_digest=folder_digest(cfg.release_root),
                          sampler=dict(cfg.sampler), dtype=cfg.dtype)
        elif cfg.method == "warp_inpaint":
            method.update(inpaint=dict(cfg.inpaint), inpaint_digest=folder_digest(cfg.inpaint.model), dtype=cfg.dtype)
        out["images"] = _plain({"references": references, "method": method, "depth": depth_used, "seed": int(cfg.seed)})
    return out


def read_settings(root: str | Path) -> dict[str, Any] | None:
    """``<root>/settings.json`` (``None`` if absent; a ``ValueError`` naming the file if unreadable)."""
    from genwarp.data.eval_index import read_json

    path = Path(root) / SETTINGS_FILE
    if not path.is_file():
        return None
    data = read_json(path, "the settings record of the evaluation folder")
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(data).__name__}: delete the folder or use "
                         "overwrite=true")
    return data


def _flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(d, dict):
        return {prefix: d}
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict) and v:
            out.update(_flatten(v, key))
        else:
            out[key] = v
    return out


def diff_settings(old: dict[str, Any] | None, new: dict[str, Any]) -> list[str]:
    """``["key: old → new", ...]`` for every leaf that differs (``old`` ``None``: unrecorded)."""
    if old is None:
        return ["(not recorded: the folder was written by an older version or by hand, so its settings are unknown)"]
    a, b = _flatten(old), _flatten(new)
    lines = []
    for k in sorted(set(a) | set(b)):
        if a.get(k, "<unset>") != b.get(k, "<unset>"):
            lines.append(f"{k}: {json.dumps(a.get(k, '<unset>'))} → {json.dumps(b.get(k, '<unset>'))}")
    return lines


def _has_png(folder: Path) -> bool:
    return folder.is_dir() and any(folder.glob("*.png"))


def check_settings(layout: Any, settings: dict[str, Any], *, overwrite: bool = False, apply: bool = True) -> dict[str, Any]:
    """Compare ``settings`` with the folder's record before generating; return the record to write.

    A mismatch raises ``ValueError`` listing the differing keys, unless ``overwrite``: then the
    stale files (references and/or images, and any results) are deleted so they are regenerated
    (only with ``apply``: the main process; the others just check).
    """
    root = Path(layout.root)
    old = read_settings(root)
    problems: list[str] = []
    stale_refs = _has_png(root / "sources") and (old is None or old.get("references") != settings["references"])
    if stale_refs:
        problems += [f"references: {d}" for d in diff_settings((old or {}).get("references") if old else None,
                                                               settings["references"])]
    images_new = settings.get("images")
    stale_images = (images_new is not None and _has_png(layout.predictions)
                    and (old is None or old.get("images") != images_new))
    if stale_images and not stale_refs:
        problems += [f"images: {d}" for d in diff_settings((old or {}).get("images") if old else None, images_new)]
    if (stale_refs or stale_images) and not overwrite:
        shown = problems[:12] + ([f"… and {len(problems) - 12} more"] if len(problems) > 12 else [])
        raise ValueError(
            f"{root} already holds images made with other settings (a resumed run would keep them and report their "
            "numbers under the new configuration):\n  " + "\n  ".join(shown) + "\n"
            "Use a new output_dir, or overwrite=true to delete the stale images there and regenerate them."
        )
    if stale_refs and apply:
        for kind in (*layout.REFERENCE_DIRS, "warped"):
            shutil.rmtree(root / kind, ignore_errors=True)
    if apply and (stale_refs or (stale_images and images_new is not None)):
        for png in Path(layout.predictions).glob("*.png") if Path(layout.predictions).is_dir() else []:
            png.unlink()
        shutil.rmtree(root / "warped", ignore_errors=True)
        for name in (*RESULT_FILES, "method.json"):
            (root / name).unlink(missing_ok=True)
    record = {"references": settings["references"]}
    if images_new is not None:
        record["images"] = images_new
    elif old is not None and old.get("images") is not None and not stale_refs:
        record["images"] = old["images"]  # references-only run: the images there stay valid
    return record
