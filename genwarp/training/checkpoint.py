"""Training checkpoints: atomic, pruned, resumable.

A checkpoint is a folder ``<output_dir>/checkpoints/step_<00000123>/`` holding Accelerate's
``save_state`` output (trainable model weights, optimizer, LR scheduler, grad scaler, RNG states,
registered objects such as the EMA), the resolved config (``config.yaml``) and
``trainer_state.json`` (step, micro-batches consumed, timestamps). It is written as
``step_<n>.tmp`` and renamed only once complete, so a run killed at any moment leaves either the
previous checkpoint or the new one, never half of one; ``*.tmp`` folders are ignored and removed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

STATE_FILE = "trainer_state.json"
_STEP_DIR = re.compile(r"^step_(\d+)$")


def checkpoint_root(output_dir: str | Path) -> Path:
    return Path(output_dir) / "checkpoints"


def list_checkpoints(output_dir: str | Path) -> list[tuple[int, Path]]:
    """Complete checkpoints ``(step, path)`` in ascending step order."""
    root = checkpoint_root(output_dir)
    if not root.is_dir():
        return []
    found = []
    for entry in root.iterdir():
        m = _STEP_DIR.match(entry.name)
        if m and (entry / STATE_FILE).is_file():
            found.append((int(m.group(1)), entry))
    return sorted(found)


def latest_checkpoint(output_dir: str | Path) -> Path | None:
    found = list_checkpoints(output_dir)
    return found[-1][1] if found else None


def resolve_resume(resume: str | None, output_dir: str | Path) -> Path | None:
    """``None`` → no resume; ``latest`` → newest complete checkpoint of this run (or none yet);
    a path → that checkpoint (an error naming it if it is not a complete checkpoint)."""
    if resume in (None, "", "none", "null"):
        return None
    if resume == "latest":
        return latest_checkpoint(output_dir)
    path = Path(resume)
    if not (path / STATE_FILE).is_file():
        raise FileNotFoundError(
            f"resume={resume!r} is not a complete checkpoint folder (no {STATE_FILE} inside); "
            f"complete checkpoints of this run: {[str(p) for _, p in list_checkpoints(output_dir)]}"
        )
    return path


def read_state(path: str | Path) -> dict[str, Any]:
    return json.loads((Path(path) / STATE_FILE).read_text())


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_checkpoint(accelerator, output_dir: str | Path, step: int, state: dict[str, Any], config_yaml: str,
                    keep_last: int, kill_before_commit: bool = False) -> Path:
    """Write the checkpoint of ``step`` atomically (all processes must call this).

    ``kill_before_commit`` SIGKILLs the process after the temporary folder is written and before
    it is renamed (failure injection for tests).
    """
    root = checkpoint_root(output_dir)
    final = root / f"step_{step:08d}"
    tmp = root / f"step_{step:08d}.tmp"
    if accelerator.is_main_process:
        root.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        (tmp / "config.yaml").write_text(config_yaml)
        record = dict(state, step=step, saved_at=time.strftime("%Y-%m-%d %H:%M:%S"))
        with open(tmp / STATE_FILE, "w") as f:  # written last: its presence marks completeness
            json.dump(record, f, indent=2)
            f.flush()
            os.fsync(f.fileno())
        if kill_before_commit:
            import signal

            os.kill(os.getpid(), signal.SIGKILL)
        if final.exists():  # re-running a step after a resume: replace the old copy
            shutil.rmtree(final)
        os.replace(tmp, final)
        _fsync_dir(root)
        prune_checkpoints(output_dir, keep_last)
    accelerator.wait_for_everyone()
    return final


def prune_checkpoints(output_dir: str | Path, keep_last: int) -> None:
    """Keep the newest ``keep_last`` complete checkpoints; remove stale ``*.tmp`` folders."""
    root = checkpoint_root(output_dir)
    if not root.is_dir():
        return
    for entry in root.iterdir():
        if entry.name.endswith(".tmp"):
            shutil.rmtree(entry, ignore_errors=True)
    if keep_last > 0:
        for _, path in list_checkpoints(output_dir)[:-keep_last]:
            shutil.rmtree(path, ignore_errors=True)


__all__ = [
    "STATE_FILE",
    "checkpoint_root",
    "latest_checkpoint",
    "list_checkpoints",
    "prune_checkpoints",
    "read_state",
    "resolve_resume",
    "save_checkpoint",
]
