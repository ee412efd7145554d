"""Performance: opt-in sampling speed means, CUDA graphs, host-sync checks, FLOP counting and
the benchmark building blocks behind ``scripts/benchmark.py`` (see docs/performance.md).

Nothing here changes the default sampling path; each mean computes the same function as the
plain path up to floating-point rounding (tests/perf).
"""

from genwarp.perf.cuda_graphs import CUDAGraph, CUDAGraphStepRunner, EagerGraph
from genwarp.perf.flops import (
    H100_DENSE_BF16_TFLOPS,
    SD15_UNET_TFLOP_PER_SAMPLE_64,
    count_flops,
    flop_counter,
    mfu,
    sampling_tflop,
)
from genwarp.perf.optimize import (
    SpeedOptions,
    compile_unets,
    fuse_qkv,
    is_compiled,
    optimize_pipeline,
    to_channels_last,
    uncompile_unets,
    unfuse_qkv,
)
from genwarp.perf.sync import denoise_on_meta, step_to_meta
from genwarp.perf.timing import Latency, peak_memory_gb, percentile, reset_peak_memory, synchronize, time_calls

__all__ = [
    "CUDAGraph",
    "CUDAGraphStepRunner",
    "EagerGraph",
    "H100_DENSE_BF16_TFLOPS",
    "Latency",
    "SD15_UNET_TFLOP_PER_SAMPLE_64",
    "SpeedOptions",
    "compile_unets",
    "count_flops",
    "denoise_on_meta",
    "flop_counter",
    "fuse_qkv",
    "is_compiled",
    "mfu",
    "optimize_pipeline",
    "peak_memory_gb",
    "percentile",
    "reset_peak_memory",
    "sampling_tflop",
    "step_to_meta",
    "synchronize",
    "time_calls",
    "to_channels_last",
    "uncompile_unets",
    "unfuse_qkv",
]
