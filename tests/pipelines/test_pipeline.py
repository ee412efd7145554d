"""GenWarpPipeline on tiny random models: views, schedulers, dtypes, checkpoints, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from diffusers import DPMSolverMultistepScheduler, EulerDiscreteScheduler

from genwarp import GenWarpPipeline
from genwarp.pipelines.factory import random_pipeline
from pipeline_helpers import H, W, _latents, _scene


@pytest.fixture(scope="module")
def pipe():
    p = random_pipeline(seed=11)
    p.set_progress_bar_config(disable=True)
    return p


def test_outputs_have_the_documented_shapes_and_ranges(pipe):
    out = pipe(*_scene(), height=H, width=W, num_inference_steps=3, latents=_latents(2))
    assert out.images.shape == (2, 3, H, W) and out.warped.shape == (2, 3, H, W)
    assert out.visibility.shape == (2, 1, H, W) and out.correspondence.shape == (2, 2, H, W)
    assert 0 <= out.images.min() and out.images.max() <= 1
    assert set(out.visibility.unique().tolist()) <= {0.0, 1.0}
    assert (out.warped * (1 - out.visibility)).abs().max() == 0  # holes are exactly 0


def test_many_views_in_one_call_equal_one_view_per_call(pipe):
    image, depth, K, _, T = _scene(b=2, n=3)
    lat = _latents(6)
    many = pipe(image, depth, K, K, T, height=H, width=W, num_inference_steps=3, latents=lat)
    assert many.images.shape == (2, 3, 3, H, W)
    for i in range(2):
        for j in range(3):
            one = pipe(image[i:i + 1], depth[i:i + 1], K[i:i + 1], K[i:i + 1], T[i:i + 1, j], height=H, width=W,
                       num_inference_steps=3, latents=lat[3 * i + j:3 * i + j + 1])
            torch.testing.assert_close(many.images[i, j], one.images[0], atol=2e-5, rtol=0)
            torch.testing.assert_close(many.warped[i, j], one.warped[0], atol=1e-6, rtol=0)


def test_generator_makes_sampling_reproducible(pipe):
    a = pipe(*_scene(), height=H, width=W, num_inference_steps=2, generator=torch.Generator().manual_seed(3)).images
    b = pipe(*_scene(), height=H, width=W, num_inference_steps=2, generator=torch.Generator().manual_seed(3)).images
    c = pipe(*_scene(), height=H, width=W, num_inference_steps=2, generator=torch.Generator().manual_seed(4)).images
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("scheduler_cls", [DPMSolverMultistepScheduler, EulerDiscreteScheduler])
def test_any_diffusers_scheduler_can_be_swapped_in(scheduler_cls):
    p = random_pipeline(seed=11)
    p.set_progress_bar_config(disable=True)
    p.scheduler = scheduler_cls.from_config(p.scheduler.config)
    out = p(*_scene(), height=H, width=W, num_inference_steps=3, generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(out.images).all()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precisions_run_and_stay_close_to_float32(dtype):
    ref = random_pipeline(seed=12)
    ref.set_progress_bar_config(disable=True)
    args = dict(height=H, width=W, num_inference_steps=2, latents=_latents(2))
    expected = ref(*_scene(), **args).images
    half = random_pipeline(seed=12).to(dtype=dtype)
    half.set_progress_bar_config(disable=True)
    out = half(*_scene(), **args).images
    assert out.dtype == torch.float32 and torch.isfinite(out).all()
    # Measured on the CPU: mean |Δ| 0.00084 (fp16) and 0.0067 (bf16); ~3× headroom, so a wrong cast
    # (e.g. the reference bank or the scheduler in half precision) exceeds it.
    assert (out - expected).abs().mean() < {torch.float16: 0.003, torch.bfloat16: 0.02}[dtype]


def test_guidance_one_skips_the_unconditional_branch(pipe):
    calls = []
    handle = pipe.model.denoiser.register_forward_pre_hook(lambda m, a: calls.append(a[0].shape[0]))
    pipe(*_scene(), height=H, width=W, num_inference_steps=2, guidance_scale=1.0, latents=_latents(2))
    pipe(*_scene(), height=H, width=W, num_inference_steps=2, guidance_scale=3.5, latents=_latents(2))
    handle.remove()
    assert calls == [2, 2, 4, 4]


def test_output_types(pipe):
    pil = pipe(*_scene(), height=H, width=W, num_inference_steps=1, latents=_latents(2), output_type="pil").images
    assert len(pil) == 2 and pil[0].size == (W, H)
    arr = pipe(*_scene(), height=H, width=W, num_inference_steps=1, latents=_latents(2), output_type="np").images
    assert isinstance(arr, np.ndarray) and arr.shape == (2, H, W, 3)


def test_inputs_are_resized_to_the_working_resolution(pipe):
    image, depth, K, _, T = _scene()
    big = torch.nn.functional.interpolate(image, size=(96, 80))
    big_depth = torch.nn.functional.interpolate(depth, size=(96, 80))
    out = pipe(big, big_depth, K, K, T, height=H, width=W, num_inference_steps=1, latents=_latents(2))
    assert out.images.shape == (2, 3, H, W)


def test_pixel_codec_without_image_prompt_saves_and_loads(tmp_path):
    p = random_pipeline(codec="pixel", image_prompt="none", seed=13)
    p.set_progress_bar_config(disable=True)
    lat = torch.randn(2, 192, H // 8, W // 8, generator=torch.Generator().manual_seed(0))
    out = p(*_scene(), height=H, width=W, num_inference_steps=2, latents=lat).images
    p.save_pretrained(tmp_path)
    q = GenWarpPipeline.from_pretrained(tmp_path)
    q.set_progress_bar_config(disable=True)
    assert q.image_encoder is None and q.model.config.image_prompt == "none"
    torch.testing.assert_close(q(*_scene(), height=H, width=W, num_inference_steps=2, latents=lat).images, out,
                               atol=1e-5, rtol=0)


def _bad(pipe, **overrides):
    image, depth, K, _, T = _scene()
    args = dict(image=image, depth=depth, src_intrinsics=K, tgt_intrinsics=K, src_to_tgt=T, height=H, width=W,
                num_inference_steps=1)
    args.update(overrides)
    return pipe(**args)


@pytest.mark.parametrize(
    "overrides, pattern",
    [
        (dict(image=torch.rand(2, 4, H, W)), r"image must have 4 dims ending in \(3"),
        (dict(image=torch.rand(2, 3, H, W) * 255), r"image must be RGB in \[0, 1\], got values in"),
        (dict(image=torch.randint(0, 255, (2, 3, H, W))), "image must be a floating-point tensor"),
        (dict(depth=torch.zeros(2, 1, H, W)), "depth must be positive z-depth, got a minimum of 0"),
        (dict(depth=torch.full((2, 1, H, W), float("nan"))), "depth contains non-finite"),
        (dict(depth=torch.ones(2, 1, 32, 32)), "depth must be .* matching the image"),
        (dict(src_intrinsics=torch.tensor([[500.0, 0, 256], [0, 500, 256], [0, 0, 1]]).repeat(2, 1, 1)),
         "src_intrinsics must be normalised .*pixel_to_normalized_intrinsics"),
        (dict(src_to_tgt=torch.diag(torch.tensor([2.0, 2, 2, 1])).repeat(2, 1, 1)), "src_to_tgt must be a rigid"),
        (dict(src_to_tgt=torch.eye(4).repeat(3, 1, 1)), "src_to_tgt has batch size 3 but image has 2"),
        (dict(height=60), "height must be a positive multiple of 8, got 60"),
        (dict(num_inference_steps=0), "num_inference_steps must be a positive integer"),
        (dict(latents=torch.randn(2, 4, 4, 4)), r"latents must have shape \(2, 4, 8, 8\)"),
    ],
)
def test_bad_input_names_the_argument_and_the_value(pipe, overrides, pattern):
    with pytest.raises(ValueError, match=pattern):
        _bad(pipe, **overrides)


def test_depth_mask_marks_unknown_depth_which_is_not_warped(pipe):
    image, depth, K, _, T = _scene()
    mask = torch.ones_like(depth, dtype=torch.bool)
    mask[:, :, :, : W // 2] = False
    holes = depth.clone()
    holes[~mask] = 0.0
    with pytest.raises(ValueError, match="depth_mask"):
        pipe(image, holes, K, K, T, height=H, width=W, num_inference_steps=1)
    out = pipe(image, holes, K, K, T, height=H, width=W, num_inference_steps=1, depth_mask=mask, latents=_latents(2))
    ref = pipe(image, depth, K, K, T, height=H, width=W, num_inference_steps=1, latents=_latents(2))
    assert out.visibility.sum() < 0.7 * ref.visibility.sum()
    assert (out.correspondence[:, :, :, : W // 2] == -1e6).all()


def test_speed_settings_default_to_the_plain_path_and_a_step_runner_sees_every_step(pipe):
    from genwarp.pipelines.pipeline_genwarp import SamplingSpeed

    other = random_pipeline(seed=11)
    assert pipe.speed == SamplingSpeed() and pipe.speed is not other.speed
    plain = pipe(*_scene(), height=H, width=W, num_inference_steps=3, latents=_latents(2)).images
    assert pipe.scheduler.timesteps.device.type == "cpu"  # host timesteps: no per-step device read
    seen = []

    def runner(p, x, t, step):
        seen.append((tuple(x.shape), step.ref_index))
        return p.guided_prediction(x, t, step)

    pipe.speed = SamplingSpeed(step_runner=runner)
    try:
        hooked = pipe(*_scene(), height=H, width=W, num_inference_steps=3, latents=_latents(2)).images
    finally:
        pipe.speed = SamplingSpeed()
    assert torch.equal(hooked, plain)
    assert seen == [((2, 4, H // 8, W // 8), (-1, -1, 0, 1))] * 3  # CFG: unconditional half first, no reference


def test_from_pretrained_on_a_release_root_or_run_folder_says_what_to_call(tmp_path):
    from genwarp.testing import write_tiny_release

    write_tiny_release(tmp_path / "release")
    with pytest.raises(ValueError, match="from_release"):
        GenWarpPipeline.from_pretrained(tmp_path / "release")
    random_pipeline(seed=1).save_pretrained(tmp_path / "run" / "model")
    with pytest.raises(ValueError, match="training run folder"):
        GenWarpPipeline.from_pretrained(tmp_path / "run")
