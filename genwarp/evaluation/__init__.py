"""Evaluation: metrics as pure functions over image tensors, the evaluator (generate → score →
tables), the baselines (warp-only, warp-and-inpaint, oracle) and the paper's analyses.

Heavy pieces (diffusers pipelines, torchmetrics, torchvision) are imported lazily by the modules
that need them, so ``from genwarp.evaluation import psnr`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "psnr": "genwarp.evaluation.metrics",
    "ssim": "genwarp.evaluation.metrics",
    "ssim_map": "genwarp.evaluation.metrics",
    "masked_mean": "genwarp.evaluation.metrics",
    "LPIPS": "genwarp.evaluation.perceptual",
    "build_lpips": "genwarp.evaluation.perceptual",
    "FIDMetric": "genwarp.evaluation.fid",
    "MetricSuite": "genwarp.evaluation.suite",
    "KNOWN_METRICS": "genwarp.evaluation.suite",
    "MissingWeightsError": "genwarp.evaluation.weights",
    "resolve_weights": "genwarp.evaluation.weights",
    "EvalLayout": "genwarp.evaluation.layout",
    "generate": "genwarp.evaluation.evaluator",
    "score": "genwarp.evaluation.evaluator",
    "METHODS": "genwarp.evaluation.methods",
    "build_method": "genwarp.evaluation.methods",
    "run_evaluation": "genwarp.evaluation.run",
    "EvaluateConfig": "genwarp.evaluation.config",
    "analyze_attention": "genwarp.evaluation.analysis",
    "AttentionRecorder": "genwarp.evaluation.attention",
    "record_attention": "genwarp.evaluation.attention",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'genwarp.evaluation' has no attribute {name!r}")
