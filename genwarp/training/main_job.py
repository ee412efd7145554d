"""The embedded default main job's last part: evaluate the model just trained.

After ``scripts/train.py`` (``evaluate_after=true``) finishes, the exported model and the warp-only
baseline are run on the frozen evaluation index of the training dataset, scored with PSNR and SSIM
(plus LPIPS / FID when their backbone weights are on disk), and a results table and an image grid
are written into the run folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf

from genwarp.training.config import TrainConfig
from genwarp.utils import save_image_grid

METHODS = ("genwarp", "warp_only")


def available_metrics() -> list[str]:
    """PSNR and SSIM always; LPIPS and FID only when their packages and weights are present."""
    from genwarp.evaluation.weights import MissingWeightsError, resolve_weights

    metrics = ["psnr", "ssim"]
    for name, key, modules in (("lpips", "alex", ("torchvision", "lpips")),
                               ("fid", "inception", ("torchmetrics", "torch_fidelity"))):
        try:
            for module in modules:
                __import__(module)
            resolve_weights(key)
        except (ImportError, MissingWeightsError):
            continue
        metrics.append(name)
    return metrics


def results_table(summaries: dict[str, dict[str, dict[str, float]]], metrics: list[str]) -> str:
    """Markdown: one row per method, ``<range> <metric>`` columns."""
    ranges = [r for r in ("mid", "long", "all") if any(r in s for s in summaries.values())]
    cols = [(r, m) for r in ranges for m in metrics]
    lines = ["| method | " + " | ".join(f"{r} {m}" for r, m in cols) + " |",
             "|---|" + "---|" * len(cols)]
    for method, summary in summaries.items():
        cells = []
        for r, m in cols:
            value = summary.get(r, {}).get(m)
            cells.append("—" if value is None else f"{value:.4f}" if m in ("ssim", "lpips") else f"{value:.2f}")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def evaluate_trained(cfg: TrainConfig, result: Any, *, limit: int | None = None, grid_rows: int = 8) -> Path:
    """Evaluate ``result.export_dir`` and the warp-only baseline; returns ``<run>/results.md``."""
    from accelerate import PartialState

    from genwarp.evaluation.run import run_evaluation

    out = Path(result.output_dir)
    metrics = available_metrics()
    data = OmegaConf.to_container(cfg.data, resolve=True)
    depth = OmegaConf.to_container(cfg.depth, resolve=True)
    device = "cpu" if cfg.trainer.cpu or not torch.cuda.is_available() else "auto"
    summaries = {}
    for method in METHODS:
        eval_cfg = {
            "method": method, "data": data, "depth": depth, "output_dir": str(out / "eval" / method),
            "checkpoint": str(result.export_dir) if method == "genwarp" else None,
            "metrics": metrics, "device": device, "limit": limit, "batch_size": 16,
            "progress": cfg.logger.progress_bar,
            # The run's eval/ belongs to this run; after a resumed run trained further, its old
            # images are of an older export and must be regenerated, not refused.
            "overwrite": True,
            "sampler": {"num_inference_steps": cfg.trainer.val_steps, "guidance_scale": cfg.trainer.val_guidance,
                        "near": cfg.trainer.near, "far": cfg.trainer.far},
        }
        if PartialState().is_main_process:
            print(f"evaluating {method} on the {data['name']} evaluation index …", flush=True)
        summaries[method] = run_evaluation(OmegaConf.create(eval_cfg))["score"]["summary"]

    if not PartialState().is_main_process:  # scoring gathered everything on the main process
        return out / "results.md"
    table = results_table(summaries, metrics)
    skipped = [m for m in ("lpips", "fid") if m not in metrics]
    note = (f"\n{', '.join(skipped).upper()} not computed: backbone weights not found "
            "(see README, Evaluation).\n" if skipped else "")
    (out / "results.md").write_text(f"# {cfg.name}: evaluation after {result.step} steps\n\n{table}{note}")
    (out / "results.json").write_text(json.dumps({"step": result.step, "metrics": metrics, "summary": summaries},
                                                 indent=2))
    grid = write_grid(out / "eval", out / "results_grid.png", grid_rows)
    print(table + note + f"results: {out / 'results.md'}\nimage grid: {grid}", flush=True)
    return out / "results.md"


def write_grid(eval_root: Path, path: Path, rows: int) -> Path:
    """source | warped | generated | target for the first ``rows`` evaluated pairs."""
    from genwarp.evaluation.layout import EvalLayout, read_png

    gen, warp = EvalLayout(eval_root / "genwarp"), EvalLayout(eval_root / "warp_only")
    ids = [p["id"] for p in gen.read_manifest()["pairs"]][:rows]
    grid = [[read_png(gen.path("sources", i)), read_png(warp.path("images", i)), read_png(gen.path("images", i)),
             read_png(gen.path("targets", i))] for i in ids]
    from genwarp.training.validation import GRID_COLUMNS, GRID_MIN_TILE

    return save_image_grid(grid, path, GRID_COLUMNS, min_tile=GRID_MIN_TILE)


__all__ = ["available_metrics", "evaluate_trained", "results_table", "write_grid"]
