"""Opt-in sampling speed means compute the same function as the plain path (CPU, tiny model)."""

from __future__ import annotations

import pytest
import torch

from genwarp.geometry import fov_to_intrinsics
from genwarp.perf import (
    CUDAGraphStepRunner,
    EagerGraph,
    SpeedOptions,
    denoise_on_meta,
    fuse_qkv,
    is_compiled,
    optimize_pipeline,
    step_to_meta,
    unfuse_qkv,
)
from genwarp.pipelines.factory import random_pipeline
from genwarp.pipelines.pipeline_genwarp import SamplingSpeed

H = W = 64
STEPS = 3


def _pipe(seed=21):
    p = random_pipeline(seed=seed)
    p.set_progress_bar_config(disable=True)
    return p


def _scene(b=1, n=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(b, 3, H, W, generator=g)
    depth = 1.5 + torch.rand(b, 1, H, W, generator=g)
    K = fov_to_intrinsics(torch.full((b,), 0.9), 1.0)
    T = torch.eye(4).repeat(b, n, 1, 1)
    T[..., 0, 3] = torch.linspace(-0.2, 0.2, n)
    return image, depth, K, K, T


def _sample(pipe, scene, seed=1, **kw):
    b, n = scene[4].shape[:2]
    latents = torch.randn(b * n, 4, H // 8, W // 8, generator=torch.Generator().manual_seed(seed))
    return pipe(*scene, height=H, width=W, num_inference_steps=STEPS, latents=latents, **kw).images


@pytest.fixture(scope="module")
def plain():
    """Reference images of the plain path for two scenes."""
    pipe = _pipe()
    return {s: _sample(pipe, _scene(seed=s)) for s in (0, 1)}


def test_fused_qkv_samples_the_same_images(plain):
    pipe = _pipe()
    assert fuse_qkv(pipe.model) == 64  # 16 blocks × (self + cross) × 2 U-Nets
    torch.testing.assert_close(_sample(pipe, _scene()), plain[0], atol=2e-5, rtol=0)
    unfuse_qkv(pipe.model)
    assert not any(".to_qkv." in k or ".to_kv." in k for k in pipe.model.state_dict())
    torch.testing.assert_close(_sample(pipe, _scene()), plain[0], atol=2e-5, rtol=0)


def test_channels_last_samples_the_same_images(plain):
    pipe = _pipe()
    optimize_pipeline(pipe, SpeedOptions(channels_last=True))
    assert pipe.model.denoiser.conv_in.weight.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(_sample(pipe, _scene()), plain[0], atol=2e-5, rtol=0)


def test_masked_cfg_layout_samples_the_same_images(plain):
    pipe = _pipe()
    optimize_pipeline(pipe, SpeedOptions(reference_layout="masked"))
    torch.testing.assert_close(_sample(pipe, _scene()), plain[0], atol=2e-5, rtol=0)


def test_step_runner_with_eager_graph_reuses_static_buffers_across_calls(plain):
    pipe = _pipe()
    graphs = []
    runner = CUDAGraphStepRunner(graph_factory=lambda: graphs.append(EagerGraph()) or graphs[-1])
    pipe.speed = SamplingSpeed(step_runner=runner)
    for s in (0, 1, 0):  # same signature, new inputs every call: static buffers must be reloaded
        torch.testing.assert_close(_sample(pipe, _scene(seed=s)), plain[s], atol=1e-6, rtol=0)
    assert runner.captures == 1 and graphs[0].replays == 3 * STEPS
    _sample(pipe, _scene(n=2))  # new shapes: captured again
    assert runner.captures == 2


def test_compiled_unets_trace_without_graph_breaks_or_recompiles(plain):
    torch._dynamo.reset()
    pipe = _pipe()
    optimize_pipeline(pipe, SpeedOptions(compile=True, compile_backend="eager", compile_fullgraph=True,
                                         fuse_qkv=True))
    assert is_compiled(pipe.model.denoiser) and is_compiled(pipe.model.preserver)
    first = _sample(pipe, _scene(seed=0))
    with torch._dynamo.config.patch(error_on_recompile=True):  # later steps and calls reuse the graphs
        second = _sample(pipe, _scene(seed=1))
    torch.testing.assert_close(first, plain[0], atol=2e-5, rtol=0)
    torch.testing.assert_close(second, plain[1], atol=2e-5, rtol=0)
    torch._dynamo.reset()


def _record_first_step(pipe, scene, layout="split"):
    """(x, step) of the first denoising step, copied to the meta device before the bank is cleared."""
    seen = {}

    class Stop(Exception):
        pass

    def runner(p, x, t, step):
        seen["x"], seen["step"] = x.to("meta"), step_to_meta(step)
        raise Stop

    pipe.speed = SamplingSpeed(step_runner=runner, reference_layout=layout)
    with pytest.raises(Stop):
        _sample(pipe, scene)
    pipe.speed = SamplingSpeed(reference_layout=layout)
    return seen["x"], seen["step"]


@pytest.mark.parametrize("layout", ["split", "masked"])
def test_denoising_loop_reads_no_device_value_on_the_host(layout):
    pipe = _pipe()
    x, step = _record_first_step(pipe, _scene(b=2, n=2), layout)
    assert step.read.layout == layout
    out = denoise_on_meta(pipe, x, step)  # every host read of a meta tensor raises
    assert out.device.type == "meta" and out.shape == x.shape


def test_meta_check_catches_a_host_read():
    pipe = _pipe()
    x, step = _record_first_step(pipe, _scene())
    pipe.speed = SamplingSpeed(step_runner=lambda p, x, t, s: x * t.item())
    with pytest.raises((RuntimeError, NotImplementedError)):
        denoise_on_meta(pipe, x, step)
    # Timesteps on the device (the loop before this check existed): the DDIM step indexes its host
    # table with a device timestep, a host read.
    pipe.speed = SamplingSpeed()
    pipe.scheduler.timesteps = pipe.scheduler.timesteps.to("meta")
    with pytest.raises((RuntimeError, NotImplementedError)):
        denoise_on_meta(pipe, x, step)


def test_optimized_preset_on_cpu_is_plain_plus_fusion(plain):
    options = SpeedOptions.optimized("cpu")
    assert options.fuse_qkv and not (options.compile or options.cuda_graphs or options.channels_last)
    assert SpeedOptions.optimized("cuda").cuda_graphs
    pipe = _pipe()
    applied = optimize_pipeline(pipe, options)
    assert applied["fused_attention_layers"] == 64
    torch.testing.assert_close(_sample(pipe, _scene()), plain[0], atol=2e-5, rtol=0)
    with pytest.raises(ValueError, match="reference_layout"):
        optimize_pipeline(pipe, SpeedOptions(reference_layout="packed"))
