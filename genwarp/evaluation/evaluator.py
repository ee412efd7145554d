"""The evaluator: generate (resumable, batched, multi-process) → score → tables.

* :func:`generate` writes, for every pair of an evaluation index, the references (source,
  ground-truth target, visibility mask) and — given a method — its novel view, into an
  :class:`~genwarp.evaluation.layout.EvalLayout` folder. Pairs whose files exist are skipped, so
  an interrupted run resumes where it stopped. Under ``accelerate launch`` the pairs are split
  across processes (``Accelerator.prepare`` on the DataLoader) and the per-pair bookkeeping is
  gathered with ``gather_for_metrics``.
* :func:`score` reads any folder of predictions named ``<id>.png`` against the references, so a
  method run elsewhere is scored exactly like ours, and writes ``per_pair.csv`` / ``per_pair.json``,
  ``summary.json`` (mean of each metric per range, plus ``all``), ``meta.json`` and
  ``results.md``.

The visibility mask of a pair is the forward warp's coverage of the target (softmax splatting of
the source with its depth — with *exact* depth when a mask dataset is given), so visible /
invisible metrics do not depend on the evaluated method.
"""

from __future__ import annotations

import csv
import json
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, default_collate
from tqdm.auto import tqdm

from genwarp.data import load_eval_index, stable_seed
from genwarp.data.eval_index import check_index_entries, frame_index
from genwarp.evaluation.layout import EvalLayout, pair_id, read_png, write_json, write_png
from genwarp.evaluation.methods import Method, _cameras
from genwarp.evaluation.suite import MetricSuite
from genwarp.geometry import forward_warp

__all__ = ["generate", "index_pairs", "markdown_table", "pair_seed", "score", "summarize", "visibility_mask"]


# ------------------------------------------------------------------------------------- pairs
def index_pairs(index: dict[str, Any] | str | Path, limit: int | None = None) -> list[dict[str, Any]]:
    """The entries of an evaluation index as pairs with ids (first ``limit`` only, if given)."""
    if not isinstance(index, dict):
        index = load_eval_index(index)  # checked there, naming the file
    else:
        check_index_entries(index.get("entries"), "evaluation index")  # non-empty, integer frame indices
    pairs = []
    for e in index["entries"]:
        p = {"id": pair_id(e["scene"], e["src_index"], e["tgt_index"]), "scene": str(e["scene"]),
             "src_index": frame_index(e["src_index"], where=f"pair {e['scene']}"),
             "tgt_index": frame_index(e["tgt_index"], where=f"pair {e['scene']}"), "range": str(e.get("range", "all"))}
        for k in ("gap", "translation", "rotation_deg"):
            if k in e:
                p[k] = e[k]
        pairs.append(p)
    ids = [p["id"] for p in pairs]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})[:3]
        raise ValueError(f"the index lists some pairs twice, e.g. {dup}")
    return pairs[:limit] if limit else pairs


def pair_seed(seed: int, pid: str) -> int:
    """The per-pair generator seed (independent of batching, ordering and process count)."""
    return stable_seed(int(seed), "eval", pid) % (2**63)


class _PairItems(Dataset):
    def __init__(self, dataset, mask_dataset, pairs: Sequence[dict[str, Any]]):
        self.dataset, self.mask_dataset, self.pairs = dataset, mask_dataset, list(pairs)

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> dict[str, Any]:
        p = self.pairs[i]
        sample = dict(self.dataset.get_pair(p["scene"], p["src_index"], p["tgt_index"]))
        if self.mask_dataset is not None:
            exact = self.mask_dataset.get_pair(p["scene"], p["src_index"], p["tgt_index"])
            sample["mask_depth"] = torch.where(exact["src_depth_valid"], exact["src_depth"], 0.0)
        else:
            sample["mask_depth"] = torch.where(sample["src_depth_valid"], sample["src_depth"], 0.0)
        sample["row"] = i
        return sample


def visibility_mask(batch: dict[str, Any]) -> torch.Tensor:
    """(B, 1, H, W): 1 where the forward warp of the source (``mask_depth``) covers the target;
    all 0 when the pair has no depth at all."""
    depth = batch["mask_depth"].float()
    b, _, h, w = depth.shape
    src_k, tgt_k, src_to_tgt = _cameras(batch, depth.device)
    if not bool((depth > 0).any()):
        return torch.zeros(b, 1, h, w)
    _, vis = forward_warp(torch.ones(b, 1, h, w), depth, src_k, tgt_k, src_to_tgt)
    return vis


def _accelerator(accelerator):
    if accelerator is not None:
        return accelerator
    from accelerate import Accelerator
    from accelerate.utils import DataLoaderConfiguration

    return Accelerator(dataloader_config=DataLoaderConfiguration(even_batches=False))


# ---------------------------------------------------------------------------------- generate
def generate(
    layout: EvalLayout,
    dataset,
    pairs: Sequence[dict[str, Any]],
    method: Method | None = None,
    *,
    mask_dataset=None,
    batch_size: int = 4,
    num_workers: int = 0,
    seed: int = 0,
    save_warped: bool = True,
    accelerator=None,
    index_meta: dict[str, Any] | None = None,
    progress: bool = True,
    settings: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Write references (and, with ``method``, novel views) for ``pairs`` into ``layout``.

    Resumable: pairs whose files already exist are skipped. Returns counts and timing.

    ``settings`` (:func:`genwarp.evaluation.settings.generation_settings`) is what determines the
    images; it is checked against the folder's ``settings.json`` before anything is written, so a
    folder holding images made with other settings (data, depth, resolution, method, checkpoint,
    sampler, seed, …) is refused, naming the differing keys — or, with ``overwrite``, its stale
    files are deleted and regenerated. Without ``settings`` (library use) only the method is
    checked (``method.json``).
    """
    from genwarp.evaluation.settings import SETTINGS_FILE, check_settings

    acc = _accelerator(accelerator)
    if not pairs:
        raise ValueError(f"no pairs to generate for {layout.root}: the index lists none")
    info = method.describe() if method is not None else None
    record = None
    if settings is not None:  # every process checks (read-only); the main one deletes stale files
        record = check_settings(layout, settings, overwrite=overwrite, apply=acc.is_main_process)
    elif info is not None:
        method_file = layout.root / "method.json"
        if method_file.is_file() and layout.predictions.is_dir() and any(layout.predictions.glob("*.png")):
            old = _read_json(method_file, "the method record")
            if old != json.loads(json.dumps(info)):
                raise ValueError(
                    f"{layout.root} already holds images of {old}, not of {info}: use another output_dir "
                    "(or delete images/ and method.json)"
                )
    if acc.is_main_process:
        layout.root.mkdir(parents=True, exist_ok=True)
        write_json(layout.manifest, {"pairs": list(pairs), "index": index_meta or {}})
        if record is not None:
            write_json(layout.root / SETTINGS_FILE, record)
        if info is not None:
            write_json(layout.root / "method.json", info)
    acc.wait_for_everyone()
    todo = [p for p in pairs if not layout.has_references(p["id"]) or (method is not None and not layout.has_image(p["id"]))]
    stats = {"pairs": len(pairs), "skipped": len(pairs) - len(todo), "generated": 0, "seconds": 0.0}
    if not todo:
        return stats
    loader = DataLoader(_PairItems(dataset, mask_dataset, todo), batch_size=batch_size, shuffle=False,
                        num_workers=num_workers, collate_fn=default_collate)
    loader = acc.prepare(loader)
    start = time.perf_counter()
    bar = tqdm(total=len(todo), desc=f"generate ({method.name if method else 'references'})",
               disable=not (progress and acc.is_main_process), unit="pair")
    for batch in loader:
        rows = batch["row"].tolist()
        ids = [todo[r]["id"] for r in rows]
        if any(not layout.has_references(i) for i in ids):
            vis = visibility_mask(batch)
            for j, pid in enumerate(ids):
                write_png(layout.path("sources", pid), batch["src_image"][j])
                write_png(layout.path("targets", pid), batch["tgt_image"][j])
                write_png(layout.path("visibility", pid), vis[j])
        if method is not None:
            gens = [torch.Generator().manual_seed(pair_seed(seed, pid)) for pid in ids]
            out = method.generate(batch, gens)
            if out.images.shape != batch["tgt_image"].shape:
                raise ValueError(f"method {method.name} returned images of shape {tuple(out.images.shape)}, "
                                 f"expected {tuple(batch['tgt_image'].shape)}")
            for j, pid in enumerate(ids):
                write_png(layout.path("images", pid), out.images[j])
                if save_warped and "warped" in out.extras:
                    write_png(layout.path("warped", pid), out.extras["warped"][j])
                elif save_warped and method.name == "warp_only":
                    write_png(layout.path("warped", pid), out.images[j])
        done = acc.gather_for_metrics(batch["row"].to(acc.device))
        stats["generated"] += int(done.numel())
        bar.update(int(done.numel()))
    bar.close()
    stats["seconds"] = round(time.perf_counter() - start, 3)
    acc.wait_for_everyone()
    return stats


# ------------------------------------------------------------------------------------- score
class _ScoreItems(Dataset):
    def __init__(self, layout: EvalLayout, pairs: Sequence[dict[str, Any]]):
        self.layout, self.pairs = layout, list(pairs)

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> dict[str, Any]:
        pid = self.pairs[i]["id"]
        item = {"row": i, "pred": read_png(self.layout.path("images", pid)),
                "target": read_png(self.layout.path("targets", pid)),
                "source": read_png(self.layout.path("sources", pid)),
                "visibility": read_png(self.layout.path("visibility", pid), channels=1)}
        if item["pred"].shape != item["target"].shape:
            raise ValueError(f"{self.layout.path('images', pid)} is {tuple(item['pred'].shape[1:])}, but the target is "
                             f"{tuple(item['target'].shape[1:])}")
        return item


def _read_json(path: Path, what: str) -> Any:
    from genwarp.data.eval_index import read_json

    return read_json(path, what)


def _nanmean(values: list[float]) -> float:
    vals = [v for v in values if v is not None and not math.isnan(v)]
    return float(sum(vals) / len(vals)) if vals else math.nan


def summarize(rows: list[dict[str, Any]], columns: Sequence[str], fid: dict[str, float] | None = None,
              fid_name: str = "fid") -> dict[str, dict[str, float]]:
    """Mean of each column per range (NaNs skipped) and over ``all``, with ``n`` and FID."""
    ranges = list(dict.fromkeys(r["range"] for r in rows)) + ["all"]
    out = {}
    for rng in ranges:
        sel = rows if rng == "all" else [r for r in rows if r["range"] == rng]
        entry = {"n": len(sel)}
        for c in columns:
            entry[c] = _nanmean([r[c] for r in sel])
        if fid:
            entry[fid_name] = fid.get(rng, math.nan)
        out[rng] = entry
    return out


def _fmt(name: str, v: float) -> str:
    if isinstance(v, int):
        return str(v)
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if name.rsplit("/", 1)[-1].startswith(("psnr", "fid")):
        return f"{v:.2f}"
    return f"{v:.4f}"


def markdown_table(summary: dict[str, dict[str, float]], columns: Sequence[str], first: str = "range") -> str:
    """A markdown table: one row per key of ``summary``, one column per metric."""
    head = f"| {first} | " + " | ".join(columns) + " |"
    sep = "|---|" + "---:|" * len(columns)
    lines = [head, sep]
    for key, entry in summary.items():
        lines.append(f"| {key} | " + " | ".join(_fmt(c, entry.get(c, math.nan)) for c in columns) + " |")
    return "\n".join(lines)


def score(
    layout: EvalLayout,
    suite: MetricSuite,
    *,
    batch_size: int = 8,
    num_workers: int = 0,
    accelerator=None,
    meta: dict[str, Any] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Score ``layout.predictions`` against the references of ``layout`` (see the module docstring).

    Raises ``FileNotFoundError`` listing the missing predictions: a pair is never dropped silently.
    Returns ``{"rows": [...], "summary": {...}}`` (also written to disk by the main process).
    """
    acc = _accelerator(accelerator)
    manifest = layout.read_manifest()
    pairs = manifest["pairs"]
    missing = [p["id"] for p in pairs if not layout.has_image(p["id"]) or not layout.has_references(p["id"])]
    if missing:
        raise FileNotFoundError(
            f"{len(missing)} of {len(pairs)} pairs lack a prediction in {layout.predictions} or references in "
            f"{layout.root}, e.g. {missing[:3]}: run stage=generate first (every pair is scored, none is dropped)"
        )
    columns = suite.columns()
    ranges = list(dict.fromkeys(p["range"] for p in pairs))
    if suite.fid is not None:  # same accumulators on every process (torchmetrics syncs them)
        for g in ["all", *ranges]:
            suite.fid._metric(g)
    loader = acc.prepare(DataLoader(_ScoreItems(layout, pairs), batch_size=batch_size, shuffle=False,
                                    num_workers=num_workers))
    values: dict[int, dict[str, float]] = {}
    bar = tqdm(total=len(pairs), desc="score", disable=not (progress and acc.is_main_process), unit="pair")
    for batch in loader:
        out = suite.score(batch["pred"], batch["target"], batch["visibility"], batch["source"])
        vis_ratio = batch["visibility"].float().mean(dim=(1, 2, 3)).cpu()
        rows = batch["row"]
        suite.update_fid(batch["pred"], batch["target"], [pairs[r]["range"] for r in rows.tolist()])
        table = torch.stack([rows.float().cpu(), vis_ratio] + [out[c] for c in columns], dim=1).to(acc.device)
        gathered = acc.gather_for_metrics(table).cpu()
        for line in gathered.tolist():
            values[int(line[0])] = {"invisible_ratio": 1.0 - line[1], **dict(zip(columns, line[2:]))}
        bar.update(int(gathered.shape[0]))
    bar.close()
    fid = suite.compute_fid()
    rows_out = []
    for i, p in enumerate(pairs):
        row = {k: p[k] for k in ("id", "scene", "src_index", "tgt_index", "range")}
        row.update(values[i])
        rows_out.append(row)
    fid_name = suite.fid.name if suite.fid is not None else "fid"
    summary = summarize(rows_out, columns, fid, fid_name)
    if suite.fid is not None:  # what each FID is computed from (count, resolution, resize mode)
        for rng, entry in summary.items():
            entry.update(suite.fid.info(rng, num_images=entry["n"]))  # n: pairs over all processes
    if acc.is_main_process:
        layout.results.mkdir(parents=True, exist_ok=True)
        _write_results(layout.results, rows_out, columns, summary, suite, meta or {}, fid_name)
    acc.wait_for_everyone()
    return {"rows": rows_out, "summary": summary}


def _write_results(root: Path, rows, columns, summary, suite: MetricSuite, meta, fid_name) -> None:
    fields = ["id", "scene", "src_index", "tgt_index", "range", "invisible_ratio", *columns]
    with open(root / ".per_pair.csv.tmp", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        for r in rows:
            w.writerow({k: r[k] for k in fields})
    (root / ".per_pair.csv.tmp").replace(root / "per_pair.csv")
    write_json(root / "per_pair.json", rows)
    write_json(root / "summary.json", summary)
    metric_info = {m.name: "LPIPS with a RANDOM backbone: not comparable to published LPIPS" if m.name.endswith("_random")
                   else "LPIPS v0.1" for m in suite.lpips}
    write_json(root / "meta.json", {**meta, "metrics": suite.names, "columns": columns, "metric_info": metric_info,
                                    "num_pairs": len(rows)})
    main_cols = ["n", *suite.pairwise_names] + ([fid_name] if suite.fid is not None else [])
    region_cols = [f"{n}_{r}" for n in suite.pairwise_names for r in ("visible", "invisible")]
    title = f"{meta.get('method', 'method')} on {meta.get('data', 'data')}"
    text = [f"# {title}", "", markdown_table(summary, main_cols), "", "Visible / invisible target regions:", "",
            markdown_table(summary, region_cols), ""]
    notes = [f"- `{k}`: {v}" for k, v in metric_info.items() if "RANDOM" in v]
    if meta.get("command"):
        notes.append(f"- command: `{meta['command']}`")
    if notes:
        text += notes + [""]
    (root / "results.md").write_text("\n".join(text))
