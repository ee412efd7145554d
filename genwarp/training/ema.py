"""Exponential moving average of the trainable weights, under every engine.

Where every process holds the full parameters (one process, DDP, DeepSpeed ZeRO-1/2) the EMA is
diffusers' :class:`~diffusers.training_utils.EMAModel` on those parameters, on every process.

Where the engine shards them (FSDP v1 and v2, DeepSpeed ZeRO-3) no process holds a full
parameter between steps, so the main process keeps the one full EMA and, at every EMA step, the
full trainable weights are gathered through ``Accelerator.get_state_dict`` (a collective: every
process calls :meth:`TrainingEMA.update`). The update itself is the same ``EMAModel.step``, so a
sharded run's EMA equals a DDP run's (``tests/distributed/test_engines.py``). The cost is one
full-weight gather per step and a full fp32 EMA copy on the main process's device: for
SD-1.5's two U-Nets about 7 GB and one extra all-gather per step; where that is too much, train
with ``trainer.ema=false`` or ZeRO-2.
"""

from __future__ import annotations

from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import DistributedType


def shards_parameters(accelerator: Accelerator) -> bool:
    """True where no process holds the full parameters between steps (FSDP, ZeRO-3)."""
    if accelerator.distributed_type == DistributedType.FSDP:
        return True
    if accelerator.distributed_type == DistributedType.DEEPSPEED:
        return int(accelerator.state.deepspeed_plugin.zero_stage) >= 3
    return False


class TrainingEMA:
    """EMA of a :class:`~genwarp.models.GenWarpModel`'s trainable parameters.

    Built before ``accelerator.prepare`` from the (then full) model; :meth:`update` takes the
    prepared model after each optimizer step. ``store`` / ``copy_to`` / ``restore`` /
    ``state_dict`` / ``load_state_dict`` are ``EMAModel``'s, on the processes that hold the EMA
    (all of them, or only the main one where the engine shards); elsewhere they do nothing.
    """

    def __init__(self, accelerator: Accelerator, model: torch.nn.Module, decay: float):
        from diffusers.training_utils import EMAModel

        self.accelerator = accelerator
        self.gathered = shards_parameters(accelerator)
        trainable = model.trainable_parameters()
        ids = {id(p) for p in trainable}
        # Names in parameter order: trainable_parameters() filters parameters() in that order, so the
        # gathered weights line up with the EMA's shadow list and with any copy's trainable_parameters().
        self.names = [name for name, p in model.named_parameters() if id(p) in ids]
        holds = not self.gathered or accelerator.is_main_process
        self.inner: Any = EMAModel(trainable, decay=decay) if holds else None

    @property
    def holds_weights(self) -> bool:
        """Whether this process keeps the EMA (every process, or the main one under sharding)."""
        return self.inner is not None

    def update(self, prepared_model: torch.nn.Module) -> None:
        """One EMA step from the current weights (every process must call it under sharding)."""
        if not self.gathered:
            self.inner.step(self.accelerator.unwrap_model(prepared_model).trainable_parameters())
            return
        state = self.accelerator.get_state_dict(prepared_model)  # collective; full weights on the main process
        if self.inner is None:
            return
        device = self.inner.shadow_params[0].device
        # requires_grad marks them as trained: EMAModel.step copies parameters that are not, instead of averaging.
        current = [state[name].to(device=device, dtype=torch.float32).requires_grad_(True) for name in self.names]
        self.inner.step(current)

    def to(self, device: torch.device | str) -> TrainingEMA:
        if self.inner is not None:
            self.inner.to(device)
        return self

    def store(self, parameters) -> None:
        if self.inner is not None:
            self.inner.store(parameters)

    def copy_to(self, parameters) -> None:
        if self.inner is not None:
            self.inner.copy_to(parameters)

    def restore(self, parameters) -> None:
        if self.inner is not None:
            self.inner.restore(parameters)

    def state_dict(self) -> dict[str, Any]:
        if self.inner is None:
            raise RuntimeError("this process holds no EMA (sharded engine: only the main process keeps it)")
        return self.inner.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.inner is not None:
            self.inner.load_state_dict(state)


__all__ = ["TrainingEMA", "shards_parameters"]
