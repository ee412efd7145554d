"""Typed training configuration (the schema Hydra checks every config against).

Each dataclass is one Hydra config group (``model/``, ``data/``, ``depth/``, ``trainer/``,
``logger/``, ``debug/``); :class:`TrainConfig` is the root. Registered in Hydra's ConfigStore as
``train_schema`` and used as the first default of ``configs/train.yaml``, so a misspelt key fails
at composition time, before anything is built, with Hydra naming the key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING


@dataclass
class ModelConfig:
    """What is trained and how it is initialised.

    ``init``: ``random`` (architecture preset, random weights), ``stable_diffusion`` (both U-Nets
    from one SD 1.x / sd-image-variations U-Net at ``pretrained``), ``release`` (the released
    checkpoints at ``pretrained`` / ``release_variant``, fine-tuning) or ``pretrained`` (one of our
    ``save_pretrained`` exports at ``pretrained``).
    """

    architecture: str = "tiny"  # tiny | sd15 (random init and the frozen parts' configs)
    init: str = "random"
    pretrained: str | None = None
    pretrained_subfolder: str | None = "unet"
    release_variant: str = "multi1"
    unet_overrides: dict[str, Any] = field(default_factory=dict)  # e.g. {block_out_channels: [...]}
    codec: str = "vae"  # vae | pixel
    pixel_factor: int = 8  # pixel codec: unshuffle factor (latents 3·f² channels at 1/f resolution)
    # Pixel codec: ``rgb`` or ``opponent`` (luminance + two chroma axes, the chroma times
    # ``pixel_chroma_gain``, the luminance less ``pixel_luminance_offset``): see PixelUnshuffleCodec.
    pixel_colour_basis: str = "rgb"
    pixel_chroma_gain: float = 1.0
    pixel_luminance_offset: float = 0.0
    vae: str | None = None  # dir / hub id of an AutoencoderKL; None: random of the architecture
    vae_subfolder: str | None = None
    image_prompt: str = "clip"  # clip | none
    image_encoder: str | None = None  # dir / hub id of a CLIPVisionModelWithProjection
    image_encoder_subfolder: str | None = None
    condition_kind: str = "coords"  # coords | depth | image | plucker
    # Condition-encoder stage widths (random init only); their count must match the codec's stride
    # (one stage per factor of 2). None: (16, 32, 64, 128) cut to the stride, the release's widths.
    condition_block_channels: list[int] | None = None
    # Random init only: ``zero`` zeroes the condition encoder's output conv (right for pretrained
    # U-Nets, whose behaviour it keeps); ``kaiming`` is a variance-preserving init of all its convs,
    # so the coordinate code reaches a from-scratch model at full strength from the first step.
    condition_encoder_init: str = "zero"
    condition_encoder_gain: float = 1.0  # ``kaiming`` only: scale of the output conv's weights
    # Random init only: start the preserver as a copy of the denoiser's random weights, as the paper
    # starts both streams from one Stable Diffusion U-Net (false: two independent draws).
    preserver_from_denoiser: bool = False
    # Random init only: ``similarity`` starts every self-attention with to_k = to_q scaled by
    # ``attention_init_scale``, so attention begins as a feature-similarity kernel (as a
    # pretrained U-Net's does) and target tokens find source tokens with the same coordinate code
    # from the first step; ``default``: independent draws.
    attention_init: str = "default"
    attention_init_scale: float = 1.0
    num_frequencies: int = 2
    coordinate_normalization: str = "pixel_centers"
    warp_importance: str = "inverse_depth"
    clip_preprocessing: str = "standard"
    latent_scale: float | None = None  # latents = codec(image) · scale; None: the codec's own (VAE 0.18215, pixel 1)
    reference_attention: bool = True
    uncond_uses_reference: bool = False
    train_preserver: bool = True
    train_denoiser: bool = True
    train_condition_encoder: bool = True
    gradient_checkpointing: bool = False


@dataclass
class DataConfig:
    """Training and validation data. ``name``: synthetic | re10k | acid | scannet."""

    name: str = "synthetic"
    root: str | None = None
    layout: str = "chunks"  # re10k / acid: raw | chunks
    frames_root: str | None = None
    train_split: str = "train"
    val_split: str = "test"
    resolution: int = 64
    shim: str = "resize"  # how frames become resolution²: resize | center_crop | random_crop | 16:9_to_square
    min_gap: int = 2
    max_gap: int = 12
    max_gap_final: int | None = None  # widen the gap window linearly up to this over training
    # Training only: one random colour change per pair, on source and target alike — per-channel
    # log-normal gains of σ ``pair_colour_gain`` and, with ``pair_channel_permute``, a random channel
    # order — so the colours can only be read from the source (docs/learning.md 8). 0 / false: off.
    pair_colour_gain: float = 0.0
    pair_channel_permute: bool = False
    pairs_per_scene: int = 4  # consecutive training items drawn from one scene
    overfit_pairs: int = 0  # > 0: train on the first N items of the stream only (debug/overfit)
    num_workers: int = 0
    val_pairs: int = 4  # fixed validation pairs (first entries of val_index or of the val scenes)
    val_index: str | None = None  # a frozen evaluation index JSON for validation pairs
    synthetic: dict[str, Any] = field(default_factory=dict)  # SyntheticSceneConfig overrides


@dataclass
class DepthConfig:
    """Where the source depth of training pairs comes from; every key is used or refused at
    start-up (:func:`genwarp.training.datasets.resolve_training_depth`, before any model loads).

    ``source``: ``gt`` (dataset ground truth; synthetic, ScanNet), ``corrupted_gt`` (synthetic
    ground truth through the MDE-like corruptor with ``corruption``), ``cache``
    (``scripts/precompute_depth.py`` output at ``cache_root``; RealEstate10K / ACID / ScanNet, not
    the synthetic stream of fresh scenes) or ``estimator`` (``estimator`` run on the fly on each
    source frame; default ``zoedepth-nyu``).

    ``scale_alignment``: with ``cache``, ``photometric`` (default) multiplies by each scene's
    ``scale.json`` (written by ``precompute_depth.py --align-pairs``) and ``none`` reads the raw
    cached depth; with ``estimator`` only ``none`` (metric depth as is; on RealEstate10K / ACID,
    whose poses have an arbitrary scale per sequence, a start-up warning: use an aligned cache). With ``gt`` /
    ``corrupted_gt`` it, ``estimator`` and ``cache_root`` must stay unset.
    """

    source: str = "gt"
    corruption: float = 0.0
    cache_root: str | None = None
    estimator: str | None = None  # cache: the model that wrote it (named in errors); estimator: the model run
    scale_alignment: str | None = None  # cache: photometric (default) | none; estimator: none


@dataclass
class TrainerConfig:
    max_steps: int = 1000
    batch_size: int = 4  # per process
    gradient_accumulation_steps: int = 1
    learning_rate: float = 1e-4
    lr_scheduler: str = "constant_with_warmup"  # constant | constant_with_warmup | cosine | linear
    warmup_steps: int = 0
    weight_decay: float = 1e-2
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-8
    use_8bit_adam: bool = False
    max_grad_norm: float | None = 1.0
    # no | bf16 | fp16 | null: the accelerate launch config's value ('no' without one). A value here
    # that contradicts the launch config is refused (genwarp/training/launch.py).
    mixed_precision: str | None = None
    cpu: bool = False  # train on the CPU even where CUDA exists (with several processes: gloo)
    seed: int = 0
    condition_dropout: float = 0.1
    snr_gamma: float | None = None
    noise_offset: float = 0.0
    # Training-timestep bias (diffusers SDXL script semantics): none | later | earlier
    timestep_bias_strategy: str = "none"
    timestep_bias_multiplier: float = 1.0
    timestep_bias_portion: float = 0.25
    ema: bool = False
    ema_decay: float = 0.9999
    checkpoint_every: int = 500
    keep_last: int = 3
    log_every: int = 10
    validate_every: int = 500
    val_steps: int = 20  # DDIM steps when sampling validation images
    val_guidance: float = 3.5
    near: float = 0.01
    far: float = 100.0


@dataclass
class LoggerConfig:
    backends: list[str] = field(default_factory=lambda: ["tensorboard"])  # tensorboard, wandb
    project: str = "genwarp"
    wandb_mode: str = "offline"  # offline | online | disabled
    wandb_name: str | None = None  # None: the experiment name + the overrides that change the recipe
    wandb_group: str | None = None  # None: the experiment name
    wandb_tags: list[str] = field(default_factory=list)  # added to the experiment name and those overrides
    progress_bar: bool = True


@dataclass
class DebugConfig:
    """Failure injection for the resume tests (never set these in real runs)."""

    sigkill_after_step: int | None = None  # SIGKILL the process right after this step completes
    sigkill_in_checkpoint: int | None = None  # SIGKILL while writing the checkpoint of this step
    nan_at_step: int | None = None  # replace the loss by NaN at this step


@dataclass
class InpaintBaselineConfig:
    """The "SD-Inpainting fine-tuned on RealEstate10K" baseline of the paper's Table 1
    (``baseline: inpaint``, :mod:`genwarp.training.inpaint_baseline`): a diffusers inpainting U-Net
    (9 input channels: noisy latent, hole mask, masked-image latent) fine-tuned on
    (warped source with holes, hole mask) → target pairs of the training data stream. The warp and
    the hole mask are those of the ``method=warp_inpaint`` evaluation baseline, so the keys below
    mirror its ``inpaint.*`` knobs and should be given the same values at evaluation.

    ``init``: ``pretrained`` (a ``StableDiffusionInpaintPipeline`` folder or hub id at
    ``pretrained``) or ``random`` (a tiny random inpainting pipeline; tests, no download).
    """

    init: str = "pretrained"  # pretrained | random
    pretrained: str | None = "stable-diffusion-v1-5/stable-diffusion-inpainting"  # mirror of runwayml/…
    prompt: str = ""  # the text condition of every pair (evaluate with the same inpaint.prompt)
    hole_filter: str = "luciddreamer"  # luciddreamer | dilate (as inpaint.hole_filter)
    hole_max_filter: int | None = None  # luciddreamer only (default 9)
    hole_min_filter: int | None = None  # luciddreamer only (default 11)
    mask_dilation: int | None = None  # dilate only (default 2)
    occlusion_tolerance: float = 0.05
    gradient_checkpointing: bool = False


@dataclass
class TrainConfig:
    name: str = "train"
    output_dir: str = MISSING
    resume: str | None = None  # None | latest | <checkpoint dir>
    overwrite: bool = False  # train into a folder holding another run (its artefacts are removed first)
    evaluate_after: bool = False  # run the evaluation step of the main job after training
    evaluate_limit: int | None = None  # evaluate only the first N pairs of the index (None: all)
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    depth: DepthConfig = field(default_factory=DepthConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    debug: DebugConfig = field(default_factory=DebugConfig)
    # null: train GenWarp (genwarp/training/loop.py); inpaint: the SD-inpainting baseline
    # (genwarp/training/inpaint_baseline.py, configured by inpaint_baseline.*; model.* is not read)
    baseline: str | None = None
    inpaint_baseline: InpaintBaselineConfig = field(default_factory=InpaintBaselineConfig)


def register_schema() -> None:
    """Register :class:`TrainConfig` with Hydra's ConfigStore as ``train_schema``."""
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name="train_schema", node=TrainConfig)


__all__ = [
    "DataConfig",
    "DebugConfig",
    "DepthConfig",
    "InpaintBaselineConfig",
    "LoggerConfig",
    "ModelConfig",
    "TrainConfig",
    "TrainerConfig",
    "register_schema",
]
