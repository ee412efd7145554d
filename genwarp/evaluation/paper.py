"""The paper's tables and figures, produced from evaluation folders and checkpoints.

Every function writes its data (CSV + JSON) and its table (markdown) or figure (PNG, matplotlib)
into ``out_dir`` and returns the data. Evaluation folders are those of ``scripts/evaluate.py``
(``meta.json`` + ``summary.json`` + ``per_pair.csv``). The scripts in ``scripts/paper/`` are thin
command-line wrappers around these functions.

* :func:`table_from_runs` — Table 1 (FID / PSNR, mid / long, per dataset, methods as rows) and
  Table 2 (the embedding ablation: one row per ``condition_kind``).
* :func:`table3_attention_flow` — attention flow vs depth flow across training checkpoints.
* :func:`table4_attention_mass` — attention on source vs target tokens, visible vs invisible.
* :func:`fig8_distortion_vs_difficulty`, :func:`fig13_lpips_vs_invisible` (:func:`fig13_error_vs_invisible`
  for another metric) — per-pair plots.
* :func:`fig4_attention_maps` — attention maps of chosen query pixels.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from genwarp.evaluation.analysis import analyze_attention, binned_curve
from genwarp.evaluation.evaluator import markdown_table

__all__ = [
    "fig13_error_vs_invisible",
    "fig13_lpips_vs_invisible",
    "fig4_attention_maps",
    "fig8_distortion_vs_difficulty",
    "load_run",
    "lpips_column",
    "table3_attention_flow",
    "table4_attention_mass",
    "table_from_runs",
    "write_rows",
]


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_rows(path: str | os.PathLike, rows: list[dict[str, Any]]) -> Path:
    """Write dict rows as CSV (columns in first-seen order)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = list(dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
    return path


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, allow_nan=True) + "\n")


def load_run(run_dir: str | os.PathLike) -> dict[str, Any]:
    """``meta``, ``summary`` and per-pair ``rows`` of one evaluation folder."""
    run_dir = Path(run_dir)
    for name in ("meta.json", "summary.json", "per_pair.csv"):
        if not (run_dir / name).is_file():
            raise FileNotFoundError(f"{run_dir / name} is missing: score the folder first (scripts/evaluate.py stage=score)")
    with open(run_dir / "per_pair.csv") as f:
        rows = [{k: (v if k in ("id", "scene", "range") else float(v)) for k, v in r.items()} for r in csv.DictReader(f)]
    return {"dir": str(run_dir), "meta": json.loads((run_dir / "meta.json").read_text()),
            "summary": json.loads((run_dir / "summary.json").read_text()), "rows": rows}


def lpips_column(columns: Iterable[str]) -> str:
    """The LPIPS column to plot: ``lpips`` if present, else ``lpips_random``, else any ``lpips*``."""
    cols = list(columns)
    for c in ("lpips", "lpips_random", "lpips_vgg", "lpips_vgg_random"):
        if c in cols:
            return c
    raise ValueError(f"no LPIPS column among {cols}: evaluate with metrics=[...,lpips]")


def _label(run: dict[str, Any], by: str) -> str:
    meta = run["meta"]
    if by == "condition_kind":
        return str((meta.get("method_info") or {}).get("condition_kind") or meta.get("method"))
    model = (meta.get("method_info") or {}).get("model")
    if meta.get("method") == "warp_inpaint" and model:
        return f"warp_inpaint ({model})"  # which inpainter made the numbers
    return str(meta.get("method"))


def table_from_runs(
    runs: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    *,
    name: str = "table1",
    metrics: Sequence[str] = ("fid", "psnr"),
    ranges: Sequence[str] = ("mid", "long"),
    labels: Sequence[str] | None = None,
    row_by: str = "method",
) -> list[dict[str, Any]]:
    """One row per run label, columns ``<data>/<range>/<metric>`` (Table 1; Table 2 with
    ``row_by="condition_kind"``). Missing values are shown as ``–``, never invented."""
    loaded = [load_run(r) for r in runs]
    if labels is not None and len(labels) != len(loaded):
        raise ValueError(f"{len(labels)} labels for {len(loaded)} runs")
    rows: dict[str, dict[str, Any]] = {}
    columns: list[str] = []
    for i, run in enumerate(loaded):
        label = labels[i] if labels is not None else _label(run, row_by)
        row = rows.setdefault(label, {"row": label})
        data = run["meta"].get("data", "data")
        for rg in ranges:
            entry = run["summary"].get(rg, {})
            for m in metrics:
                col = m
                if m == "lpips" and m not in entry and any(k.startswith("lpips") for k in entry):
                    col = lpips_column(entry)  # e.g. lpips_random: the name says what it is
                key = f"{data}/{rg}/{col}"
                if key not in columns:
                    columns.append(key)
                row[key] = entry.get(col, math.nan)
    order = {(d, rg, m): i for i, (d, rg, m) in enumerate(
        (d, rg, m) for d in dict.fromkeys(r["meta"].get("data", "data") for r in loaded) for rg in ranges for m in metrics)}
    columns.sort(key=lambda c: order.get((c.split("/")[0], c.split("/")[1], "lpips" if c.split("/")[2].startswith("lpips")
                                          and "lpips" in metrics else c.split("/")[2]), len(order)))
    table = list(rows.values())
    out = Path(out_dir)
    write_rows(out / f"{name}.csv", table)
    _write_json(out / f"{name}.json", {"columns": columns, "rows": table, "runs": [r["dir"] for r in loaded]})
    md = markdown_table({r["row"]: r for r in table}, columns, first=row_by)
    (out / f"{name}.md").write_text(f"# {name}\n\n{md}\n\nSources: " + ", ".join(f"`{r['dir']}`" for r in loaded) + "\n")
    return table


def _scatter_runs(runs, out_dir, name, x_col, y_col, x_label, y_label, bins):
    loaded = [load_run(r) for r in runs]
    plt = _plt()
    points, curves = [], {}
    fig, ax = plt.subplots(figsize=(5, 4))
    y_name = None
    for run in loaded:
        label = _label(run, "method")
        cols = run["rows"][0].keys() if run["rows"] else []
        yc = lpips_column(cols) if y_col == "lpips" else y_col
        xc = x_col.replace("{lpips}", lpips_column(cols)) if "{lpips}" in x_col else x_col
        y_name = y_name or yc
        xs = [r[xc] for r in run["rows"]]
        ys = [r[yc] for r in run["rows"]]
        points += [{"method": label, "id": r["id"], "range": r["range"], "x": x, "y": y} for r, x, y in zip(run["rows"], xs, ys)]
        curve = binned_curve(xs, ys, bins)
        curves[label] = curve
        ax.scatter(xs, ys, s=6, alpha=0.3)
        ax.plot([c["x_mean"] for c in curve], [c["y_mean"] for c in curve], marker="o", label=label)
    ax.set_xlabel(x_label.format(lpips=y_name))
    ax.set_ylabel(y_label.format(lpips=y_name))
    ax.legend()
    fig.tight_layout()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / f"{name}.png", dpi=150)
    plt.close(fig)
    write_rows(out / f"{name}_points.csv", points)
    _write_json(out / f"{name}.json", {"x": x_col, "y": y_name, "binned": curves, "runs": [r["dir"] for r in loaded]})
    return curves


def fig8_distortion_vs_difficulty(runs, out_dir, bins: int = 5):
    """Fig. 8: distortion LPIPS(generated, target) against difficulty LPIPS(source, target)."""
    return _scatter_runs(runs, out_dir, "fig8", "{lpips}_src_tgt", "lpips",
                         "difficulty: {lpips}(source, target)", "distortion: {lpips}(generated, target)", bins)


def fig13_lpips_vs_invisible(runs, out_dir, bins: int = 5):
    """Fig. 13: LPIPS(generated, target) against the share of invisible target pixels."""
    return _scatter_runs(runs, out_dir, "fig13", "invisible_ratio", "lpips",
                         "invisible-region ratio", "{lpips}(generated, target)", bins)


def fig13_error_vs_invisible(runs, out_dir, metric: str = "lpips", bins: int = 5):
    """Fig. 13 with any per-pair metric on the y axis (``lpips`` as the paper, or ``psnr`` / ``ssim``
    where the LPIPS weights are absent): the metric against the share of invisible target pixels."""
    if metric == "lpips":
        return fig13_lpips_vs_invisible(runs, out_dir, bins)
    return _scatter_runs(runs, out_dir, "fig13", "invisible_ratio", metric,
                         "invisible-region ratio", f"{metric}(generated, target)", bins)


def table3_attention_flow(
    checkpoints: Sequence[tuple[str, Any]],
    batches_fn,
    out_dir: str | os.PathLike,
    **analysis_kwargs: Any,
) -> list[dict[str, Any]]:
    """Table 3: attention flow vs depth flow per checkpoint.

    Args:
        checkpoints: ``(label, pipeline)`` pairs (e.g. training steps and their exports).
        batches_fn: a callable returning a fresh iterable of collated batches (the same pairs for
            every checkpoint).
        analysis_kwargs: see :func:`~genwarp.evaluation.analysis.analyze_attention`.
    """
    rows, details = [], {}
    for label, pipe in checkpoints:
        res = analyze_attention(pipe, batches_fn(), **analysis_kwargs)
        pairs = res["pairs"]
        rows.append({"checkpoint": label, "pairs": len(pairs),
                     "flow_epe_px": _mean(p["flow_epe_px"] for p in pairs),
                     "flow_within_token": _mean(p["flow_within_token"] for p in pairs)})
        details[label] = {"pairs": pairs, "layers": res["layers"]}
    out = Path(out_dir)
    write_rows(out / "table3.csv", rows)
    _write_json(out / "table3.json", {"rows": rows, "details": details, "settings": _jsonable(analysis_kwargs)})
    md = markdown_table({r["checkpoint"]: r for r in rows}, ["pairs", "flow_epe_px", "flow_within_token"], first="checkpoint")
    (out / "table3.md").write_text(
        "# Table 3: attention flow (argmax over source tokens) vs depth flow\n\n" + md +
        "\n\nflow_epe_px: mean distance in working-resolution pixels over visible target tokens of the finest "
        "attention grid; flow_within_token: share of those tokens whose argmax is at most one token away.\n")
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot([str(r["checkpoint"]) for r in rows], [r["flow_epe_px"] for r in rows], marker="o")
    ax.set_xlabel("checkpoint")
    ax.set_ylabel("attention-flow error (px)")
    fig.tight_layout()
    fig.savefig(out / "table3.png", dpi=150)
    plt.close(fig)
    return rows


def table4_attention_mass(pipeline, batches, out_dir: str | os.PathLike, **analysis_kwargs: Any) -> list[dict[str, Any]]:
    """Table 4: mean attention mass on source vs target tokens for visible / invisible targets."""
    res = analyze_attention(pipeline, batches, **analysis_kwargs)
    pairs = res["pairs"]
    rows = []
    for region in ("visible", "invisible"):
        m = _mean(p[f"source_mass_{region}"] for p in pairs)
        rows.append({"region": region, "source": m, "target": 1.0 - m if not math.isnan(m) else math.nan,
                     "pairs": sum(1 for p in pairs if not math.isnan(p[f"source_mass_{region}"]))})
    out = Path(out_dir)
    write_rows(out / "table4.csv", rows)
    write_rows(out / "table4_layers.csv", res["layers"])
    _write_json(out / "table4.json", {"rows": rows, "pairs": pairs, "layers": res["layers"],
                                      "settings": _jsonable(analysis_kwargs)})
    md = markdown_table({r["region"]: r for r in rows}, ["pairs", "source", "target"], first="target region")
    (out / "table4.md").write_text("# Table 4: attention mass on source vs target tokens\n\n" + md + "\n")
    return rows


def fig4_attention_maps(pipeline, batches, query_points: Sequence[tuple[float, float]], out_dir: str | os.PathLike,
                        **analysis_kwargs: Any) -> list[dict[str, Any]]:
    """Attention maps (finest grid, averaged over its layers, steps and heads) of ``query_points``
    (normalised target (x, y)) over the source image, one figure row per pair."""
    import torch
    from torch.nn import functional as F

    res = analyze_attention(pipeline, batches, query_points=query_points, **analysis_kwargs)
    plt = _plt()
    maps = res["maps"]
    nq = len(query_points)
    fig, axes = plt.subplots(len(maps), 1 + nq, figsize=(3 * (1 + nq), 3 * len(maps)), squeeze=False)
    data = []
    for r, entry in enumerate(maps):
        gen = entry["generated"].permute(1, 2, 0).clamp(0, 1).numpy()
        src = entry["source"].permute(1, 2, 0).clamp(0, 1).numpy()
        h, w = gen.shape[:2]
        axes[r, 0].imshow(gen)
        axes[r, 0].set_title("generated + queries")
        record = {"id": entry["id"], "queries": []}
        for q, ((x, y), amap) in enumerate(zip(query_points, entry["maps"])):
            axes[r, 0].scatter([x * w], [y * h], s=30, marker="x")
            ax = axes[r, 1 + q]
            ax.imshow(src)
            if amap is not None:
                up = F.interpolate(amap[None, None].float(), size=(h, w), mode="nearest")[0, 0]
                ax.imshow(up.numpy(), alpha=0.6, cmap="jet")
                gy, gx = divmod(int(torch.argmax(amap)), amap.shape[1])
                record["queries"].append({"query": [x, y], "grid": list(amap.shape),
                                          "argmax": [(gx + 0.5) / amap.shape[1], (gy + 0.5) / amap.shape[0]],
                                          "map": amap.tolist()})
            ax.set_title(f"query ({x:.2f}, {y:.2f})")
        for ax in axes[r]:
            ax.axis("off")
        data.append(record)
    fig.tight_layout()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "fig4_attention.png", dpi=120)
    plt.close(fig)
    _write_json(out / "fig4_attention.json", {"pairs": data, "settings": _jsonable(analysis_kwargs)})
    return data


def _mean(values: Iterable[float]) -> float:
    vals = [v for v in values if v is not None and not math.isnan(v)]
    return float(sum(vals) / len(vals)) if vals else math.nan


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v if isinstance(v, (int, float, str, bool, type(None), list, tuple)) else repr(v) for k, v in d.items()}


def pair_batches(data: str = "synthetic", index: str | os.PathLike | None = None, *, limit: int | None = 8,
                 batch_size: int = 2, resolution: int | None = None, root: str | None = None,
                 depth: str | None = None, depth_noise: float = 0.0, seed: int = 0):
    """A callable returning the collated batches of the first ``limit`` pairs of an index (for the
    attention analyses; the committed synthetic index by default)."""
    from torch.utils.data import default_collate

    from genwarp.data import load_eval_index
    from genwarp.evaluation.datasets import build_eval_dataset, default_index_path
    from genwarp.evaluation.evaluator import index_pairs

    path = index or default_index_path(data)
    if path is None:
        raise FileNotFoundError(f"data={data} has no committed evaluation index: pass --index")
    idx = load_eval_index(path)
    pairs = index_pairs(idx, limit)
    dataset, _ = build_eval_dataset(data, idx, resolution=resolution, root=root, depth=depth,
                                    depth_noise=depth_noise, seed=seed)

    def batches():
        for s in range(0, len(pairs), batch_size):
            yield default_collate([dataset.get_pair(p["scene"], p["src_index"], p["tgt_index"])
                                   for p in pairs[s : s + batch_size]])

    return batches


def load_pipeline(checkpoint: str | None = None, release_root: str | None = None, release_variant: str = "multi1",
                  device: str = "cpu", base_export: str | None = None):
    """A GenWarp pipeline from our export folder, the authors' release, or a *training checkpoint*
    folder (``<run>/checkpoints/step_*`` holding ``model.safetensors``): its model weights loaded
    (strictly) into the pipeline of ``base_export`` (e.g. ``<run>/model``, which supplies the
    codec, image encoder and scheduler)."""
    import torch

    from genwarp.evaluation.methods import GenWarpMethod

    if checkpoint is not None and (Path(checkpoint) / "model.safetensors").is_file() \
            and not (Path(checkpoint) / "model_index.json").is_file():
        if base_export is None:
            raise ValueError(f"{checkpoint} is a training checkpoint (model.safetensors only): pass the run's export "
                             "folder as base_export (--base-export <run>/model) for the codec and scheduler")
        from safetensors.torch import load_file

        pipe = GenWarpMethod.load_pipeline(base_export, None, release_variant, device, torch.float32)
        pipe.model.load_state_dict(load_file(str(Path(checkpoint) / "model.safetensors")), strict=True)
        return pipe.to(device)
    return GenWarpMethod.load_pipeline(checkpoint, release_root, release_variant, device, torch.float32)


def synthetic_benchmark(
    out_dir: str | os.PathLike,
    *,
    checkpoint: str | None = None,
    inpaint_model: str | None = None,
    corruption: float = 1.0,
    limit: int | None = None,
    resolution: int | None = None,
    metrics: Sequence[str] = ("psnr", "ssim", "lpips"),
    lpips_backbone: str = "pretrained",
    num_inference_steps: int = 20,
    guidance_scale: float = 3.5,
    batch_size: int = 8,
    device: str = "cpu",
    seed: int = 0,
    command: str | None = None,
    suite_kwargs: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> list[dict[str, Any]]:
    """The synthetic benchmark: every method on the committed synthetic index with exact depth and
    with MDE-like corrupted depth (``depth.corruption``); one evaluation folder per (method, depth)
    under ``out_dir`` and a combined table ``benchmark.{csv,json,md}``. A rerun into the same
    ``out_dir`` resumes; with other settings (corruption, resolution, steps, checkpoint, …) it is
    refused naming them, unless ``overwrite`` (regenerate the stale folders).

    Methods: ``oracle``, ``warp_only``, ``warp_inpaint`` (given ``inpaint_model``: a diffusers
    inpainting folder or ``opencv:telea``) and ``genwarp`` (given ``checkpoint``). Visible /
    invisible regions always come from the exact depth.
    """
    from omegaconf import OmegaConf

    from genwarp.evaluation.config import EvaluateConfig
    from genwarp.evaluation.run import run_evaluation

    out = Path(out_dir)
    depths = [("exact depth", {"source": "gt"}),
              (f"corrupted depth (strength {corruption:g})", {"source": "corrupted_gt", "corruption": corruption})]
    methods = ["oracle", "warp_only"] + (["warp_inpaint"] if inpaint_model else []) + (["genwarp"] if checkpoint else [])
    rows, runs = [], []
    for method in methods:
        label = method if method != "warp_inpaint" else f"warp_inpaint ({inpaint_model})"
        for depth_label, depth in depths:
            run_dir = out / f"{method}_{depth['source']}"
            data = {"name": "synthetic"}
            if resolution:
                data["resolution"] = int(resolution)
            cfg = OmegaConf.merge(OmegaConf.structured(EvaluateConfig), {
                "method": method, "data": data, "depth": depth, "output_dir": str(run_dir), "limit": limit,
                "metrics": list(metrics), "lpips_backbone": lpips_backbone, "batch_size": batch_size,
                "device": device, "seed": seed, "checkpoint": checkpoint if method == "genwarp" else None,
                "overwrite": overwrite,
                "sampler": {"num_inference_steps": num_inference_steps, "guidance_scale": guidance_scale},
                "inpaint": {"model": inpaint_model, "inpaint_size": None} if method == "warp_inpaint" else {},
            })
            res = run_evaluation(cfg, suite_kwargs=suite_kwargs)
            summary = res["score"]["summary"]
            row = {"method": label, "depth": depth_label}
            for rng in ("mid", "long", "all"):
                for k, v in summary.get(rng, {}).items():
                    if k != "n" and not k.endswith("_src_tgt"):
                        row[f"{rng}/{k}"] = v
            row["pairs"] = summary["all"]["n"]
            rows.append(row)
            runs.append(str(run_dir))
    lp = lpips_column(k.split("/", 1)[1] for k in rows[0] if "/" in k) if any("lpips" in k for k in rows[0]) else None
    main_cols = [c for c in (["mid/psnr", "long/psnr", "all/psnr", "all/ssim"] + ([f"all/{lp}"] if lp else []))
                 if c in rows[0]]
    region_cols = [c for c in ["all/psnr_visible", "all/psnr_invisible"] + ([f"all/{lp}_visible", f"all/{lp}_invisible"] if lp else [])
                   if c in rows[0]]
    write_rows(out / "benchmark.csv", rows)
    _write_json(out / "benchmark.json", {"rows": rows, "runs": runs, "command": command,
                                         "settings": {"corruption": corruption, "limit": limit, "resolution": resolution,
                                                      "lpips_backbone": lpips_backbone, "steps": num_inference_steps,
                                                      "guidance_scale": guidance_scale, "checkpoint": checkpoint,
                                                      "inpaint_model": inpaint_model}})
    keyed = {f"{r['method']}, {r['depth']}": r for r in rows}
    text = ["# Synthetic benchmark (committed index data/eval_index_synthetic_test.json)", "",
            markdown_table(keyed, ["pairs", *main_cols], first="method, source depth"), "",
            "Visible / invisible target regions (from the exact depth):", "",
            markdown_table(keyed, region_cols, first="method, source depth"), ""]
    if lp and lp.endswith("_random"):
        text.append(f"- `{lp}`: LPIPS with a RANDOM AlexNet backbone (standard weights absent): not comparable "
                    "to published LPIPS.")
    if command:
        text.append(f"- command: `{command}`")
    (out / "benchmark.md").write_text("\n".join(text) + "\n")
    return rows
