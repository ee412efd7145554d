"""The training loop: Accelerate (single process, DDP, FSDP or DeepSpeed through accelerate
configs), exact resume, logging, validation, final export.

``train(cfg)`` is what ``scripts/train.py`` calls after Hydra composed and checked the config.
Each concern is a small function below; the loop itself only sequences them.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import DistributedType, ProjectConfiguration
from omegaconf import OmegaConf
from torch.utils.data import DataLoader, default_collate
from tqdm.auto import tqdm

from genwarp.data import stable_seed
from genwarp.models import GenWarpObjective
from genwarp.training.build import Components, build_components, make_pipeline
from genwarp.training.checkpoint import load_training_state, read_state, resolve_resume, save_checkpoint
from genwarp.training.config import TrainConfig
from genwarp.training.data import ResumableBatchSampler, TrainPairs
from genwarp.training.datasets import build_dataset
from genwarp.training.ema import TrainingEMA
from genwarp.training.launch import (check_engine_accumulation, check_fsdp_checkpointing, check_gradient_accumulation,
                                     fill_deepspeed_config, resolve_mixed_precision)
from genwarp.training.logging import flatten_config, log_images, log_scalars_text, tracker_setup, wandb_init_kwargs
from genwarp.training.run_folder import RunFolderError, check_run_folder, lock_run_folder, resume_config_changes
from genwarp.training.validate import check_resolution_fits, validate_train_config
from genwarp.training.validation import load_validation_pairs, run_validation


NO_BAD_STEP = 2**62


class NonFiniteLossError(RuntimeError):
    """The loss became NaN/inf: the run stops instead of training on garbage."""


@dataclass
class TrainResult:
    output_dir: Path
    export_dir: Path
    step: int
    last_checkpoint: Path | None
    metrics: dict[str, float]
    trackers: list = field(default_factory=list)  # still open when train(..., finish_trackers=False)


# ---------------------------------------------------------------------------------------------
# set-up
# ---------------------------------------------------------------------------------------------


def make_accelerator(cfg: TrainConfig) -> Accelerator:
    """The Accelerator, with mixed precision and accumulation from one source each
    (:mod:`genwarp.training.launch`); the precision in use is written back into ``cfg``."""
    out = Path(cfg.output_dir)
    precision, source = resolve_mixed_precision(cfg.trainer.mixed_precision)
    check_gradient_accumulation(cfg.trainer.gradient_accumulation_steps)
    log_with = tracker_setup(list(cfg.logger.backends), out, cfg.logger.wandb_mode)
    accelerator = Accelerator(
        mixed_precision=precision,
        cpu=cfg.trainer.cpu,
        gradient_accumulation_steps=cfg.trainer.gradient_accumulation_steps,
        log_with=log_with or None,
        project_config=ProjectConfiguration(project_dir=str(out), logging_dir=str(out / "logs")),
    )
    check_fsdp_checkpointing(accelerator)
    cfg.trainer.mixed_precision = str(accelerator.mixed_precision)  # recorded in config.yaml: the value in use
    accelerator.print(f"mixed precision: {cfg.trainer.mixed_precision} (from {source}); engine: "
                      f"{accelerator.distributed_type.value}, {accelerator.num_processes} process(es); "
                      f"gradient accumulation: {cfg.trainer.gradient_accumulation_steps}")
    return accelerator


def make_optimizer(cfg: TrainConfig, params: list[torch.nn.Parameter], device: torch.device) -> torch.optim.Optimizer:
    t = cfg.trainer
    kwargs = dict(lr=t.learning_rate, betas=(t.adam_beta1, t.adam_beta2), weight_decay=t.weight_decay, eps=t.adam_epsilon)
    if t.use_8bit_adam:
        try:
            import bitsandbytes as bnb
        except ImportError as err:
            raise ImportError("trainer.use_8bit_adam=true needs bitsandbytes (pip install bitsandbytes)") from err
        return bnb.optim.AdamW8bit(params, **kwargs)
    if device.type == "cuda":
        kwargs["fused"] = True
    return torch.optim.AdamW(params, **kwargs)


def make_lr_scheduler(cfg: TrainConfig, optimizer, num_processes: int):
    from diffusers.optimization import get_scheduler

    t = cfg.trainer
    # Accelerate steps a prepared scheduler once per process per optimizer step.
    return get_scheduler(t.lr_scheduler, optimizer, num_warmup_steps=t.warmup_steps * num_processes,
                         num_training_steps=t.max_steps * num_processes)


def make_ema(cfg: TrainConfig, accelerator: Accelerator, model) -> TrainingEMA | None:
    """The EMA of the trainable weights (``None`` with ``trainer.ema=false``); built before
    ``prepare``, while every process still holds the full model (see :mod:`genwarp.training.ema`)."""
    if not cfg.trainer.ema:
        return None
    return TrainingEMA(accelerator, model, decay=cfg.trainer.ema_decay)


def make_loader(cfg: TrainConfig, accelerator: Accelerator, start_microbatch: int) -> tuple[DataLoader, TrainPairs]:
    dataset = build_dataset(cfg.data, cfg.depth, split=cfg.data.train_split, seed=cfg.trainer.seed, train=True)
    widen = cfg.trainer.max_steps * cfg.trainer.batch_size * cfg.trainer.gradient_accumulation_steps * accelerator.num_processes
    pairs = TrainPairs(dataset, seed=cfg.trainer.seed, min_gap=cfg.data.min_gap, max_gap=cfg.data.max_gap,
                       max_gap_final=cfg.data.max_gap_final, widen_items=widen if cfg.data.max_gap_final else 0,
                       pairs_per_scene=cfg.data.pairs_per_scene, limit=cfg.data.overfit_pairs,
                       colour_gain=cfg.data.pair_colour_gain, channel_permute=cfg.data.pair_channel_permute)
    sampler = ResumableBatchSampler(cfg.trainer.batch_size, start=start_microbatch, rank=accelerator.process_index,
                                    world_size=accelerator.num_processes)
    loader = DataLoader(pairs, batch_sampler=sampler, num_workers=cfg.data.num_workers,
                        pin_memory=accelerator.device.type == "cuda",
                        persistent_workers=cfg.data.num_workers > 0)
    return loader, pairs


def to_device(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    return {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def _full_model(accelerator: Accelerator, model, components: Components):
    """A module with the full trainable weights for sampling/export (gathers sharded states)."""
    if accelerator.distributed_type in (DistributedType.FSDP, DistributedType.DEEPSPEED):
        state = accelerator.get_state_dict(model)  # collective: every process calls it
        if not accelerator.is_main_process:
            return None
        copy = type(components.model).from_config(components.model.config)
        copy.load_state_dict(state)
        return copy.to(accelerator.device)
    return accelerator.unwrap_model(model)


# ---------------------------------------------------------------------------------------------
# the loop
# ---------------------------------------------------------------------------------------------


def quiet_accelerate_logs() -> None:
    """accelerate logs every state save/load at INFO: keep its warnings only."""
    for noisy in ("accelerate", "accelerate.accelerator", "accelerate.checkpointing"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def open_run_folder(cfg: TrainConfig, accelerator: Accelerator):
    """Lock ``cfg.output_dir`` (main process), check it against ``resume`` / ``overwrite``, and check
    that a resumed run keeps the settings that decide its results.

    Returns ``(lock, resume_from)``: the lock (``None`` off the main process; hold it for the run)
    and the checkpoint to resume from (``None``: a fresh run). Shared by every training loop.
    """
    out = Path(cfg.output_dir)
    run_lock = None
    if accelerator.is_main_process:
        run_lock = lock_run_folder(out)
        removed = check_run_folder(out, cfg.resume, cfg.overwrite)
        if removed:
            accelerator.print(removed)
    accelerator.wait_for_everyone()
    resume_from = resolve_resume(cfg.resume, out)
    if resume_from is not None:
        refused, allowed = resume_config_changes((resume_from / "config.yaml").read_text(), cfg)
        if refused:
            raise RunFolderError(
                f"resume from {resume_from} continues that run exactly, but these settings differ from its config: "
                f"{'; '.join(refused)}. Drop the overrides, or start a new run (another output_dir=...)")
        if allowed:
            accelerator.print(f"resuming with changed bookkeeping settings: {'; '.join(allowed)}")
    return run_lock, resume_from


def write_run_config(cfg: TrainConfig, accelerator: Accelerator, overrides: list[str] | None) -> str:
    """Write ``config.yaml`` (what the run uses) and ``overrides.yaml`` (Hydra's format: this
    launch's command line) into the run folder; returns the config's YAML."""
    out = Path(cfg.output_dir)
    config_yaml = OmegaConf.to_yaml(cfg, resolve=True)
    if accelerator.is_main_process:
        (out / "config.yaml").write_text(config_yaml)
        if overrides is not None:
            (out / "overrides.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create(list(overrides))))
    accelerator.wait_for_everyone()
    return config_yaml


def validation_batch(cfg: TrainConfig, pairs: TrainPairs) -> dict[str, Any]:
    """The fixed validation pairs: the first of the validation split or index, or, when overfitting,
    the very pairs being fitted."""
    if cfg.data.overfit_pairs:
        return default_collate([pairs[i] for i in range(min(cfg.data.overfit_pairs, cfg.data.val_pairs))])
    val_data = build_dataset(cfg.data, cfg.depth, split=cfg.data.val_split, seed=cfg.trainer.seed, train=False)
    return load_validation_pairs(val_data, cfg.data.val_pairs, cfg.data.val_index)


def init_run_trackers(cfg: TrainConfig, accelerator: Accelerator, overrides: list[str] | None) -> None:
    """Start the configured trackers with the flattened config (wandb: named after the overrides)."""
    init_kwargs = {}
    if "wandb" in cfg.logger.backends and accelerator.is_main_process:
        init_kwargs["wandb"] = wandb_init_kwargs(cfg, overrides, Path(cfg.output_dir))
    accelerator.init_trackers(cfg.logger.project, config=flatten_config(OmegaConf.to_container(cfg, resolve=True)),
                              init_kwargs=init_kwargs)


def train(cfg: TrainConfig, overrides: list[str] | None = None, finish_trackers: bool = True) -> TrainResult:
    """Train as ``cfg`` says; returns where everything was written. ``overrides`` (the command
    line's, from Hydra) are recorded in ``<output_dir>/overrides.yaml`` and name the wandb run.
    ``finish_trackers=False`` leaves the trackers open in ``result.trackers`` (the main job logs its
    evaluation to them, then finishes them)."""
    validate_train_config(cfg)  # every bad value named before anything is built
    out = Path(cfg.output_dir)
    accelerator = make_accelerator(cfg)
    quiet_accelerate_logs()
    run_lock, resume_from = open_run_folder(cfg, accelerator)  # the lock is held until this function returns
    config_yaml = write_run_config(cfg, accelerator, overrides)

    t = cfg.trainer
    torch.manual_seed(t.seed)  # identical initial weights on every process
    components = build_components(cfg.model)
    model = components.model
    codec_factor = getattr(components.codec.config, "factor", None) or 2 ** (
        len(components.codec.config.block_out_channels) - 1)
    check_resolution_fits(cfg.data.resolution, codec_factor, len(model.denoiser.config.block_out_channels) - 1)
    device = accelerator.device
    frozen_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(str(accelerator.mixed_precision), torch.float32)
    for frozen in (components.codec, components.image_encoder):
        if frozen is not None:  # nn.Module.to: diffusers' ModelMixin.to warns on every dtype cast
            torch.nn.Module.to(frozen, device=device, dtype=frozen_dtype)

    ema = make_ema(cfg, accelerator, model)
    if ema is not None and ema.gathered:
        accelerator.print(f"EMA under {accelerator.distributed_type} (sharded parameters): the main process keeps the "
                          "full EMA, gathering the weights at every step")
    optimizer = make_optimizer(cfg, model.trainable_parameters(), device)
    lr_scheduler = make_lr_scheduler(cfg, optimizer, accelerator.num_processes)
    fill_deepspeed_config(accelerator, t)
    model, optimizer, lr_scheduler = accelerator.prepare(model, optimizer, lr_scheduler)
    check_engine_accumulation(accelerator, t.gradient_accumulation_steps)
    if ema is not None:
        ema.to(device)  # checkpointed by save_checkpoint as data (never registered with accelerate: it pickles)
    objective = GenWarpObjective(model, components.codec, components.image_encoder,
                                 condition_dropout=t.condition_dropout, snr_gamma=t.snr_gamma,
                                 noise_offset=t.noise_offset, near=t.near, far=t.far,
                                 timestep_bias_strategy=t.timestep_bias_strategy,
                                 timestep_bias_multiplier=t.timestep_bias_multiplier,
                                 timestep_bias_portion=t.timestep_bias_portion)

    step, last_checkpoint, rank_losses = 0, None, []
    if resume_from is not None:
        load_training_state(accelerator, resume_from, model, optimizer, lr_scheduler, ema)
        step = int(read_state(resume_from)["step"])
        last_checkpoint = resume_from
        accelerator.print(f"resumed from {resume_from} at step {step}")

    loader, pairs = make_loader(cfg, accelerator, start_microbatch=step * t.gradient_accumulation_steps)
    val_batch, lpips_fn = None, None
    if t.validate_every > 0 and accelerator.is_main_process:
        lpips_fn = validation_lpips(device)
        val_batch = validation_batch(cfg, pairs)
    init_run_trackers(cfg, accelerator, overrides)

    bar = tqdm(total=t.max_steps, initial=step, disable=not (accelerator.is_main_process and cfg.logger.progress_bar),
               desc="train", dynamic_ncols=True)
    data_iter = iter(loader)
    metrics: dict[str, float] = {}
    window = {"loss": 0.0, "n": 0, "data_wait": 0.0, "t0": time.perf_counter(), "samples": 0}
    first_bad = torch.full((), NO_BAD_STEP, dtype=torch.long, device=device)  # first non-finite step
    model.train()
    while step < t.max_steps:
        grad_norm, part_norms = None, None
        log_due = (step + 1) % t.log_every == 0 or step + 1 == t.max_steps
        for micro in range(t.gradient_accumulation_steps):
            t_wait = time.perf_counter()
            batch = to_device(next(data_iter), device)
            window["data_wait"] += time.perf_counter() - t_wait
            with accelerator.accumulate(model):
                generator = torch.Generator().manual_seed(
                    stable_seed(t.seed, "step", step, micro, accelerator.process_index) % 2**63)
                result = objective(batch, generator=generator)
                loss = result.loss
                if cfg.debug.nan_at_step is not None and step + 1 == cfg.debug.nan_at_step:
                    loss = loss * float("nan")
                # Recorded on the device (no host sync per step); checked by check_finite() at every
                # log, checkpoint and validation, so no non-finite weights are ever saved.
                first_bad = torch.minimum(first_bad, torch.where(torch.isfinite(loss.detach()), first_bad,
                                                                 torch.full_like(first_bad, step + 1)))
                accelerator.backward(loss)
                if accelerator.sync_gradients and log_due:
                    part_norms = component_grad_norms(accelerator.unwrap_model(model))  # before clipping
                if accelerator.sync_gradients and t.max_grad_norm:
                    grad_norm = accelerator.clip_grad_norm_(model.parameters(), t.max_grad_norm)
                optimizer.step()
                lr_scheduler.step()
                optimizer.zero_grad(set_to_none=True)
            window["loss"] = window["loss"] + loss.detach().float()
            window["n"] += 1
            window["samples"] += batch["src_image"].shape[0] * accelerator.num_processes
        step += 1
        if ema is not None:
            ema.update(model)  # under FSDP / ZeRO-3 a collective: every process calls it
        bar.update(1)

        due = {
            "log": step % t.log_every == 0 or step == t.max_steps,
            "checkpoint": step % t.checkpoint_every == 0 or step == t.max_steps,
            "validate": t.validate_every > 0 and (step % t.validate_every == 0 or step == t.max_steps),
        }
        if any(due.values()):  # every rank gets here at the same steps: the gather is safe
            check_finite(accelerator.gather(first_bad[None]).min(), last_checkpoint)

        if due["log"]:
            elapsed = max(time.perf_counter() - window["t0"], 1e-9)
            # The mean over ranks (each rank's window mean, gathered: a collective, as every rank logs here).
            local = torch.as_tensor(window["loss"], dtype=torch.float32, device=device) / max(window["n"], 1)
            rank_losses = accelerator.gather(local.reshape(1)).tolist()
            metrics = {
                "train/loss": sum(rank_losses) / len(rank_losses),
                "train/lr": lr_scheduler.get_last_lr()[0],
                "perf/samples_per_s": window["samples"] / elapsed,
                "perf/data_wait_s": window["data_wait"],
            }
            if grad_norm is not None:
                metrics["train/grad_norm"] = float(grad_norm)
            if part_norms is not None:
                metrics.update({f"train/grad_norm_{name}": float(v) for name, v in part_norms.items()})
            if device.type == "cuda":
                metrics["perf/gpu_mem_gb"] = torch.cuda.max_memory_allocated(device) / 2**30
            accelerator.log(metrics, step=step)
            if accelerator.is_main_process:
                log_scalars_text(metrics, step)
            bar.set_postfix(loss=f"{metrics['train/loss']:.4f}", sps=f"{metrics['perf/samples_per_s']:.1f}")
            window = {"loss": 0.0, "n": 0, "data_wait": 0.0, "t0": time.perf_counter(), "samples": 0}

        if due["checkpoint"]:
            # Gathered from every process (a collective): evidence that all ranks stepped.
            per_rank = accelerator.gather(torch.tensor([step, pairs.skipped], device=device).unsqueeze(0))
            state = {"microbatches": step * t.gradient_accumulation_steps, "num_processes": accelerator.num_processes,
                     "steps_per_rank": per_rank[:, 0].tolist(), "skipped_pairs_per_rank": per_rank[:, 1].tolist(),
                     "train_loss_per_rank": rank_losses}  # of the last log window
            last_checkpoint = save_checkpoint(accelerator, out, step, state, config_yaml, t.keep_last,
                                              model=model, optimizer=optimizer, lr_scheduler=lr_scheduler, ema=ema,
                                              kill_before_commit=cfg.debug.sigkill_in_checkpoint == step)

        if due["validate"]:
            metrics.update(validate(cfg, accelerator, model, components, ema, val_batch, step, lpips_fn))

        if cfg.debug.sigkill_after_step is not None and step == cfg.debug.sigkill_after_step:
            os.kill(os.getpid(), signal.SIGKILL)
    bar.close()

    export_dir = export(cfg, accelerator, model, components, ema)
    if accelerator.is_main_process:
        (out / "final_metrics.json").write_text(json.dumps({"step": step, **metrics}, indent=2))
    # Finish the trackers but keep the process group: the main job evaluates next, on every rank.
    # (Accelerator.end_training would also destroy it; scripts/train.py does that at the very end.)
    if finish_trackers:
        for tracker in accelerator.trackers:
            tracker.finish()
    if run_lock is not None:
        run_lock.close()
    return TrainResult(output_dir=out, export_dir=export_dir, step=step, last_checkpoint=last_checkpoint,
                       metrics=metrics, trackers=[] if finish_trackers else list(accelerator.trackers))


def component_grad_norms(model) -> dict[str, torch.Tensor]:
    """L2 norm of the gradients of the preserver, the denoiser and the condition encoder (on the
    device; read on log steps only). A preserver or condition encoder whose norm stays orders of
    magnitude below the denoiser's is barely being trained (docs/learning.md)."""
    norms = {}
    for name in ("preserver", "denoiser", "condition_encoder"):
        part = getattr(model, name, None)
        grads = [p.grad.detach().float().norm() for p in part.parameters() if p.grad is not None] if part is not None else []
        if grads:  # sharded engines may hold no local gradient for a part
            norms[name] = torch.linalg.vector_norm(torch.stack(grads))
    return norms


def check_finite(first_bad: torch.Tensor, last_checkpoint: Path | None) -> None:
    """Raise :class:`NonFiniteLossError` if any step so far had a NaN/inf loss (one host read)."""
    bad = int(first_bad)
    if bad < NO_BAD_STEP:
        raise NonFiniteLossError(
            f"non-finite loss at step {bad}; the last good checkpoint is "
            f"{last_checkpoint or 'none (no checkpoint written yet)'}. Lower trainer.learning_rate, "
            "enable trainer.max_grad_norm or switch trainer.mixed_precision, then resume=latest."
        )


def _ema_weights(ema, model):
    """Context manager: EMA weights swapped into ``model`` (no-op without EMA)."""
    if ema is None:
        return nullcontext()

    class _Swap:
        def __enter__(self):
            params = model.trainable_parameters()
            ema.store(params)
            ema.copy_to(params)

        def __exit__(self, *exc):
            ema.restore(model.trainable_parameters())

    return _Swap()


def validation_lpips(device: torch.device):
    """LPIPS (AlexNet) for validation when its package and weights are present, else ``None``."""
    try:
        from genwarp.evaluation.perceptual import build_lpips
        from genwarp.evaluation.weights import MissingWeightsError
    except ImportError:
        return None
    try:
        return build_lpips("alex", "pretrained", device=device)
    except (ImportError, MissingWeightsError) as err:
        logging.getLogger(__name__).warning("validation without val/lpips: %s", str(err).splitlines()[0])
        return None


def validate(cfg: TrainConfig, accelerator: Accelerator, model, components: Components, ema, val_batch,
             step: int, lpips_fn=None) -> dict[str, float]:
    """Sample the fixed validation pairs on the main process; log numbers and the image grid."""
    full = _full_model(accelerator, model, components)
    result: dict[str, float] = {}
    if accelerator.is_main_process and full is not None and val_batch is not None:
        was_training = full.training
        full.eval()
        with _ema_weights(ema, full):
            pipe = make_pipeline(full, components.codec, components.image_encoder)
            result, grid = run_validation(pipe, val_batch, steps=cfg.trainer.val_steps,
                                          guidance=cfg.trainer.val_guidance, seed=cfg.trainer.seed,
                                          near=cfg.trainer.near, far=cfg.trainer.far, lpips_fn=lpips_fn)
        full.train(was_training)
        path = Path(cfg.output_dir) / "val" / f"step_{step:08d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        grid.save(path)
        accelerator.log(result, step=step)
        log_scalars_text(result, step)
        import numpy as np

        log_images(accelerator, "val/grid", np.asarray(grid), step)
        accelerator.print(f"step {step}: " + ", ".join(f"{k} {v:.3f}" for k, v in result.items()) + f" → {path}")
    accelerator.wait_for_everyone()
    return result


def export(cfg: TrainConfig, accelerator: Accelerator, model, components: Components, ema) -> Path:
    """``save_pretrained`` of the whole pipeline (EMA weights if enabled) to ``<output_dir>/model``."""
    export_dir = Path(cfg.output_dir) / "model"
    full = _full_model(accelerator, model, components)
    if accelerator.is_main_process and full is not None:
        with _ema_weights(ema, full):
            pipe = make_pipeline(full, components.codec, components.image_encoder)
            # Frozen parts were cast for mixed precision; export them in float32 like the model.
            pipe.save_pretrained(str(export_dir))
    accelerator.wait_for_everyone()
    return export_dir


__all__ = ["NonFiniteLossError", "TrainResult", "export", "train", "validate"]
