"""Helpers shared by the inference tests (run the scripts as a user would, write camera files)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def script_env() -> dict[str, str]:
    """Environment for subprocesses: offline, one thread each (the CI machine has 2 shared cores)."""
    return dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
                PYTHONUNBUFFERED="1", GRADIO_ANALYTICS_ENABLED="False")


def run_script(script: str, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(REPO / "scripts" / script), *map(str, args)]
    return subprocess.run(cmd, cwd=REPO, env=script_env(), capture_output=True, text=True, timeout=timeout)


def write_camera_file(path: Path, pairs: list[dict], k_scale: float = 1.0) -> Path:
    """A RealEstate10K-style file: row 0 the source camera, then each pair's target (intrinsics ×
    ``k_scale``: 64 makes them pixel-like, which the reader must refuse)."""
    from genwarp.testing.fixtures import camera_row

    def k4(K):
        return tuple(k_scale * float(v) for v in (K[0, 0], K[1, 1], K[0, 2], K[1, 2]))

    rows = [camera_row(0, k4(pairs[0]["src_intrinsics"]), pairs[0]["src_c2w"].double().numpy())]
    rows += [camera_row(1000 * (i + 1), k4(p["tgt_intrinsics"]), p["tgt_c2w"].double().numpy())
             for i, p in enumerate(pairs)]
    path.write_text("https://www.youtube.com/watch?v=synthetic\n" + "\n".join(rows) + "\n")
    return path
