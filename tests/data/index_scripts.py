"""Helpers of the evaluation-index tests: run ``scripts/make_eval_index.py`` and ``scripts/evaluate.py``
in-process, as a user would from the command line."""

from __future__ import annotations

import runpy
import sys
from importlib import util
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MAKE_EVAL_INDEX = REPO / "scripts" / "make_eval_index.py"
EVALUATE = REPO / "scripts" / "evaluate.py"


def make_index(*args: str) -> int:
    """``python scripts/make_eval_index.py <args>``; its exit code."""
    spec = util.spec_from_file_location("make_eval_index", MAKE_EVAL_INDEX)
    mod = util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.main(list(args))


def re10k_evaluate_args(root: Path | str, index: Path | str, out: Path | str, resolution: int) -> list[str]:
    """The overrides every index test evaluates with: the RealEstate10K fixture in its raw layout,
    exact depth, PSNR only, on the CPU, no progress bars."""
    return ["data=re10k", f"data.root={root}", "data.layout=raw", f"data.resolution={resolution}", "depth=gt",
            "depth.source=none", f"index={index}", f"output_dir={out}", "metrics=[psnr]", "progress=false",
            "device=cpu"]


def run_evaluate(monkeypatch, *overrides: str) -> None:
    """``python scripts/evaluate.py <overrides>`` (Hydra reads ``sys.argv``)."""
    monkeypatch.setattr(sys, "argv", [str(EVALUATE), *overrides])
    runpy.run_path(str(EVALUATE), run_name="__main__")
