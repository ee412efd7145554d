"""Sampling: the diffusers-style GenWarp pipeline and its input checks."""

from genwarp.pipelines.pipeline_genwarp import GenWarpPipeline, GenWarpPipelineOutput

__all__ = ["GenWarpPipeline", "GenWarpPipelineOutput"]
