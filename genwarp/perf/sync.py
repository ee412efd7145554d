"""Host synchronisation checks for the denoising loop, with and without a GPU.

* CPU (any machine): :func:`denoise_on_meta` runs :meth:`GenWarpPipeline.denoise` with the model
  and every per-call tensor on PyTorch's ``meta`` device, which has shapes but no data. Anything
  that reads a device value on the host — ``.item()``, ``.tolist()``, ``bool(t)``, ``nonzero``,
  indexing a host tensor with a device index, ``.cpu()`` — raises there, exactly where a CUDA run
  would stall the host until the GPU catches up. Host-side values (the scheduler's timesteps and
  coefficients) stay on the CPU, as on a GPU run.
* CUDA: ``SamplingSpeed(sync_debug=True)`` runs the loop under
  ``torch.cuda.set_sync_debug_mode("error")``.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor

from genwarp.models.reference_attention import ReferenceBank

META = torch.device("meta")


def step_to_meta(step):
    """A copy of a :class:`~genwarp.pipelines.pipeline_genwarp.GuidedStep` on the meta device."""
    read = step.read
    if read is not None:
        bank = ReferenceBank(round_to=read.bank.round_to)
        bank.projected.update({n: (k.to(META), v.to(META)) for n, (k, v) in read.bank.projected.items()})
        read = dataclasses.replace(read, bank=bank).to(META)
    return dataclasses.replace(step, features=step.features.to(META), prompt=step.prompt.to(META), read=read)


def denoise_on_meta(pipe, x: Tensor, step) -> Tensor:
    """Run ``pipe.denoise`` on the meta device (moves ``pipe.model`` there: its weights are gone
    afterwards; use a throw-away pipeline). Returns the (meta) result; raises on a host read."""
    torch.nn.Module.to(pipe.model, META)
    with torch.no_grad():
        return pipe.denoise(x.to(META), step_to_meta(step))


__all__ = ["denoise_on_meta", "step_to_meta"]
