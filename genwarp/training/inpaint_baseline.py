"""Training of the "SD-Inpainting† fine-tuned on RealEstate10K" baseline (``baseline: inpaint``).

The paper's Table 1 compares GenWarp with a Stable Diffusion inpainting model fine-tuned on
RealEstate10K to fill the holes of the warped source; no public code provides it. This trains it
with the repository's machinery, so the comparison differs from GenWarp's run in the model only:

* the same data stream (:func:`genwarp.training.loop.make_loader`: the datasets, depth sources,
  frame-gap windows and exact resume of ``TrainPairs``), Accelerate set-up
  (:func:`~genwarp.training.loop.make_accelerator`), optimizer and LR schedule, run folders
  (:mod:`genwarp.training.run_folder`), data-only atomic checkpoints and resume
  (:mod:`genwarp.training.checkpoint`: ``model.safetensors`` is the U-Net), logging and trackers;
* each pair becomes (warped source with holes, hole mask) → target, the warp and hole mask those of
  the ``method=warp_inpaint`` evaluation baseline (:class:`genwarp.baselines.BaselineWarp`), so the
  fine-tuned model is evaluated on exactly the inputs it was trained on;
* the step is diffusers' text-to-image fine-tuning step on the 9-channel inpainting input (noisy
  target latent, mask, masked-image latent; :func:`genwarp.baselines.inpaint_conditioning`) with the
  fixed text condition ``inpaint_baseline.prompt`` (empty: the paper gives no prompt), the U-Net
  the only trainable part; the loss is MSE on the scheduler's prediction type (ε for SD
  inpainting), with ``trainer.snr_gamma`` / ``trainer.noise_offset`` as in diffusers' scripts;
* the export, ``<output_dir>/model``, is a ``StableDiffusionInpaintPipeline`` folder
  (:func:`genwarp.baselines.export_inpaint_pipeline`) that
  ``scripts/evaluate.py method=warp_inpaint inpaint.model=<output_dir>/model`` evaluates.

``scripts/train.py`` runs :func:`train_inpaint_baseline` when the config says ``baseline: inpaint``
(``experiment=baseline_inpaint_re10k`` / ``baseline_inpaint_synthetic_tiny``); settings that only
GenWarp reads are refused by :func:`inpaint_baseline_problems`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import DistributedType
from omegaconf import OmegaConf
from torch.nn import functional as F
from tqdm.auto import tqdm

from genwarp.data import stable_seed
from genwarp.training.checkpoint import load_training_state, read_state, save_checkpoint
from genwarp.training.config import TrainConfig, TrainerConfig
from genwarp.training.ema import shards_parameters
from genwarp.training.logging import log_images, log_scalars_text
from genwarp.training.validate import ConfigError, check_resolution_fits, validate_train_config

__all__ = ["INIT_CHOICES", "evaluate_inpaint_baseline", "inpaint_baseline_loss", "inpaint_baseline_problems",
           "train_inpaint_baseline"]

INIT_CHOICES = ("pretrained", "random")
# Trainer settings of the GenWarp objective that this baseline has no counterpart for, with the
# value that means "off": set otherwise they would be silently ignored, so they are refused.
UNUSED_TRAINER = {"condition_dropout": 0.0, "timestep_bias_strategy": "none"}
HOLE_KEYS = ("hole_filter", "hole_max_filter", "hole_min_filter", "mask_dilation", "occlusion_tolerance")


def inpaint_baseline_problems(cfg: TrainConfig, overrides: list[str] | None = None) -> list[str]:
    """Every setting that contradicts ``baseline=inpaint``, as ``key=value (why)``.

    ``model.*`` configures GenWarp and is not read here, so a command-line override of it is
    refused (the baseline's model is ``inpaint_baseline.*``); so are the GenWarp-objective trainer
    settings without a counterpart (:data:`UNUSED_TRAINER`), an unknown ``inpaint_baseline.init``,
    a ``pretrained`` the chosen init would ignore, and a hole-mask setting the hole filter would
    ignore (the ``inpaint.*`` rules of the evaluation).
    """
    b = cfg.inpaint_baseline
    problems: list[str] = []
    for o in overrides or []:
        key = o.split("=", 1)[0].lstrip("+~")
        if key == "model" or key.startswith("model."):
            problems.append(f"{o} (model.* configures GenWarp; baseline=inpaint trains the inpainting U-Net set by "
                            "inpaint_baseline.init / inpaint_baseline.pretrained)")
    for key, off in UNUSED_TRAINER.items():
        value = getattr(cfg.trainer, key)
        if value != off:
            problems.append(f"trainer.{key}={value!r} (a GenWarp-objective setting the inpainting baseline has no "
                            f"counterpart for: set trainer.{key}={off!r})")
    if b.init not in INIT_CHOICES:
        problems.append(f"inpaint_baseline.init={b.init!r} (one of {list(INIT_CHOICES)})")
    elif b.init == "pretrained" and not b.pretrained:
        problems.append("inpaint_baseline.pretrained=None (init=pretrained needs a StableDiffusionInpaintPipeline "
                        "folder or hub id)")
    elif b.init == "random" and b.pretrained:
        problems.append(f"inpaint_baseline.pretrained={b.pretrained!r} (read by init=pretrained only: set "
                        "inpaint_baseline.pretrained=null with init=random)")
    from genwarp.evaluation.methods import check_hole_filter

    try:
        check_hole_filter(b.hole_filter, b.mask_dilation, b.hole_max_filter, b.hole_min_filter)
    except ValueError as err:
        problems.append(str(err).replace("inpaint.", "inpaint_baseline."))
    if not (isinstance(b.occlusion_tolerance, (int, float)) and b.occlusion_tolerance > 0):
        problems.append(f"inpaint_baseline.occlusion_tolerance={b.occlusion_tolerance!r} (must be > 0)")
    return problems


def _check_config(cfg: TrainConfig, overrides: list[str] | None) -> None:
    """Every problem of ``cfg`` for this baseline in one :class:`ConfigError`: the shared trainer /
    data / depth checks (:func:`validate_train_config`), :func:`inpaint_baseline_problems`, and a
    pretrained model that is not on disk or in the Hugging Face cache (named, with how to get it)."""
    if cfg.baseline != "inpaint":
        raise ConfigError(f"train_inpaint_baseline trains baseline=inpaint, got baseline={cfg.baseline!r}")
    problems = inpaint_baseline_problems(cfg, overrides)
    if not problems and cfg.inpaint_baseline.init == "pretrained":  # checked without loading anything
        from genwarp.evaluation.methods import require_inpaint_model

        try:
            require_inpaint_model(cfg.inpaint_baseline.pretrained)
        except FileNotFoundError as err:
            problems.append(f"inpaint_baseline.pretrained: {err}".replace("inpaint.model=",
                                                                          "inpaint_baseline.pretrained="))
    try:
        validate_train_config(cfg)
    except ConfigError as err:
        problems.insert(0, str(err).removeprefix("invalid training config: "))
    if problems:
        raise ConfigError("invalid config for baseline=inpaint: " + "; ".join(problems))


def _build_pipeline(cfg: TrainConfig):
    """The initial inpainting pipeline (pretrained: checked to exist before it loads)."""
    from genwarp.baselines import load_inpaint_pipeline, tiny_inpaint_pipeline

    b = cfg.inpaint_baseline
    if b.init == "random":
        return tiny_inpaint_pipeline(seed=cfg.trainer.seed)
    try:
        return load_inpaint_pipeline(b.pretrained)
    except (OSError, ValueError, KeyError) as err:  # present but unloadable (a malformed model_index.json), or not an inpainting U-Net
        reason = (f"its model_index.json has no {err} entry (not a diffusers StableDiffusionInpaintPipeline folder)"
                  if isinstance(err, KeyError) else str(err).replace("inpaint.model=", "inpaint_baseline.pretrained="))
        raise ConfigError(reason if reason.startswith("inpaint_baseline.pretrained=")
                          else f"inpaint_baseline.pretrained={b.pretrained!r}: {reason}") from None


def inpaint_baseline_loss(unet, vae, noise_scheduler, text: torch.Tensor, warp, pipe, batch: dict[str, Any],
                          trainer: TrainerConfig, generator: torch.Generator) -> torch.Tensor:
    """One batch's loss: the target latent noised at a uniform random timestep, the U-Net fed
    ``[noisy latent, mask, masked-image latent]`` and the text condition, MSE against the
    scheduler's target (ε or v), min-SNR weighted with ``trainer.snr_gamma``."""
    from diffusers.training_utils import compute_snr
    from diffusers.utils.torch_utils import randn_tensor

    from genwarp.baselines import inpaint_conditioning

    device = batch["tgt_image"].device
    dtype = next(vae.parameters()).dtype
    with torch.no_grad():
        warped, hole = warp(batch)
        mask, masked_latents = inpaint_conditioning(pipe, warped.to(dtype), hole, generator)
        target_image = (batch["tgt_image"].to(device, dtype) * 2 - 1).clamp(-1, 1)
        latents = vae.encode(target_image).latent_dist.sample(generator) * vae.config.scaling_factor
    latents, mask, masked_latents = latents.float(), mask.float(), masked_latents.float()
    b = latents.shape[0]
    noise = randn_tensor(latents.shape, generator=generator, device=device)
    if trainer.noise_offset:
        noise = noise + trainer.noise_offset * randn_tensor((b, latents.shape[1], 1, 1), generator=generator,
                                                            device=device)
    t = torch.randint(0, noise_scheduler.config.num_train_timesteps, (b,), generator=generator).to(device)
    noisy = noise_scheduler.add_noise(latents, noise, t)
    kind = noise_scheduler.config.prediction_type
    target = noise if kind == "epsilon" else noise_scheduler.get_velocity(latents, noise, t)
    pred = unet(torch.cat([noisy, mask, masked_latents], dim=1), t,
                encoder_hidden_states=text.expand(b, -1, -1)).sample.float()
    if trainer.snr_gamma is None:
        return F.mse_loss(pred, target.float())
    snr = compute_snr(noise_scheduler, t)
    weight = torch.stack([snr, trainer.snr_gamma * torch.ones_like(snr)], dim=1).min(dim=1)[0]
    weight = weight / snr if kind == "epsilon" else weight / (snr + 1)
    per_item = F.mse_loss(pred, target.float(), reduction="none").mean(dim=(1, 2, 3))
    return (per_item * weight).mean()


def _full_unet(accelerator: Accelerator, model, unet_config):
    """The full U-Net for sampling / export (gathers sharded weights; ``None`` off the main process there)."""
    if accelerator.distributed_type in (DistributedType.FSDP, DistributedType.DEEPSPEED):
        from diffusers import UNet2DConditionModel

        state = accelerator.get_state_dict(model)  # a collective: every process calls it
        if not accelerator.is_main_process:
            return None
        copy = UNet2DConditionModel.from_config(unet_config)
        copy.load_state_dict(state)
        return copy.to(accelerator.device)
    return accelerator.unwrap_model(model)


class _EmaSwap:
    """EMA weights swapped into ``unet`` inside the block (no-op without EMA)."""

    def __init__(self, ema, unet):
        self.ema, self.unet = ema, unet

    def __enter__(self):
        if self.ema is not None:
            self.ema.store(self.unet.parameters())
            self.ema.copy_to(self.unet.parameters())

    def __exit__(self, *exc):
        if self.ema is not None:
            self.ema.restore(self.unet.parameters())


@torch.no_grad()
def _validate(cfg: TrainConfig, accelerator: Accelerator, pipe, unet, ema, val_batch, step: int) -> dict[str, float]:
    """Inpaint the fixed validation pairs with the ``warp_inpaint`` method and the current U-Net
    (EMA weights if on); logs PSNR (whole image and holes) and the image grid."""
    from genwarp.evaluation.methods import WarpInpaintMethod
    from genwarp.evaluation.metrics import psnr
    from genwarp.training.validation import GRID_COLUMNS, GRID_MIN_TILE
    from genwarp.utils import image_grid

    result: dict[str, float] = {}
    if accelerator.is_main_process and unet is not None and val_batch is not None:
        b = cfg.inpaint_baseline
        was_training = unet.training
        unet.eval()
        pipe.unet = unet
        with _EmaSwap(ema, unet), accelerator.autocast():
            method = WarpInpaintMethod(
                inpainter=pipe, device=accelerator.device, prompt=b.prompt, inpaint_size=None,
                num_inference_steps=cfg.trainer.val_steps, guidance_scale=cfg.trainer.val_guidance,
                **{k: getattr(b, k) for k in HOLE_KEYS})
            n = val_batch["src_image"].shape[0]
            gens = [torch.Generator().manual_seed(stable_seed(cfg.trainer.seed, "val", i) % 2**63) for i in range(n)]
            out = method.generate(val_batch, gens)
        unet.train(was_training)
        tgt = val_batch["tgt_image"].float()
        hole = method.hole_mask(out.extras["visibility"])
        holes = psnr(out.images, tgt, hole)
        holes = holes[~torch.isnan(holes)]
        result = {"val/psnr": float(psnr(out.images, tgt).mean()),
                  "val/psnr_warp": float(psnr(out.extras["warped"], tgt).mean()),
                  "val/psnr_holes": float(holes.mean()) if holes.numel() else float("nan"),
                  "val/hole_fraction": float(hole.mean())}
        rows = [[val_batch["src_image"][i], out.extras["warped"][i], out.images[i], tgt[i]] for i in range(n)]
        grid = image_grid(rows, GRID_COLUMNS, min_tile=GRID_MIN_TILE)
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


def train_inpaint_baseline(cfg: TrainConfig, overrides: list[str] | None = None, finish_trackers: bool = True):
    """Fine-tune the inpainting U-Net as ``cfg`` says (see the module docstring); returns a
    :class:`genwarp.training.loop.TrainResult` (``export_dir``: the inpainting pipeline folder)."""
    from diffusers import DDPMScheduler
    from diffusers.training_utils import EMAModel

    from genwarp.baselines import BaselineWarp, encode_prompt, export_inpaint_pipeline
    from genwarp.training.launch import check_engine_accumulation, fill_deepspeed_config
    from genwarp.training.loop import (NO_BAD_STEP, TrainResult, check_finite, init_run_trackers, make_accelerator,
                                       make_loader, make_lr_scheduler, make_optimizer, open_run_folder,
                                       quiet_accelerate_logs, to_device, validation_batch, write_run_config)

    _check_config(cfg, overrides)
    out = Path(cfg.output_dir)
    t, b = cfg.trainer, cfg.inpaint_baseline
    accelerator = make_accelerator(cfg)
    quiet_accelerate_logs()
    if t.ema and shards_parameters(accelerator):
        raise ConfigError(f"trainer.ema=true needs the full U-Net on every process; under "
                          f"{accelerator.distributed_type} it is sharded: train the baseline with trainer.ema=false, "
                          "DDP or DeepSpeed ZeRO-1/2")
    run_lock, resume_from = open_run_folder(cfg, accelerator)
    torch.manual_seed(t.seed)
    pipe = _build_pipeline(cfg)  # before the run folder is written: a model that does not load leaves no run behind
    config_yaml = write_run_config(cfg, accelerator, overrides)

    unet, vae = pipe.unet, pipe.vae
    check_resolution_fits(cfg.data.resolution, pipe.vae_scale_factor, len(unet.config.block_out_channels) - 1)
    device = accelerator.device
    frozen_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(str(accelerator.mixed_precision), torch.float32)
    vae.requires_grad_(False)
    pipe.text_encoder.requires_grad_(False)
    for frozen in (vae, pipe.text_encoder):  # nn.Module.to: diffusers' ModelMixin.to warns on every dtype cast
        torch.nn.Module.to(frozen, device=device, dtype=frozen_dtype)
    text = encode_prompt(pipe, b.prompt, device).float()  # the one text condition, computed once
    noise_scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
    unet_config = dict(unet.config)
    unet.requires_grad_(True)
    unet.train()
    if b.gradient_checkpointing:
        unet.enable_gradient_checkpointing()
    ema = EMAModel(unet.parameters(), decay=t.ema_decay) if t.ema else None
    optimizer = make_optimizer(cfg, list(unet.parameters()), device)
    lr_scheduler = make_lr_scheduler(cfg, optimizer, accelerator.num_processes)
    fill_deepspeed_config(accelerator, t)
    model, optimizer, lr_scheduler = accelerator.prepare(unet, optimizer, lr_scheduler)
    check_engine_accumulation(accelerator, t.gradient_accumulation_steps)
    if ema is not None:
        ema.to(device)
    warp = BaselineWarp(device, **{k: getattr(b, k) for k in HOLE_KEYS})

    step, last_checkpoint, rank_losses = 0, None, []
    if resume_from is not None:
        load_training_state(accelerator, resume_from, model, optimizer, lr_scheduler, ema)
        step = int(read_state(resume_from)["step"])
        last_checkpoint = resume_from
        accelerator.print(f"resumed from {resume_from} at step {step}")

    loader, pairs = make_loader(cfg, accelerator, start_microbatch=step * t.gradient_accumulation_steps)
    val_batch = validation_batch(cfg, pairs) if t.validate_every > 0 and accelerator.is_main_process else None
    init_run_trackers(cfg, accelerator, overrides)

    bar = tqdm(total=t.max_steps, initial=step, disable=not (accelerator.is_main_process and cfg.logger.progress_bar),
               desc="train inpaint baseline", dynamic_ncols=True)
    data_iter = iter(loader)
    metrics: dict[str, float] = {}
    window = {"loss": 0.0, "n": 0, "data_wait": 0.0, "t0": time.perf_counter(), "samples": 0}
    first_bad = torch.full((), NO_BAD_STEP, dtype=torch.long, device=device)
    model.train()
    while step < t.max_steps:
        grad_norm = None
        for micro in range(t.gradient_accumulation_steps):
            t_wait = time.perf_counter()
            batch = to_device(next(data_iter), device)
            window["data_wait"] += time.perf_counter() - t_wait
            with accelerator.accumulate(model):
                generator = torch.Generator().manual_seed(
                    stable_seed(t.seed, "step", step, micro, accelerator.process_index) % 2**63)
                loss = inpaint_baseline_loss(model, vae, noise_scheduler, text, warp, pipe, batch, t, generator)
                if cfg.debug.nan_at_step is not None and step + 1 == cfg.debug.nan_at_step:
                    loss = loss * float("nan")
                first_bad = torch.minimum(first_bad, torch.where(torch.isfinite(loss.detach()), first_bad,
                                                                 torch.full_like(first_bad, step + 1)))
                accelerator.backward(loss)
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
            ema.step(accelerator.unwrap_model(model).parameters())
        bar.update(1)

        due = {"log": step % t.log_every == 0 or step == t.max_steps,
               "checkpoint": step % t.checkpoint_every == 0 or step == t.max_steps,
               "validate": t.validate_every > 0 and (step % t.validate_every == 0 or step == t.max_steps)}
        if any(due.values()):
            check_finite(accelerator.gather(first_bad[None]).min(), last_checkpoint)
        if due["log"]:
            elapsed = max(time.perf_counter() - window["t0"], 1e-9)
            local = torch.as_tensor(window["loss"], dtype=torch.float32, device=device) / max(window["n"], 1)
            rank_losses = accelerator.gather(local.reshape(1)).tolist()
            metrics = {"train/loss": sum(rank_losses) / len(rank_losses), "train/lr": lr_scheduler.get_last_lr()[0],
                       "perf/samples_per_s": window["samples"] / elapsed, "perf/data_wait_s": window["data_wait"]}
            if grad_norm is not None:
                metrics["train/grad_norm"] = float(grad_norm)
            if device.type == "cuda":
                metrics["perf/gpu_mem_gb"] = torch.cuda.max_memory_allocated(device) / 2**30
            accelerator.log(metrics, step=step)
            if accelerator.is_main_process:
                log_scalars_text(metrics, step)
            bar.set_postfix(loss=f"{metrics['train/loss']:.4f}")
            window = {"loss": 0.0, "n": 0, "data_wait": 0.0, "t0": time.perf_counter(), "samples": 0}
        if due["checkpoint"]:
            per_rank = accelerator.gather(torch.tensor([step, pairs.skipped], device=device).unsqueeze(0))
            state = {"microbatches": step * t.gradient_accumulation_steps, "num_processes": accelerator.num_processes,
                     "steps_per_rank": per_rank[:, 0].tolist(), "skipped_pairs_per_rank": per_rank[:, 1].tolist(),
                     "train_loss_per_rank": rank_losses, "baseline": "inpaint"}
            last_checkpoint = save_checkpoint(accelerator, out, step, state, config_yaml, t.keep_last,
                                              model=model, optimizer=optimizer, lr_scheduler=lr_scheduler, ema=ema,
                                              kill_before_commit=cfg.debug.sigkill_in_checkpoint == step)
        if due["validate"]:
            metrics.update(_validate(cfg, accelerator, pipe, _full_unet(accelerator, model, unet_config), ema,
                                     val_batch, step))
        if cfg.debug.sigkill_after_step is not None and step == cfg.debug.sigkill_after_step:
            import os
            import signal

            os.kill(os.getpid(), signal.SIGKILL)
    bar.close()

    export_dir = out / "model"
    full = _full_unet(accelerator, model, unet_config)
    if accelerator.is_main_process and full is not None:
        info = {"baseline": "inpaint", "init": b.init, "pretrained": b.pretrained, "step": step, "prompt": b.prompt,
                "ema": bool(t.ema), "data": cfg.data.name, "resolution": cfg.data.resolution,
                # the evaluation settings that reproduce the training inputs:
                "evaluate_with": {f"inpaint.{k}": v for k, v in warp.settings().items()}
                | {"inpaint.prompt": b.prompt, "inpaint.inpaint_size": cfg.data.resolution}}
        with _EmaSwap(ema, full):
            export_inpaint_pipeline(pipe, full, export_dir, info)
        (out / "final_metrics.json").write_text(json.dumps({"step": step, **metrics}, indent=2))
    accelerator.wait_for_everyone()
    if finish_trackers:
        for tracker in accelerator.trackers:
            tracker.finish()
    if run_lock is not None:
        run_lock.close()
    return TrainResult(output_dir=out, export_dir=export_dir, step=step, last_checkpoint=last_checkpoint,
                       metrics=metrics, trackers=[] if finish_trackers else list(accelerator.trackers))


def evaluate_inpaint_baseline(cfg: TrainConfig, result: Any, *, limit: int | None = None) -> Path:
    """The main job's evaluation step for this baseline (``evaluate_after=true``): the export
    through ``method=warp_inpaint`` (the training's hole settings and prompt, at the training
    resolution, ``trainer.val_steps`` / ``val_guidance``) and ``warp_only``, on the frozen index of
    the training dataset; writes ``<run>/results.md`` and ``results.json``."""
    from accelerate import PartialState

    from genwarp.evaluation.run import run_evaluation
    from genwarp.training.main_job import available_metrics, results_table

    out = Path(result.output_dir)
    b = cfg.inpaint_baseline
    metrics = available_metrics()
    data = OmegaConf.to_container(cfg.data, resolve=True)
    depth = OmegaConf.to_container(cfg.depth, resolve=True)
    device = "cpu" if cfg.trainer.cpu or not torch.cuda.is_available() else "auto"
    summaries = {}
    for method in ("warp_inpaint", "warp_only"):
        eval_cfg = {"method": method, "data": data, "depth": depth, "output_dir": str(out / "eval" / method),
                    "metrics": metrics, "device": device, "limit": limit, "progress": cfg.logger.progress_bar,
                    "overwrite": True,
                    "inpaint": {"model": str(result.export_dir), "prompt": b.prompt,
                                "num_inference_steps": cfg.trainer.val_steps,
                                "guidance_scale": cfg.trainer.val_guidance, "inpaint_size": cfg.data.resolution,
                                **{k: getattr(b, k) for k in HOLE_KEYS}}}
        if PartialState().is_main_process:
            print(f"evaluating {method} on the {data['name']} evaluation index …", flush=True)
        summaries[method] = run_evaluation(OmegaConf.create(eval_cfg))["score"]["summary"]
    if not PartialState().is_main_process:
        return out / "results.md"
    table = results_table(summaries, metrics)
    (out / "results.md").write_text(f"# {cfg.name}: evaluation after {result.step} steps\n\n{table}")
    (out / "results.json").write_text(json.dumps({"step": result.step, "metrics": metrics, "summary": summaries},
                                                 indent=2))
    print(table + f"results: {out / 'results.md'}", flush=True)
    return out / "results.md"

