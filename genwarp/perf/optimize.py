"""Opt-in sampling speed means, applied to a built pipeline (see docs/performance.md).

Every mean here computes the same function as the plain path up to floating-point rounding
(tests/perf check each on the CPU):

* :func:`fuse_qkv` — one ``to_qkv`` matmul per self-attention (``to_kv`` per cross-attention)
  instead of three (two); our attention processors read the fused projections.
* :func:`to_channels_last` — NHWC convolution weights for both U-Nets, the condition encoder and
  the VAE (cuDNN's preferred layout for bf16/fp16 convolutions).
* :func:`compile_unets` — ``torch.compile`` of both U-Nets (in place, ``Module.compile``); the
  first call per input shape pays the compilation (reported separately by the benchmark).
* ``reference_layout="masked"`` — one SDPA launch per layer for both CFG halves.
* ``cuda_graphs`` — :class:`~genwarp.perf.cuda_graphs.CUDAGraphStepRunner` replays each step's
  model call as one CUDA graph.

Fused projections are copies of ``to_q``/``to_k``/``to_v``: apply them after loading weights, for
sampling only (do not train or save a fused model; :func:`unfuse_qkv` removes them).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from diffusers.models.attention_processor import Attention

from genwarp.models.genwarp_model import GenWarpModel
from genwarp.models.reference_attention import READ_LAYOUTS


@dataclass
class SpeedOptions:
    """Which opt-in means :func:`optimize_pipeline` applies (all off: the plain path)."""

    fuse_qkv: bool = False
    channels_last: bool = False
    compile: bool = False
    compile_backend: str = "inductor"
    compile_mode: str | None = None
    compile_fullgraph: bool = False
    reference_layout: str = "split"
    cuda_graphs: bool = False
    sync_debug: bool = False

    @classmethod
    def optimized(cls, device: torch.device | str, **overrides: Any) -> SpeedOptions:
        """What ``scripts/benchmark.py --optimized`` applies: fused QKV everywhere; channels-last,
        ``torch.compile`` and CUDA graphs on CUDA. The masked CFG layout stays opt-in (its
        predicted effect is negative with flash attention, see docs/performance.md)."""
        cuda = torch.device(device).type == "cuda"
        return cls(**{**dict(fuse_qkv=True, channels_last=cuda, compile=cuda, cuda_graphs=cuda), **overrides})

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _attention_modules(model: GenWarpModel):
    for unet in (model.denoiser, model.preserver):
        for module in unet.modules():
            if isinstance(module, Attention):
                yield module


def fuse_qkv(model: GenWarpModel) -> int:
    """Fuse the q/k/v (cross-attention: k/v) projections of both U-Nets; returns the count.

    Unlike ``UNet2DConditionModel.fuse_qkv_projections`` this keeps our attention processors
    (which read ``attn.to_qkv`` / ``attn.to_kv`` when ``attn.fused_projections`` is set).
    """
    count = 0
    for module in _attention_modules(model):
        module.fuse_projections(fuse=True)
        for name in ("to_qkv", "to_kv"):
            fused = getattr(module, name, None)
            if fused is not None:
                fused.requires_grad_(False)  # a sampling-time copy, never trained
        count += 1
    return count


def unfuse_qkv(model: GenWarpModel) -> None:
    """Back to separate projections; the fused copies are deleted (state dict as before)."""
    for module in _attention_modules(model):
        module.fused_projections = False
        for name in ("to_qkv", "to_kv", "to_added_qkv"):
            if hasattr(module, name):
                delattr(module, name)


def to_channels_last(*modules: torch.nn.Module | None) -> None:
    """NHWC memory format for every 4-D parameter/buffer of ``modules`` (``None`` skipped)."""
    for module in modules:
        if module is not None:
            torch.nn.Module.to(module, memory_format=torch.channels_last)


def compile_unets(model: GenWarpModel, backend: str = "inductor", mode: str | None = None,
                  fullgraph: bool = False, dynamic: bool | None = False) -> None:
    """``torch.compile`` the denoiser and the preserver in place.

    ``dynamic=False`` specialises on every input shape (one compilation per batch layout; the
    benchmark reports it as warm-up). The condition features enter through a ``conv_in`` hook and
    the reference through ``cross_attention_kwargs``; neither recompiles across steps or calls
    (tests/perf/test_optimize.py).
    """
    kwargs: dict[str, Any] = dict(backend=backend, fullgraph=fullgraph, dynamic=dynamic)
    if mode is not None:
        kwargs["mode"] = mode
    for unet in (model.denoiser, model.preserver):
        unet.compile(**kwargs)


def is_compiled(module: torch.nn.Module) -> bool:
    return getattr(module, "_compiled_call_impl", None) is not None


def uncompile_unets(model: GenWarpModel) -> None:
    for unet in (model.denoiser, model.preserver):
        unet._compiled_call_impl = None


def optimize_pipeline(pipe, options: SpeedOptions) -> dict[str, Any]:
    """Apply ``options`` to a :class:`~genwarp.pipelines.GenWarpPipeline` (in place).

    Call once, after loading weights and moving the pipeline to its device and dtype. Returns what
    was applied (for benchmark records).
    """
    from genwarp.pipelines.pipeline_genwarp import SamplingSpeed

    if options.reference_layout not in READ_LAYOUTS:
        raise ValueError(f"reference_layout must be one of {READ_LAYOUTS}, got {options.reference_layout!r}")
    applied: dict[str, Any] = {}
    if options.fuse_qkv:
        applied["fused_attention_layers"] = fuse_qkv(pipe.model)
    if options.channels_last:
        to_channels_last(pipe.model, pipe.codec if isinstance(pipe.codec, torch.nn.Module) else None)
        applied["channels_last"] = True
    if options.compile:
        compile_unets(pipe.model, options.compile_backend, options.compile_mode, options.compile_fullgraph)
        applied["compile"] = {"backend": options.compile_backend, "mode": options.compile_mode}
    runner = None
    if options.cuda_graphs:
        from genwarp.perf.cuda_graphs import CUDAGraphStepRunner

        runner = CUDAGraphStepRunner()
        applied["cuda_graphs"] = True
    pipe.speed = SamplingSpeed(reference_layout=options.reference_layout, step_runner=runner,
                               sync_debug=options.sync_debug)
    applied["reference_layout"] = options.reference_layout
    return applied


__all__ = [
    "SpeedOptions",
    "compile_unets",
    "fuse_qkv",
    "is_compiled",
    "optimize_pipeline",
    "to_channels_last",
    "uncompile_unets",
    "unfuse_qkv",
]
