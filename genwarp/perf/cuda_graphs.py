"""CUDA graphs for the denoising loop: one graph replay per step instead of ~1000 kernel launches.

:class:`CUDAGraphStepRunner` is a ``step_runner`` for :class:`~genwarp.pipelines.GenWarpPipeline`
(``pipe.speed.step_runner``, set by :func:`genwarp.perf.optimize_pipeline` with
``cuda_graphs=True``). It captures :meth:`GenWarpPipeline.guided_prediction` — the denoiser on
both CFG halves, with the reference read, and the guidance combination — on static buffers. The
scheduler step stays outside the graph (its per-step coefficients are host scalars that a graph
would freeze), as does ``scale_model_input``.

* First step of a call with a new *signature* (shapes, dtypes, ``ref_index``, guidance, bank
  size): ``warmup`` eager runs on a side stream (this is also where ``torch.compile`` compiles),
  then capture. Capturing records kernels without running them; every step then replays.
* A later call with the same signature copies its condition features, image prompt and reference
  keys/values into the static buffers and replays the same graph: no re-capture.
* The graph needs a sync-free, allocation-stable step: no host reads of device values and no
  host-to-device copies of pageable memory (the pipeline moves the reference indices to the device
  before the loop and keeps the timesteps' device copy outside; tests/perf check the former on the
  meta device).

The graph backend is injectable: tests use :class:`EagerGraph`, which "replays" by re-running the
function into the captured output tensor, to check the static-buffer plumbing on the CPU.
Measured effect: not measured in this repository yet (docs/performance.md).
"""

from __future__ import annotations

import dataclasses
import weakref
from collections.abc import Callable
from typing import Any, Protocol

import torch
from torch import Tensor

from genwarp.models.reference_attention import ReferenceBank


class GraphBackend(Protocol):
    def capture(self, fn: Callable[[], Tensor]) -> Tensor: ...

    def replay(self) -> None: ...


class CUDAGraph:
    """``torch.cuda.CUDAGraph`` capture after ``warmup`` side-stream runs (the documented recipe)."""

    def __init__(self, warmup: int = 2, pool: Any = None):
        self.warmup = warmup
        self.pool = pool
        self.graph: torch.cuda.CUDAGraph | None = None

    def capture(self, fn: Callable[[], Tensor]) -> Tensor:
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(self.warmup):
                fn()
        torch.cuda.current_stream().wait_stream(stream)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph, pool=self.pool):
            out = fn()
        return out

    def replay(self) -> None:
        self.graph.replay()


class EagerGraph:
    """Stand-in for a CUDA graph (CPU tests): replay re-runs the function into the same tensor."""

    def __init__(self):
        self.fn: Callable[[], Tensor] | None = None
        self.out: Tensor | None = None
        self.captures = 0
        self.replays = 0

    def capture(self, fn: Callable[[], Tensor]) -> Tensor:
        self.fn, self.out = fn, fn()
        self.captures += 1
        return self.out

    def replay(self) -> None:
        self.out.copy_(self.fn())
        self.replays += 1


@dataclasses.dataclass
class _Entry:
    signature: tuple
    step_ref: Any  # weakref to the GuidedStep of the call being served
    x: Tensor
    t: Tensor
    step: Any  # GuidedStep on static buffers
    graph: GraphBackend
    out: Tensor


def _signature(pipe, x: Tensor, t: Tensor, step) -> tuple:
    read = step.read
    bank = None if read is None else (read.layout, tuple(sorted(
        (name, tuple(k.shape), k.dtype) for name, (k, _) in read.bank.projected.items())))
    return (id(pipe), tuple(x.shape), x.dtype, x.device, tuple(t.shape), t.dtype,
            tuple(step.features.shape), step.features.dtype, tuple(step.prompt.shape), step.prompt.dtype,
            step.ref_index, float(step.guidance_scale), bool(step.do_cfg), bank)


def _static_step(step):
    read = step.read
    if read is not None:
        bank = ReferenceBank(round_to=read.bank.round_to)
        bank.projected.update({name: (k.clone(), v.clone()) for name, (k, v) in read.bank.projected.items()})
        read = dataclasses.replace(read, bank=bank)
    return dataclasses.replace(step, features=step.features.clone(), prompt=step.prompt.clone(), read=read)


def _load_step(static, step) -> None:
    static.features.copy_(step.features)
    static.prompt.copy_(step.prompt)
    if step.read is not None:
        mine = static.read.bank.projected
        for name, (k, v) in step.read.bank.projected.items():
            mine[name][0].copy_(k)
            mine[name][1].copy_(v)


class CUDAGraphStepRunner:
    """Replays ``pipe.guided_prediction`` as a captured graph (see the module docstring).

    Args:
        warmup: eager side-stream runs before a capture (≥ 1; compiled models compile here).
        graph_factory: makes the graph backend (default :class:`CUDAGraph`; tests pass
            :class:`EagerGraph`).
    """

    def __init__(self, warmup: int = 2, graph_factory: Callable[[], GraphBackend] | None = None):
        self.warmup = warmup
        self.graph_factory = graph_factory or (lambda: CUDAGraph(warmup=self.warmup))
        self._entry: _Entry | None = None
        self.captures = 0

    def __call__(self, pipe, x: Tensor, t: Tensor, step) -> Tensor:
        entry = self._entry
        if entry is None or entry.step_ref() is not step:  # first step of a pipeline call
            signature = _signature(pipe, x, t, step)
            if entry is None or entry.signature != signature:
                entry = self._capture(pipe, x, t, step, signature)
            else:
                _load_step(entry.step, step)
            entry.step_ref = weakref.ref(step)
            self._entry = entry
        entry.x.copy_(x)
        entry.t.copy_(t)
        entry.graph.replay()
        # The scheduler may keep model outputs (multistep solvers): hand out a copy.
        return entry.out.clone()

    def _capture(self, pipe, x: Tensor, t: Tensor, step, signature: tuple) -> _Entry:
        self.release()
        static_x, static_t, static = x.clone(), t.clone(), _static_step(step)
        graph = self.graph_factory()
        out = graph.capture(lambda: pipe.guided_prediction(static_x, static_t, static))
        self.captures += 1
        return _Entry(signature=signature, step_ref=weakref.ref(step), x=static_x, t=static_t, step=static, graph=graph,
                      out=out)

    def release(self) -> None:
        """Drop the graph and its static buffers (their memory returns to the allocator)."""
        self._entry = None


__all__ = ["CUDAGraph", "CUDAGraphStepRunner", "EagerGraph", "GraphBackend"]
