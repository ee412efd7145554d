"""The file diffusers' ``custom_pipeline`` loads: it only imports the installed GenWarpPipeline.

    from diffusers import DiffusionPipeline
    from genwarp.pipelines import CUSTOM_PIPELINE
    pipe = DiffusionPipeline.from_pretrained(export, custom_pipeline=CUSTOM_PIPELINE, trust_remote_code=True)

It lives in the package, not in exports: exports are data (safetensors + JSON), never code.
"""

from genwarp.pipelines.pipeline_genwarp import GenWarpPipeline

__all__ = ["GenWarpPipeline"]
