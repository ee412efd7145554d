"""Experiment logging through Accelerate's trackers (TensorBoard, wandb), main process only.

Keys are namespaced: ``train/*`` (loss, lr, grad_norm), ``perf/*`` (samples_per_s, gpu_mem_gb,
data_wait_s), ``val/*`` (psnr, lpips, image grids). wandb defaults to offline mode (runs land in
``<output_dir>/wandb`` and can be synced later with ``wandb sync``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

BACKENDS = ("tensorboard", "wandb")


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


__all__ = ["BACKENDS", "flatten_config", "log_images", "tracker_setup"]
