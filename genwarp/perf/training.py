"""Training-step benchmark: samples/s, peak memory and MFU of the GenWarp objective.

One step = :class:`~genwarp.models.GenWarpObjective` forward (frozen VAE + CLIP encode, warp,
preserver pass, denoiser pass, loss) + backward + optimizer step, with the preserver, the denoiser
and the condition encoder trainable, as ``genwarp.training.loop`` trains them: fp32 master weights,
``torch.autocast`` in bf16 (``precision="bf16"``), frozen parts cast to bf16, fused AdamW on CUDA.
Every timed step uses the same random draws (noise, timesteps, condition dropout), so the FLOPs
counted once (:func:`genwarp.perf.count_flops`, model FLOPs, without checkpointing recompute) are the
FLOPs of every timed step.
"""

from __future__ import annotations

import gc
import math
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from genwarp.models import GenWarpObjective
from genwarp.models.presets import build_clip, build_vae, randomize_weights
from genwarp.perf.flops import H100_DENSE_BF16_TFLOPS, count_flops, mfu
from genwarp.perf.timing import peak_memory_gb, reset_peak_memory, time_calls
from genwarp.pipelines.factory import random_model

PRECISIONS = ("bf16", "fp32")


def synthetic_batch(batch_size: int, resolution: int, device: torch.device | str, seed: int = 0) -> dict[str, Tensor]:
    """A training batch of random images, positive depth, normalised intrinsics and a small rigid
    motion per pair (the keys ``GenWarpObjective`` reads)."""
    g = torch.Generator().manual_seed(seed)
    b, r = batch_size, resolution
    K = torch.tensor([[0.9, 0.0, 0.5], [0.0, 0.9, 0.5], [0.0, 0.0, 1.0]]).expand(b, 3, 3).clone()
    angle = 0.1 * (torch.rand(b, generator=g) - 0.5)
    T = torch.eye(4).repeat(b, 1, 1)
    T[:, 0, 0], T[:, 0, 2], T[:, 2, 0], T[:, 2, 2] = angle.cos(), angle.sin(), -angle.sin(), angle.cos()
    T[:, :3, 3] = 0.2 * (torch.rand(b, 3, generator=g) - 0.5)
    batch = {
        "src_image": torch.rand(b, 3, r, r, generator=g),
        "tgt_image": torch.rand(b, 3, r, r, generator=g),
        "src_depth": 1.0 + 3.0 * torch.rand(b, 1, r, r, generator=g),
        "src_intrinsics": K,
        "tgt_intrinsics": K.clone(),
        "src_to_tgt": T,
    }
    return {k: v.to(device) for k, v in batch.items()}


@dataclass
class TrainingSetup:
    objective: GenWarpObjective
    optimizer: torch.optim.Optimizer
    device: torch.device
    precision: str
    checkpointing: bool

    @property
    def model(self):
        return self.objective.model

    def autocast(self):
        if self.precision == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return nullcontext()

    def forward_backward(self, batch: dict[str, Tensor], seed: int = 0) -> Tensor:
        with self.autocast():
            loss = self.objective(batch, generator=torch.Generator().manual_seed(seed)).loss
        loss.backward()
        return loss

    def step(self, batch: dict[str, Tensor], seed: int = 0) -> Tensor:
        loss = self.forward_backward(batch, seed)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return loss


def build_training(arch: str, device: torch.device | str, precision: str = "bf16", checkpointing: bool = False,
                   learning_rate: float = 1e-5, seed: int = 0) -> TrainingSetup:
    """A random-weight GenWarp ready to train on ``device`` (tiny: every weight re-drawn; sd15:
    diffusers' default initialisation, which costs the same FLOPs)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    device = torch.device(device)
    tiny = arch == "tiny"
    model = random_model(arch, seed=seed, randomize=tiny).to(device)
    if checkpointing:
        model.enable_gradient_checkpointing()
    model.train()
    frozen_dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    vae, clip = build_vae(arch), build_clip(arch)
    if tiny:
        randomize_weights(vae, seed + 1), randomize_weights(clip, seed + 2)
    for frozen in (vae, clip):
        torch.nn.Module.to(frozen, device=device, dtype=frozen_dtype)
    objective = GenWarpObjective(model, vae, clip, condition_dropout=0.1).to(device)
    kwargs: dict[str, Any] = {"lr": learning_rate}
    if device.type == "cuda":
        kwargs["fused"] = True
    optimizer = torch.optim.AdamW(model.trainable_parameters(), **kwargs)
    return TrainingSetup(objective, optimizer, device, precision, checkpointing)


def model_flops(setup: TrainingSetup, batch: dict[str, Tensor], seed: int = 0) -> int:
    """FLOPs of one forward + backward (the optimizer's elementwise update is not counted)."""
    flops = count_flops(lambda: setup.forward_backward(batch, seed))
    setup.optimizer.zero_grad(set_to_none=True)
    return flops


def measure_training(setup: TrainingSetup, batch_size: int, resolution: int, steps: int = 10, warmup: int = 2,
                     flops: int | None = None, peak_tflops: float = H100_DENSE_BF16_TFLOPS, seed: int = 0) -> dict[str, Any]:
    """Time ``steps`` training steps (after ``warmup``) at ``batch_size``; OOM gives a row with
    ``oom: True`` instead of an exception."""
    device = setup.device
    row: dict[str, Any] = {
        "benchmark": "training",
        "batch_size": batch_size,
        "resolution": resolution,
        "precision": setup.precision,
        "checkpointing": setup.checkpointing,
        "optimizer": "AdamW (fused)" if device.type == "cuda" else "AdamW",
        "trainable_params_m": round(sum(p.numel() for p in setup.model.trainable_parameters()) / 1e6, 3),
    }
    try:
        batch = synthetic_batch(batch_size, resolution, device, seed)
        setup.step(batch, seed)  # optimizer state exists before the peak-memory window
        reset_peak_memory(device)
        latency = time_calls(lambda: setup.step(batch, seed), device, repeats=steps, warmup=warmup)
    except torch.OutOfMemoryError:
        setup.optimizer.zero_grad(set_to_none=True)
        gc.collect()
        torch.cuda.empty_cache()
        return {**row, "oom": True}
    step_s = latency.median_s
    row.update({
        "step_median_s": step_s,
        "step_p90_s": latency.p90_s,
        "samples_per_s": batch_size / step_s,
        "peak_mem_gb": peak_memory_gb(device),
        "steps": steps,
    })
    if flops is not None:
        row["model_tflop_per_step"] = flops / 1e12
        row["achieved_tflops"] = flops / step_s / 1e12
        row["mfu"] = mfu(flops, step_s, peak_tflops)
        row["peak_tflops"] = peak_tflops
    loss = float(setup.step(batch, seed).detach())  # one more step: finite loss, outside the timing
    row["loss_finite"] = math.isfinite(loss)
    return row


__all__ = ["PRECISIONS", "TrainingSetup", "build_training", "measure_training", "model_flops", "synthetic_batch"]
