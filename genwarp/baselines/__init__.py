"""Baselines that are trained (not only evaluated): the paper's "SD-Inpainting† fine-tuned on
RealEstate10K" (:mod:`genwarp.baselines.sd_inpaint`; its training loop is
:mod:`genwarp.training.inpaint_baseline`)."""

from genwarp.baselines.sd_inpaint import (
    DEFAULT_INPAINT_MODEL,
    INFO_FILE,
    BaselineWarp,
    encode_prompt,
    export_inpaint_pipeline,
    inpaint_conditioning,
    load_inpaint_pipeline,
    tiny_inpaint_pipeline,
)

__all__ = [
    "DEFAULT_INPAINT_MODEL",
    "INFO_FILE",
    "BaselineWarp",
    "encode_prompt",
    "export_inpaint_pipeline",
    "inpaint_conditioning",
    "load_inpaint_pipeline",
    "tiny_inpaint_pipeline",
]
