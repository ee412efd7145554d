"""Noise schedules: the release's DDIM sampler and the matching training schedule.

GenWarp samples with zero-terminal-SNR DDIM, trailing timestep spacing and v-prediction
(release-spec §12), so training uses the same betas (SD's scaled-linear 0.00085–0.012, rescaled to
zero terminal SNR) and the same parameterisation.
"""

from __future__ import annotations

from diffusers import DDIMScheduler, DDPMScheduler

SCHEDULE_KWARGS = dict(
    num_train_timesteps=1000,
    beta_start=0.00085,
    beta_end=0.012,
    beta_schedule="scaled_linear",
    rescale_betas_zero_snr=True,
    timestep_spacing="trailing",
)


def release_ddim_scheduler(prediction_type: str = "v_prediction") -> DDIMScheduler:
    """The release's DDIM configuration (steps_offset 1, no clipping, eta 0 at sampling)."""
    return DDIMScheduler(
        **SCHEDULE_KWARGS,
        steps_offset=1,
        clip_sample=False,
        set_alpha_to_one=True,
        prediction_type=prediction_type,
    )


def training_noise_scheduler(prediction_type: str = "v_prediction") -> DDPMScheduler:
    """The forward process used in training (``add_noise`` and ``get_velocity``)."""
    return DDPMScheduler(**SCHEDULE_KWARGS, clip_sample=False, prediction_type=prediction_type)


__all__ = ["SCHEDULE_KWARGS", "release_ddim_scheduler", "training_noise_scheduler"]
