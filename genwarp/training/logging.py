"""Experiment logging through Accelerate's trackers (TensorBoard, wandb), main process only.

Keys are namespaced: ``train/*`` (loss, lr, grad_norm), ``perf/*`` (samples_per_s, gpu_mem_gb,
data_wait_s), ``val/*`` (psnr, lpips, image grids), ``eval/<method>/<split>/<metric>`` (the main
job's evaluation, also a table). wandb defaults to offline mode (runs land in
``<output_dir>/wandb`` and can be synced later with ``wandb sync``); its run gets a name, group and
tags from the experiment and the overrides, and its id is kept in ``<output_dir>/wandb_run_id`` so
that ``resume=latest`` continues the same wandb run. Every logged scalar is also a plain-text line
of ``<output_dir>/train.log`` (and the console), progress bar or not.
"""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path
from typing import Any

import numpy as np

BACKENDS = ("tensorboard", "wandb")
WANDB_ID_FILE = "wandb_run_id"
# Overrides that say where or how a run is kept, not what it trains: left out of wandb names and tags.
_NOT_IN_NAME = ("output_dir", "resume", "overwrite", "hydra.", "logger.", "debug.", "evaluate_", "experiment")
scalar_log = logging.getLogger("genwarp.train")


def tracker_setup(backends: list[str], output_dir: str | Path, wandb_mode: str) -> list[str]:
    """Validate backends and prepare their environment; returns Accelerate's ``log_with`` list."""
    unknown = [b for b in backends if b not in BACKENDS]
    if unknown:
        raise ValueError(f"logger.backends: unknown {unknown}; choose from {list(BACKENDS)}")
    if "wandb" in backends:
        if wandb_mode not in ("offline", "online", "disabled"):
            raise ValueError(f"logger.wandb_mode must be offline, online or disabled, got {wandb_mode!r}")
        os.environ.setdefault("WANDB_MODE", wandb_mode)
        os.environ.setdefault("WANDB_DIR", str(Path(output_dir)))
        os.environ.setdefault("WANDB_SILENT", "true")
    return list(backends)


def log_images(accelerator, name: str, image: np.ndarray, step: int) -> None:
    """Log one (H, W, 3) uint8 image to every active tracker."""
    for tracker in accelerator.trackers:
        if tracker.name == "tensorboard":
            tracker.writer.add_image(name, image, step, dataformats="HWC")
        elif tracker.name == "wandb":
            import wandb

            tracker.log({name: wandb.Image(image)}, step=step)


def flatten_config(cfg: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dict → flat ``a/b/c`` keys with scalar values (what trackers accept as hparams)."""
    flat: dict[str, Any] = {}
    for key, value in (cfg.items() if isinstance(cfg, dict) else []):
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten_config(value, name + "/"))
        elif isinstance(value, (int, float, str, bool)) or value is None:
            flat[name] = "None" if value is None else value
        else:
            flat[name] = str(value)
    return flat


def _naming_overrides(overrides: list[str]) -> list[str]:
    keep = []
    for o in overrides:
        key = o.split("=", 1)[0].lstrip("+~")
        if not any(key == p.rstrip("._") or (p.endswith((".", "_")) and key.startswith(p)) for p in _NOT_IN_NAME):
            keep.append(o.lstrip("+~"))
    return keep


def wandb_run_id(output_dir: str | Path) -> str:
    """The wandb run id of this run folder: read from ``wandb_run_id``, or made and stored there."""
    path = Path(output_dir) / WANDB_ID_FILE
    if path.is_file() and path.read_text().strip():
        return path.read_text().strip()
    run_id = uuid.uuid4().hex[:12]
    path.write_text(run_id + "\n")
    return run_id


def wandb_init_kwargs(cfg: Any, overrides: list[str] | None, output_dir: str | Path) -> dict[str, Any]:
    """``wandb.init`` arguments: ``name`` (logger.wandb_name, else the experiment + the overrides that
    change the recipe), ``group`` (logger.wandb_group, else the experiment), ``tags`` (the experiment,
    those overrides, logger.wandb_tags), and the run folder's stored ``id`` with ``resume="allow"``."""
    lg = cfg.logger
    changed = _naming_overrides(list(overrides or []))
    name = lg.wandb_name or (cfg.name + (" " + " ".join(changed) if changed else ""))
    tags = [cfg.name, *changed, *list(lg.wandb_tags or [])]
    return {"name": name[:128], "group": lg.wandb_group or cfg.name, "tags": [t[:64] for t in dict.fromkeys(tags)],
            "id": wandb_run_id(output_dir), "resume": "allow", "dir": str(Path(output_dir))}


def log_scalars_text(metrics: dict[str, float], step: int) -> None:
    """One plain-text line of every scalar (the run folder's train.log under Hydra, and the console)."""
    scalar_log.info("step %d: %s", step, ", ".join(f"{k} {v:.6g}" for k, v in metrics.items()
                                                    if isinstance(v, (int, float))))


def log_evaluation(trackers, results: dict[str, Any], table_markdown: str, step: int) -> dict[str, float]:
    """The main job's evaluation (``results.json``'s ``summary``: method → split → metric) to every
    tracker: scalars ``eval/<method>/<split>/<metric>``, a table, and wandb summary metrics."""
    flat = {f"eval/{method}/{split}/{metric}": float(value)
            for method, splits in results["summary"].items() for split, values in splits.items()
            for metric, value in values.items() if isinstance(value, (int, float))}
    log_scalars_text(flat, step)
    for tracker in trackers:
        if tracker.name == "tensorboard":
            for key, value in flat.items():
                tracker.writer.add_scalar(key, value, step)
            tracker.writer.add_text("eval/results", table_markdown, step)
            tracker.writer.flush()
        elif tracker.name == "wandb":
            import wandb

            metrics = sorted({m for splits in results["summary"].values() for v in splits.values() for m in v})
            rows = [[method, split, *[values.get(m) for m in metrics]]
                    for method, splits in results["summary"].items() for split, values in splits.items()]
            tracker.log({"eval/results": wandb.Table(columns=["method", "split", *metrics], data=rows)}, step=step)
            tracker.log(flat, step=step)
            tracker.run.summary.update(flat)
    return flat


__all__ = ["BACKENDS", "WANDB_ID_FILE", "flatten_config", "log_evaluation", "log_images", "log_scalars_text",
           "tracker_setup", "wandb_init_kwargs", "wandb_run_id"]
