"""One run per folder: a lock, a refusal to train over another run, and resume that stays one run.

* :func:`lock_run_folder` — an exclusive ``flock`` on ``<output_dir>/.train.lock`` for the whole
  training; a second training into the same folder stops at start-up naming the holder. The
  kernel drops the lock when its process dies (even on SIGKILL), so a crashed run never blocks
  its own resume.
* :func:`check_run_folder` — a folder that already holds a run is only trained into with
  ``resume`` (continue it) or ``overwrite=true`` (its run artefacts are removed first, announced).
* :func:`resume_config_changes` — what a resumed run's config changes against the checkpoint's:
  settings that decide the trained weights must not change on resume (they would be ignored, or
  silently mix two recipes in one run); only bookkeeping may.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import time
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

LOCK_FILE = ".train.lock"
# What a training writes into its folder; overwrite=true removes exactly these.
RUN_ARTEFACTS = ("checkpoints", "model", "val", "logs", "config.yaml", "overrides.yaml", "final_metrics.json", "results.json",
                 "results.md", "results_grid.png", "diagnostics.json", "diagnostics.md", "eval", "wandb",
                 "wandb_run_id")
# Keys that may differ between a checkpoint's config and the resumed run's (prefixes end in ".").
RESUME_MAY_CHANGE = ("resume", "overwrite", "output_dir", "name", "logger.", "debug.", "evaluate_after",
                     "evaluate_limit", "trainer.max_steps", "trainer.checkpoint_every", "trainer.keep_last",
                     "trainer.log_every", "trainer.validate_every", "trainer.val_steps", "trainer.val_guidance",
                     "data.num_workers", "data.val_pairs", "data.val_index")


class RunFolderError(ValueError):
    """The output folder cannot be trained into as asked (names the folder and the way on)."""


def lock_run_folder(output_dir: str | Path):
    """Hold an exclusive lock on ``output_dir`` (created if needed); returns the open lock file.

    Keep the returned object alive for the whole training; closing it releases the lock.
    """
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    handle = open(out / LOCK_FILE, "a+")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown process"
        handle.close()
        raise RunFolderError(f"output_dir {out} is in use by another training ({holder}); wait for it to end or "
                             "train into another output_dir=...") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()} on {socket.gethostname()}, since {time.strftime('%Y-%m-%d %H:%M:%S')}")
    handle.flush()
    return handle


def existing_run(output_dir: str | Path) -> list[str]:
    """The run artefacts already present in ``output_dir`` (empty: a fresh folder)."""
    out = Path(output_dir)
    present = [name for name in RUN_ARTEFACTS if (out / name).exists()]
    if present == ["checkpoints"] and not any((out / "checkpoints").iterdir()):
        return []
    return present


def check_run_folder(output_dir: str | Path, resume: str | None, overwrite: bool) -> str | None:
    """Refuse to train over an existing run unless resuming or ``overwrite``; returns an
    announcement of what ``overwrite`` removed (``None`` when nothing was)."""
    out = Path(output_dir)
    present = existing_run(out)
    if not present or resume not in (None, "", "none", "null"):
        return None
    if not overwrite:
        raise RunFolderError(
            f"output_dir {out} already holds a run ({', '.join(present)}); continue it with resume=latest, train into "
            "a new output_dir=..., or replace it with overwrite=true")
    for name in present:
        path = out / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    return f"overwrite=true: removed the previous run's {', '.join(present)} from {out}"


def _flat(tree: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(tree, dict):
        flat: dict[str, Any] = {}
        for k, v in tree.items():
            flat.update(_flat(v, f"{prefix}{k}."))
        return flat if flat or not prefix else {prefix[:-1]: {}}
    return {prefix[:-1]: tree}


# Depth keys that only the named depth sources read: with any other source on both sides they
# cannot change a weight (run folders written before their defaults became null hold the old
# inert defaults 'Intel/zoedepth-nyu' / 'photometric' for depth=gt runs, which must still resume).
DEPTH_KEYS_READ_BY = {"depth.estimator": ("estimator",), "depth.scale_alignment": ("cache", "estimator"),
                      "depth.cache_root": ("cache",), "depth.corruption": ("corrupted_gt",)}


def _may_change(key: str, old: dict[str, Any] | None = None, new: dict[str, Any] | None = None) -> bool:
    if old is not None and new is not None and "inpaint" not in (old.get("baseline"), new.get("baseline")):
        # GenWarp runs (also those written before ``baseline`` existed): the inpainting baseline's keys are unread
        if key == "baseline" or key.startswith("inpaint_baseline."):
            return True
    if old is not None and new is not None and old.get("baseline") == new.get("baseline") == "inpaint":
        if key.startswith("model."):  # the inpainting baseline does not read GenWarp's model group
            return True
    if key in DEPTH_KEYS_READ_BY and old is not None and new is not None:
        readers = DEPTH_KEYS_READ_BY[key]
        if old.get("depth.source") not in readers and new.get("depth.source") not in readers:
            return True
    return any(key == p or (p.endswith(".") and key.startswith(p)) for p in RESUME_MAY_CHANGE)


def _added_unread(key: str, new: dict[str, Any]) -> bool:
    """A key newer than the checkpoint's config that this GenWarp run does not read (not a change)."""
    return new.get("baseline") is None and (key == "baseline" or key.startswith("inpaint_baseline."))


def resume_config_changes(checkpoint_config_yaml: str, config: Any) -> tuple[list[str], list[str]]:
    """``(refused, allowed)``: the settings that differ between the checkpoint's config and
    ``config``, each as ``"key: old → new"``; ``refused`` are those a resume cannot honour."""
    old = _flat(OmegaConf.to_container(OmegaConf.create(checkpoint_config_yaml), resolve=True))
    new = _flat(OmegaConf.to_container(config, resolve=True))
    refused, allowed = [], []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key, "<absent>"), new.get(key, "<absent>")
        if a != b and not (a == "<absent>" and _added_unread(key, new)):
            (allowed if _may_change(key, old, new) else refused).append(f"{key}: {a!r} → {b!r}")
    return refused, allowed


__all__ = ["LOCK_FILE", "RESUME_MAY_CHANGE", "RUN_ARTEFACTS", "RunFolderError", "check_run_folder",
           "existing_run", "lock_run_folder", "resume_config_changes"]
