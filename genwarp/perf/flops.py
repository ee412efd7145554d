"""Model FLOPs and utilisation (MFU), and the issue's anchor figures.

FLOPs come from :class:`torch.utils.flop_counter.FlopCounterMode` (matmuls, convolutions and
attention; elementwise work is not counted, as usual for MFU). PyTorch registers formulas for the
CUDA SDPA kernels only; :func:`count_flops` adds the CPU flash kernel with the same formulas, so a
CPU count equals a GPU count of the same step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode, sdpa_backward_flop_count, sdpa_flop_count

# Anchors of issue 7 (H100 80GB; see docs/performance.md). Constants, not measurements of ours.
SD15_UNET_TFLOP_PER_SAMPLE_64 = 0.80  # one SD-1.5 U-Net forward at 64×64 latents
H100_DENSE_BF16_TFLOPS = 790.0


def _cpu_sdpa_forward(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    return sdpa_flop_count(query_shape, key_shape, value_shape)


def _cpu_sdpa_backward(grad_out_shape, query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    return sdpa_backward_flop_count(grad_out_shape, query_shape, key_shape, value_shape)


def _extra_formulas() -> dict[Any, Callable[..., int]]:
    aten = torch.ops.aten
    extra = {}
    for name, formula in (("_scaled_dot_product_flash_attention_for_cpu", _cpu_sdpa_forward),
                          ("_scaled_dot_product_flash_attention_for_cpu_backward", _cpu_sdpa_backward)):
        op = getattr(aten, name, None)
        if op is not None:
            extra[op] = formula
    return extra


def flop_counter() -> FlopCounterMode:
    """A quiet :class:`FlopCounterMode` that also counts the CPU SDPA kernel."""
    return FlopCounterMode(display=False, custom_mapping=_extra_formulas())


def count_flops(fn: Callable[[], Any]) -> int:
    """FLOPs of one call of ``fn`` (forward and, if ``fn`` calls it, backward)."""
    with flop_counter() as counter:
        fn()
    return int(counter.get_total_flops())


def mfu(flops: float, seconds: float, peak_tflops: float = H100_DENSE_BF16_TFLOPS) -> float:
    """Model-FLOPs utilisation: ``flops / seconds / peak``."""
    if seconds <= 0 or peak_tflops <= 0:
        raise ValueError("seconds and peak_tflops must be positive")
    return flops / seconds / (peak_tflops * 1e12)


def sampling_tflop(steps: int, views: int, cfg: bool = True,
                   unet_tflop: float = SD15_UNET_TFLOP_PER_SAMPLE_64) -> float:
    """The issue's arithmetic: U-Net forwards of a sampling call (reference pass and the
    augmented attention's extra keys not included)."""
    return unet_tflop * steps * views * (2 if cfg else 1)


__all__ = [
    "H100_DENSE_BF16_TFLOPS",
    "SD15_UNET_TFLOP_PER_SAMPLE_64",
    "count_flops",
    "flop_counter",
    "mfu",
    "sampling_tflop",
]
