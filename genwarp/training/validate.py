"""Start-up checks of a training config: every bad value is named before anything is built.

Hydra's schema checks types and key names; this checks values (ranges, choices, combinations)
that would otherwise fail late, deep inside a library, or not at all.
"""

from __future__ import annotations

import math
from typing import Any

from genwarp.models.objective import TIMESTEP_BIAS_STRATEGIES as TIMESTEP_BIAS

LR_SCHEDULERS = ("constant", "constant_with_warmup", "cosine", "linear", "cosine_with_restarts", "polynomial")
MIXED_PRECISION = ("no", "bf16", "fp16")


class ConfigError(ValueError):
    """One or more config values are invalid (each named with the key and what is allowed)."""


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def config_problems(cfg: Any) -> list[str]:
    """Every invalid value of a :class:`~genwarp.training.config.TrainConfig`, as ``key=value (why)``."""
    t, d, m = cfg.trainer, cfg.data, cfg.model
    problems: list[str] = []

    def need(ok: bool, key: str, value: Any, why: str) -> None:
        if not ok:
            problems.append(f"{key}={value!r} ({why})")

    for key in ("max_steps", "batch_size", "gradient_accumulation_steps", "checkpoint_every", "log_every"):
        v = getattr(t, key)
        need(isinstance(v, int) and v >= 1, f"trainer.{key}", v, "must be an integer ≥ 1")
    for key in ("warmup_steps", "validate_every", "keep_last"):
        v = getattr(t, key)
        need(isinstance(v, int) and v >= 0, f"trainer.{key}", v, "must be an integer ≥ 0")
    need(_finite(t.learning_rate) and t.learning_rate > 0, "trainer.learning_rate", t.learning_rate,
         "must be a finite number > 0")
    need(_finite(t.weight_decay) and t.weight_decay >= 0, "trainer.weight_decay", t.weight_decay, "must be ≥ 0")
    for key in ("adam_beta1", "adam_beta2"):
        v = getattr(t, key)
        need(_finite(v) and 0 <= v < 1, f"trainer.{key}", v, "must be in [0, 1)")
    need(_finite(t.adam_epsilon) and t.adam_epsilon > 0, "trainer.adam_epsilon", t.adam_epsilon, "must be > 0")
    need(t.max_grad_norm is None or (_finite(t.max_grad_norm) and t.max_grad_norm > 0), "trainer.max_grad_norm",
         t.max_grad_norm, "must be > 0, or null for no clipping")
    need(t.lr_scheduler in LR_SCHEDULERS, "trainer.lr_scheduler", t.lr_scheduler, f"one of {list(LR_SCHEDULERS)}")
    need(t.mixed_precision is None or t.mixed_precision in MIXED_PRECISION, "trainer.mixed_precision",
         t.mixed_precision, f"one of {list(MIXED_PRECISION)}, or null for the accelerate launch config's")
    need(_finite(t.condition_dropout) and 0 <= t.condition_dropout <= 1, "trainer.condition_dropout",
         t.condition_dropout, "must be in [0, 1]")
    need(t.snr_gamma is None or (_finite(t.snr_gamma) and t.snr_gamma > 0), "trainer.snr_gamma", t.snr_gamma,
         "must be > 0, or null for no min-SNR weighting")
    need(_finite(t.noise_offset) and t.noise_offset >= 0, "trainer.noise_offset", t.noise_offset, "must be ≥ 0")
    need(t.timestep_bias_strategy in TIMESTEP_BIAS, "trainer.timestep_bias_strategy", t.timestep_bias_strategy,
         f"one of {list(TIMESTEP_BIAS)}")
    need(_finite(t.timestep_bias_multiplier) and t.timestep_bias_multiplier > 0, "trainer.timestep_bias_multiplier",
         t.timestep_bias_multiplier, "must be > 0")
    need(_finite(t.timestep_bias_portion) and 0 < t.timestep_bias_portion <= 1, "trainer.timestep_bias_portion",
         t.timestep_bias_portion, "must be in (0, 1]")
    need(_finite(t.ema_decay) and 0 < t.ema_decay < 1, "trainer.ema_decay", t.ema_decay, "must be in (0, 1)")
    need(isinstance(t.val_steps, int) and t.val_steps >= 1, "trainer.val_steps", t.val_steps, "must be an integer ≥ 1")
    need(_finite(t.val_guidance) and t.val_guidance >= 0, "trainer.val_guidance", t.val_guidance, "must be ≥ 0")
    need(_finite(t.near) and t.near > 0, "trainer.near", t.near, "must be > 0")
    need(_finite(t.far) and _finite(t.near) and t.far > t.near, "trainer.far", t.far, "must be > trainer.near")

    # The U-Nets halve the latent at least three times and the smallest codec factor is 2, so
    # anything not a multiple of 16 cannot pass through; the exact factor is checked once built.
    need(isinstance(d.resolution, int) and d.resolution >= 16 and d.resolution % 16 == 0, "data.resolution",
         d.resolution, "must be a multiple of 16, ≥ 16")
    need(isinstance(d.min_gap, int) and d.min_gap >= 1, "data.min_gap", d.min_gap, "must be an integer ≥ 1")
    need(isinstance(d.max_gap, int) and d.max_gap >= d.min_gap, "data.max_gap", d.max_gap, "must be ≥ data.min_gap")
    need(d.max_gap_final is None or (isinstance(d.max_gap_final, int) and d.max_gap_final >= d.max_gap),
         "data.max_gap_final", d.max_gap_final, "must be ≥ data.max_gap, or null")
    need(_finite(d.pair_colour_gain) and d.pair_colour_gain >= 0, "data.pair_colour_gain", d.pair_colour_gain,
         "must be ≥ 0 (0: off)")
    for key in ("pairs_per_scene",):
        v = getattr(d, key)
        need(isinstance(v, int) and v >= 1, f"data.{key}", v, "must be an integer ≥ 1")
    for key in ("overfit_pairs", "num_workers", "val_pairs"):
        v = getattr(d, key)
        need(isinstance(v, int) and v >= 0, f"data.{key}", v, "must be an integer ≥ 0")
    need(_finite(cfg.depth.corruption) and cfg.depth.corruption >= 0, "depth.corruption", cfg.depth.corruption,
         "must be ≥ 0")
    need(isinstance(m.num_frequencies, int) and m.num_frequencies >= 0, "model.num_frequencies", m.num_frequencies,
         "must be an integer ≥ 0")
    need(m.latent_scale is None or (_finite(m.latent_scale) and m.latent_scale > 0), "model.latent_scale",
         m.latent_scale, "must be > 0, or null for the codec's own")
    need(cfg.evaluate_limit is None or (isinstance(cfg.evaluate_limit, int) and cfg.evaluate_limit >= 1),
         "evaluate_limit", cfg.evaluate_limit, "must be an integer ≥ 1, or null for all pairs")
    baseline = getattr(cfg, "baseline", None)
    need(baseline in BASELINES, "baseline", baseline, "null (train GenWarp) or 'inpaint' (the SD-inpainting baseline)")
    if baseline is None and getattr(cfg, "inpaint_baseline", None) is not None:
        from genwarp.training.config import InpaintBaselineConfig

        defaults = InpaintBaselineConfig()
        for key in defaults.__dataclass_fields__:
            v = getattr(cfg.inpaint_baseline, key)
            need(v == getattr(defaults, key), f"inpaint_baseline.{key}", v,
                 "read by baseline=inpaint only: set baseline=inpaint (experiment=baseline_inpaint_*) or drop it")
    return problems


BASELINES = (None, "inpaint")


def validate_train_config(cfg: Any) -> None:
    """Raise :class:`ConfigError` naming every invalid value (one line), the depth group's included
    (:func:`genwarp.training.datasets.check_training_depth`: a bad combination, a missing cache or
    depth model)."""
    problems = config_problems(cfg)
    if not problems:  # the depth group names a usable source, and its cache / model exists (nothing loaded)
        from genwarp.training.datasets import DATASETS, check_training_depth

        if cfg.data.name not in DATASETS:
            problems.append(f"data.name={cfg.data.name!r} (one of {list(DATASETS)})")
        else:
            try:
                check_training_depth(cfg.data.name, cfg.depth)
            except (ValueError, OSError) as err:  # OSError: a missing cache folder or depth model
                problems.append(str(err))
    if problems:
        raise ConfigError("invalid training config: " + "; ".join(problems))


def check_resolution_fits(resolution: int, codec_factor: int, unet_downsamples: int) -> None:
    """``data.resolution`` must pass through the codec and every U-Net downsampling evenly."""
    need = codec_factor * 2**unet_downsamples
    if resolution % need:
        raise ConfigError(f"data.resolution={resolution} must be a multiple of {need} for this model "
                          f"(codec factor {codec_factor} × 2^{unet_downsamples} U-Net downsamplings)")


__all__ = ["ConfigError", "check_resolution_fits", "config_problems", "validate_train_config"]
