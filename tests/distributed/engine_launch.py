"""Test-only: run ``scripts/train.py`` under ``accelerate launch`` so that accelerate takes its
FSDP / DeepSpeed path on CPU processes (gloo), which it never does for ``cpu=true`` runs.

    accelerate launch --config_file <fsdp or deepspeed config> tests/distributed/engine_launch.py <overrides>

Accelerate only promotes GPU-type runs to FSDP/DeepSpeed (``AcceleratorState``); with
``trainer.cpu=true`` an FSDP or DeepSpeed launch config silently trains plain DDP. Here
``PartialState._prepare_backend`` answers ``("gloo", MULTI_GPU)`` when there is no CUDA and
``ACCELERATE_TORCH_DEVICE=cpu`` pins the device, so the launch config's engine is the one built.
This patches an accelerate internal (checked against accelerate 1.15): never use it outside tests.
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def patch_accelerate() -> None:
    import torch
    from accelerate.state import PartialState
    from accelerate.utils import DistributedType

    if torch.cuda.is_available():
        return  # a real GPU run: nothing to fake
    os.environ["ACCELERATE_TORCH_DEVICE"] = "cpu"
    original = PartialState._prepare_backend

    def _prepare_backend(self, cpu=False, sagemaker_dp=False, backend=None):
        if int(os.environ.get("LOCAL_RANK", -1)) != -1 and not cpu:
            return "gloo", DistributedType.MULTI_GPU
        return original(self, cpu, sagemaker_dp, backend)

    PartialState._prepare_backend = _prepare_backend


if __name__ == "__main__":
    patch_accelerate()
    script = str(REPO / "scripts" / "train.py")
    sys.argv = [script, *sys.argv[1:]]
    runpy.run_path(script, run_name="__main__")
