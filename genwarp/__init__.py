"""genwarp: GenWarp (Seo et al., NeurIPS 2024) — single image to novel views.

Heavy submodules (diffusers, transformers) are imported lazily so that ``import genwarp`` and the
pure geometry code stay light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> submodule that defines it
_LAZY = {
    "GenWarpPipeline": "genwarp.pipelines",
    "GenWarpPipelineOutput": "genwarp.pipelines",
    "GenWarpModel": "genwarp.models",
    "GenWarpObjective": "genwarp.models",
    "ConditionEncoder": "genwarp.models",
    "PixelUnshuffleCodec": "genwarp.models",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'genwarp' has no attribute {name!r}")


if TYPE_CHECKING:  # pragma: no cover
    from genwarp.models import ConditionEncoder, GenWarpModel, GenWarpObjective, PixelUnshuffleCodec
    from genwarp.pipelines import GenWarpPipeline, GenWarpPipelineOutput
