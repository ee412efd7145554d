"""Launch settings with one source each: what the accelerate launch config and the Hydra config
may both say is resolved here, visibly, before anything is built.

* **Mixed precision** — ``trainer.mixed_precision: null`` (the default) takes the launch config's
  value (``accelerate launch`` exports it as ``ACCELERATE_MIXED_PRECISION``; ``no`` without a
  launcher). A value given in the Hydra config is used where no launch config says otherwise and
  is refused where one says something else: no silent override either way. The precision in use is
  printed at start-up and written into the run's ``config.yaml``.
* **Gradient accumulation** — ``trainer.gradient_accumulation_steps`` is the only source: the loop
  counts micro-batches, the LR schedule and the resume position by it. Accelerate reads
  ``ACCELERATE_GRADIENT_ACCUMULATION_STEPS`` (``--gradient_accumulation_steps``, or
  ``deepspeed_config.gradient_accumulation_steps`` of a launch config) *over* its argument, and
  DeepSpeed's value wins over Accelerate's: a value there that differs is refused; the DeepSpeed
  config is filled from the trainer.
* **DeepSpeed's batch and clipping** — ``train_micro_batch_size_per_gpu`` is ``trainer.batch_size``
  (the loop's loader is never handed to ``prepare``), ``gradient_clipping`` is
  ``trainer.max_grad_norm`` (DeepSpeed clips inside its step; the loop's clip is then a no-op).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from genwarp.training.validate import ConfigError

MIXED_PRECISION_ENV = "ACCELERATE_MIXED_PRECISION"
ACCUMULATION_ENV = "ACCELERATE_GRADIENT_ACCUMULATION_STEPS"
CLIPPING_ENV = "ACCELERATE_GRADIENT_CLIPPING"


def resolve_mixed_precision(trainer_value: str | None, env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """``(precision, where it came from)``; :class:`ConfigError` when the two sources disagree."""
    env = os.environ if env is None else env
    launch = env.get(MIXED_PRECISION_ENV)
    if trainer_value in (None, ""):
        if launch:
            return launch, "the accelerate launch config"
        return "no", "the default (no launch config, trainer.mixed_precision unset)"
    if launch and launch != trainer_value:
        raise ConfigError(
            f"trainer.mixed_precision={trainer_value!r} contradicts the accelerate launch config's "
            f"mixed_precision={launch!r}: drop the override (the launch config's value is used) or launch "
            f"with a config / --mixed_precision {trainer_value}")
    return trainer_value, "trainer.mixed_precision" + (" (= the accelerate launch config)" if launch else "")


def check_gradient_accumulation(trainer_value: int, env: Mapping[str, str] | None = None) -> None:
    """Refuse an accumulation count set by the launcher that differs from the trainer's."""
    env = os.environ if env is None else env
    launch = env.get(ACCUMULATION_ENV)
    if launch not in (None, "", "auto") and int(launch) != trainer_value:
        raise ConfigError(
            f"trainer.gradient_accumulation_steps={trainer_value} contradicts the launcher's gradient accumulation "
            f"({launch}, from --gradient_accumulation_steps or deepspeed_config.gradient_accumulation_steps): "
            "set it in trainer.gradient_accumulation_steps only")


def check_fsdp_checkpointing(accelerator) -> None:
    """Refuse FSDP v1 with ``fsdp_state_dict_type: FULL_STATE_DICT``: its resume is not exact.

    Measured on two gloo CPU processes (tests/distributed): an uninterrupted FSDP v1 run with full
    state-dict checkpoints equals DDP exactly, and the checkpoint of the step before the kill holds
    the same weights and optimizer state, but the first step after ``resume=latest`` moves the
    weights differently (5.8e-5 off DDP's EMA export after one step, the whole update being ~1e-4).
    FSDP v1 with ``SHARDED_STATE_DICT`` and FSDP v2 with either type resume exactly, so those are
    offered instead of a silently drifting run."""
    plugin = getattr(accelerator.state, "fsdp_plugin", None)
    if plugin is None or getattr(plugin, "fsdp_version", 1) != 1:
        return
    kind = getattr(plugin.state_dict_type, "name", str(plugin.state_dict_type))
    if kind.endswith("FULL_STATE_DICT"):
        raise ConfigError("FSDP v1 with fsdp_state_dict_type: FULL_STATE_DICT does not resume exactly (measured "
                          "5.8e-5 off an uninterrupted run after one resumed step): use SHARDED_STATE_DICT "
                          "(configs/accelerate/fsdp.yaml) or fsdp_version: 2, which resume exactly with either type")


def fill_deepspeed_config(accelerator, trainer) -> dict[str, Any] | None:
    """Give DeepSpeed the loop's micro-batch, accumulation and clipping (before ``prepare``);
    returns the DeepSpeed config, ``None`` for other engines."""
    plugin = getattr(accelerator.state, "deepspeed_plugin", None)
    if plugin is None:
        return None
    ds = plugin.deepspeed_config
    for key, value in (("gradient_accumulation_steps", trainer.gradient_accumulation_steps),
                       ("gradient_clipping", float(trainer.max_grad_norm or 0.0))):
        given = ds.get(key, "auto")
        if given != "auto" and given != value:
            raise ConfigError(f"the DeepSpeed config's {key}={given!r} contradicts the trainer's value ({value!r}): "
                              "leave it out of the DeepSpeed config (the trainer's value is used)")
        ds[key] = value
    ds["train_micro_batch_size_per_gpu"] = trainer.batch_size
    accelerator.gradient_accumulation_steps = trainer.gradient_accumulation_steps
    return ds


def check_engine_accumulation(accelerator, trainer_value: int) -> None:
    """After ``prepare``: the engine accumulates exactly as the loop counts."""
    if accelerator.gradient_accumulation_steps != trainer_value:
        raise ConfigError(f"the engine accumulates {accelerator.gradient_accumulation_steps} micro-batches per step, "
                          f"the loop counts trainer.gradient_accumulation_steps={trainer_value}")


__all__ = ["check_engine_accumulation", "check_fsdp_checkpointing", "check_gradient_accumulation", "fill_deepspeed_config",
           "resolve_mixed_precision"]
