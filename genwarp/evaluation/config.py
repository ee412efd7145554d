"""Typed schema of ``configs/evaluate.yaml`` (checked at start-up, before any model is built)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

__all__ = ["EvaluateConfig", "InpaintConfig", "SamplerConfig", "check_config", "register_schema"]

STAGES = ("all", "prepare", "generate", "score")
DTYPES = ("float32", "float16", "bfloat16")


@dataclass
class SamplerConfig:
    """GenWarp sampling (method=genwarp)."""

    num_inference_steps: int = 20
    guidance_scale: float = 3.5
    height: Optional[int] = None  # working resolution; default the dataset's
    width: Optional[int] = None
    near: float = 0.01
    far: float = 100.0
    # per_pair: each pair's noise from its own generator seeded by (seed, pair id), independent of
    # batching; release: every pair starts from the release demo's noise for torch.manual_seed(seed)
    # (the second of two global draws, genwarp.evaluation.methods.release_initial_noise)
    seed_mode: str = "per_pair"


@dataclass
class InpaintConfig:
    """The warping-and-inpainting baseline (method=warp_inpaint)."""

    # The paper's reading ("following LucidDreamer, inverse warping and occlusion mask filtering",
    # SD-Inpainting): the SD 1.5 inpainting model, LucidDreamer's hole mask, no prompt, composited.
    model: Optional[str] = "stable-diffusion-v1-5/stable-diffusion-inpainting"  # folder, hub id (cached), opencv:telea
    prompt: str = ""  # the paper gives none for its baseline
    negative_prompt: Optional[str] = None
    num_inference_steps: int = 50
    guidance_scale: float = 7.5
    inpaint_size: Optional[int] = 512
    hole_filter: str = "luciddreamer"  # luciddreamer: max filter then min filter of the warped pixels | dilate
    hole_max_filter: Optional[int] = None  # luciddreamer only (default 9)
    hole_min_filter: Optional[int] = None  # luciddreamer only (default 11)
    mask_dilation: Optional[int] = None  # dilate only (default 2)
    occlusion_tolerance: float = 0.05
    composite: bool = True  # keep the warped pixels outside the hole exactly


DEPTH_SOURCES = ("auto", "gt", "corrupted_gt", "cache", "estimator", "none")


@dataclass
class EvaluateConfig:
    """``data`` and ``depth`` are the shared config groups ``configs/data/*.yaml`` and
    ``configs/depth/*.yaml`` (also used by training); evaluation reads ``data.name``, ``data.root``,
    ``data.layout``, ``data.frames_root``, ``data.resolution``, ``data.val_split``,
    ``data.val_index`` and ``depth.source``, ``depth.corruption``, ``depth.cache_root``,
    ``depth.estimator``, ``depth.scale_alignment`` (:mod:`genwarp.depth.sources`: ``auto`` is the
    default, per dataset; a depth key that would be ignored is refused). Evaluation always
    centre-crops real datasets to ``data.resolution``².
    """

    method: str = "genwarp"  # genwarp | warp_only | warp_inpaint | oracle | none (references only)
    data: dict[str, Any] = field(default_factory=lambda: {"name": "synthetic"})
    depth: dict[str, Any] = field(default_factory=lambda: {"source": "auto"})  # genwarp.depth.sources
    name: Optional[str] = None  # row label in results and paper tables (default: method); e.g. for foreign predictions
    stage: str = "all"  # all = generate + score; prepare = references only; generate; score
    index: Optional[str] = None  # evaluation index JSON; default data.val_index, else data/eval_index_<name>_test.json
    output_dir: str = "outputs/eval/${method}_${data.name}"
    overwrite: bool = False  # regenerate a folder whose images were made with other settings (settings.json)
    predictions: Optional[str] = None  # folder of <id>.png to score (default <output_dir>/images)
    results_dir: Optional[str] = None  # where score writes (default: output_dir, or the predictions folder if given)
    checkpoint: Optional[str] = None  # method=genwarp: our export folder (GenWarpPipeline.from_pretrained)
    release_root: Optional[str] = None  # method=genwarp: the authors' release folder
    release_variant: str = "multi1"
    metrics: list[str] = field(default_factory=lambda: ["psnr", "ssim", "lpips", "fid"])
    lpips_backbone: str = "pretrained"  # pretrained | random (columns then named *_random)
    weights_dir: Optional[str] = None  # extra folder searched for metric backbone weights
    batch_size: int = 4
    score_batch_size: int = 8
    num_workers: int = 0
    seed: int = 0
    limit: Optional[int] = None  # evaluate the first N pairs of the index only
    device: str = "auto"  # auto (Accelerate's) | cpu | cuda
    dtype: str = "float32"
    save_warped: bool = True
    progress: bool = True
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    inpaint: InpaintConfig = field(default_factory=InpaintConfig)


def register_schema() -> None:
    """Register :class:`EvaluateConfig` as ``evaluate_schema`` in Hydra's ConfigStore."""
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name="evaluate_schema", node=EvaluateConfig)


def check_config(cfg: Any) -> None:
    """Semantic checks the types cannot express (raises ``ValueError`` naming the bad value)."""
    from genwarp.evaluation.datasets import DATASETS
    from genwarp.evaluation.methods import METHODS
    from genwarp.evaluation.suite import check_metric_names

    methods = [*METHODS, "none"]
    if cfg.method not in methods:
        raise ValueError(f"method={cfg.method!r} is not one of {methods}")
    name = (cfg.data or {}).get("name")
    if name not in DATASETS:
        raise ValueError(f"data.name={name!r} is not one of {list(DATASETS)} (choose data=<{'|'.join(DATASETS)}>)")
    source = (cfg.depth or {}).get("source", "gt")
    if source not in DEPTH_SOURCES:
        raise ValueError(f"depth.source={source!r} is not one of {list(DEPTH_SOURCES)}")
    if float((cfg.depth or {}).get("corruption", 0.0) or 0.0) < 0:
        raise ValueError(f"depth.corruption must be ≥ 0, got {cfg.depth.get('corruption')}")
    if cfg.stage not in STAGES:
        raise ValueError(f"stage={cfg.stage!r} is not one of {list(STAGES)}")
    if cfg.dtype not in DTYPES:
        raise ValueError(f"dtype={cfg.dtype!r} is not one of {list(DTYPES)}")
    if cfg.lpips_backbone not in ("pretrained", "random"):
        raise ValueError(f"lpips_backbone={cfg.lpips_backbone!r} must be 'pretrained' or 'random'")
    check_metric_names(cfg.metrics)
    if cfg.sampler.seed_mode not in ("per_pair", "release"):
        raise ValueError(f"sampler.seed_mode={cfg.sampler.seed_mode!r} is not one of ['per_pair', 'release']")
    if cfg.method == "none" and cfg.stage in ("all", "generate"):
        raise ValueError("method=none writes references only: use stage=prepare (or stage=score on a predictions folder)")
    if cfg.method == "genwarp" and cfg.stage in ("all", "generate") and bool(cfg.checkpoint) == bool(cfg.release_root):
        raise ValueError("method=genwarp needs exactly one of checkpoint=<export folder> or release_root=<release folder>")
    if cfg.method == "warp_inpaint" and cfg.stage in ("all", "generate") and not cfg.inpaint.model:
        raise ValueError("method=warp_inpaint needs inpaint.model=<StableDiffusionInpaintPipeline folder>")
    if cfg.method == "warp_inpaint":
        from genwarp.evaluation.methods import check_hole_filter

        p = cfg.inpaint
        check_hole_filter(p.hole_filter, p.mask_dilation, p.hole_max_filter, p.hole_min_filter)
    for name in ("batch_size", "score_batch_size"):
        if getattr(cfg, name) < 1:
            raise ValueError(f"{name} must be ≥ 1, got {getattr(cfg, name)}")
    if cfg.limit is not None and cfg.limit < 1:
        raise ValueError(f"limit must be ≥ 1 or null, got {cfg.limit}")
