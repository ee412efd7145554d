"""Sampling: the diffusers-style GenWarp pipeline and its input checks."""

from pathlib import Path

from genwarp.pipelines.pipeline_genwarp import GenWarpPipeline, GenWarpPipelineOutput

# For diffusers: DiffusionPipeline.from_pretrained(export, custom_pipeline=CUSTOM_PIPELINE, trust_remote_code=True)
CUSTOM_PIPELINE = str(Path(__file__).with_name("diffusers_entry.py"))

__all__ = ["CUSTOM_PIPELINE", "GenWarpPipeline", "GenWarpPipelineOutput"]
