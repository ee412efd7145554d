"""diffusers habits on GenWarpPipeline (issue 13): step callbacks, output types, PIL / numpy inputs,
eta, memory switches that work or refuse loudly, processor swaps refused, model card, and
``DiffusionPipeline.from_pretrained`` on an export. Tiny random pipelines, a few steps each."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import torch
from diffusers import DiffusionPipeline, EulerDiscreteScheduler
from diffusers.callbacks import PipelineCallback
from diffusers.models.attention_processor import AttnProcessor2_0

from genwarp import GenWarpPipeline
from genwarp.models import decode_latents
from genwarp.models.reference_attention import ReferenceProcessorsReplaced
from genwarp.pipelines import CUSTOM_PIPELINE
from genwarp.pipelines.factory import random_pipeline
from pipeline_helpers import H, W, _latents, _scene


@pytest.fixture(scope="module")
def pipe():
    p = random_pipeline(seed=21)
    p.set_progress_bar_config(disable=True)
    return p


def _run(pipe, scene=None, **kw):
    args = dict(height=H, width=W, num_inference_steps=2, latents=_latents(2))
    args.update(kw)
    return pipe(*(scene or _scene()), **args)


# ---------------------------------------------------------------- callbacks
def test_callback_on_step_end_sees_every_step_and_can_replace_the_latents(pipe):
    seen = []

    def record(p, i, t, kwargs):
        seen.append((i, int(t), tuple(kwargs["latents"].shape)))
        return kwargs

    _run(pipe, num_inference_steps=3, callback_on_step_end=record)
    assert [s[0] for s in seen] == [0, 1, 2] and len({s[1] for s in seen}) == 3
    assert all(s[2] == (2, 4, H // 8, W // 8) for s in seen)
    assert pipe.num_timesteps == 3 and pipe.guidance_scale == 3.5 and pipe.do_classifier_free_guidance

    def zero_last(p, i, t, kwargs):
        return {"latents": torch.zeros_like(kwargs["latents"])} if i == p.num_timesteps - 1 else {}

    out = _run(pipe, callback_on_step_end=zero_last, output_type="latent").images
    assert torch.equal(out, torch.zeros_like(out))


def test_interrupt_stops_after_the_step_and_a_pipeline_callback_object_works(pipe):
    class Stop(PipelineCallback):
        tensor_inputs = ["latents"]

        def callback_fn(self, p, step_index, timestep, callback_kwargs):
            p._interrupt = True
            return callback_kwargs

    steps = []
    handle = pipe.model.denoiser.register_forward_pre_hook(lambda m, a: steps.append(1))
    try:
        _run(pipe, num_inference_steps=4, callback_on_step_end=Stop())
    finally:
        handle.remove()
    assert len(steps) == 1 and pipe.interrupt


def test_unknown_callback_tensor_inputs_are_named(pipe):
    with pytest.raises(ValueError, match=r"\['prompt_embeds'\] are not available; .* offers \['latents'\]"):
        _run(pipe, callback_on_step_end=lambda *a: {}, callback_on_step_end_tensor_inputs=["prompt_embeds"])
    with pytest.raises(ValueError, match="callback_on_step_end must be callable"):
        _run(pipe, callback_on_step_end="nope")


# ---------------------------------------------------------------- output types
def test_latent_output_skips_the_codec_and_decodes_to_the_pt_output(pipe):
    calls = []
    handle = pipe.codec.decoder.register_forward_pre_hook(lambda m, a: calls.append(1))
    try:
        lat = _run(pipe, output_type="latent").images
    finally:
        handle.remove()
    assert calls == [] and lat.shape == (2, 4, H // 8, W // 8)
    images = _run(pipe, output_type="pt").images
    torch.testing.assert_close(decode_latents(pipe.codec, lat, pipe.latent_scale).float(), images, atol=1e-6, rtol=0)
    many = pipe(*_scene(n=3), height=H, width=W, num_inference_steps=1, latents=_latents(6), output_type="latent")
    assert many.images.shape == (2, 3, 4, H // 8, W // 8)
    with pytest.raises(ValueError, match="output_type must be one of 'pt', 'np', 'pil', 'latent'"):
        _run(pipe, output_type="tensor")


# ---------------------------------------------------------------- PIL / numpy inputs
def test_pil_and_numpy_inputs_equal_the_tensor_path(pipe):
    image, depth, K, _, T = _scene()
    u8 = (image * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()  # (B, H, W, 3)
    expected = _run(pipe, (u8.astype(np.float32) / 255, depth, K, K, T)).images  # numpy float, channels last
    quantised = torch.from_numpy(u8).permute(0, 3, 1, 2).contiguous().float() / 255
    torch.testing.assert_close(_run(pipe, (quantised, depth, K, K, T)).images, expected, atol=0, rtol=0)
    pils = [PIL.Image.fromarray(a) for a in u8]
    torch.testing.assert_close(_run(pipe, (pils, depth, K, K, T)).images, expected, atol=0, rtol=0)
    # uint8 numpy, numpy depth (B, H, W) and numpy float64 cameras
    out = _run(pipe, (u8, depth[:, 0].numpy(), K.double().numpy(), K.numpy(), T.numpy())).images
    torch.testing.assert_close(out, expected, atol=0, rtol=0)
    one = pipe(pils[0], depth[0, 0].numpy(), K[:1], K[:1], T[:1], height=H, width=W, num_inference_steps=2,
               latents=_latents(2)[:1]).images
    torch.testing.assert_close(one, expected[:1], atol=2e-5, rtol=0)


def test_bad_pil_or_numpy_inputs_say_what_is_accepted(pipe):
    image, depth, K, _, T = _scene()
    with pytest.raises(ValueError, match=r"channels last"):
        _run(pipe, (image.numpy(), depth, K, K, T))  # (B, 3, H, W) numpy: not channels last
    with pytest.raises(ValueError, match="PIL image quantises it"):
        _run(pipe, (image, PIL.Image.new("L", (W, H)), K, K, T))
    with pytest.raises(ValueError, match="share one size"):
        _run(pipe, ([PIL.Image.new("RGB", (W, H)), PIL.Image.new("RGB", (32, H))], depth, K, K, T))


# ---------------------------------------------------------------- eta
def test_eta_zero_is_the_default_ddim_and_eta_one_is_stochastic_and_seeded(pipe):
    base = _run(pipe, generator=torch.Generator().manual_seed(0)).images
    torch.testing.assert_close(_run(pipe, eta=0.0, generator=torch.Generator().manual_seed(5)).images, base,
                               atol=0, rtol=0)
    a = _run(pipe, eta=1.0, generator=torch.Generator().manual_seed(5)).images
    b = _run(pipe, eta=1.0, generator=torch.Generator().manual_seed(5)).images
    c = _run(pipe, eta=1.0, generator=torch.Generator().manual_seed(6)).images
    assert torch.equal(a, b) and not torch.equal(a, c) and (a - base).abs().max() > 1e-3


def test_eta_without_a_ddim_scheduler_or_out_of_range_is_refused():
    p = random_pipeline(seed=21)
    p.set_progress_bar_config(disable=True)
    with pytest.raises(ValueError, match=r"eta must be a number in \[0, 1\]"):
        _run(p, eta=2.0)
    p.scheduler = EulerDiscreteScheduler.from_config(p.scheduler.config)
    with pytest.raises(ValueError, match="eta=0.5 needs a scheduler with an eta .*EulerDiscreteScheduler"):
        _run(p, eta=0.5)


# ---------------------------------------------------------------- memory switches
def test_attention_slicing_and_xformers_refuse_loudly(pipe):
    before = dict(pipe.model.denoiser.attn_processors)
    with pytest.raises(NotImplementedError, match="enable_attention_slicing is not supported.*reference attention"):
        pipe.enable_attention_slicing()
    with pytest.raises(NotImplementedError, match="xformers .*reference attention"):
        pipe.enable_xformers_memory_efficient_attention()
    pipe.disable_attention_slicing()
    assert dict(pipe.model.denoiser.attn_processors) == before


def test_vae_slicing_and_tiling_switch_the_codec_and_slicing_keeps_the_images():
    p = random_pipeline(seed=22)
    p.set_progress_bar_config(disable=True)
    plain = _run(p).images
    p.enable_vae_slicing()
    assert p.codec.use_slicing
    torch.testing.assert_close(_run(p).images, plain, atol=1e-5, rtol=0)
    p.disable_vae_slicing()
    assert not p.codec.use_slicing
    p.enable_vae_tiling()
    assert p.codec.use_tiling
    assert torch.isfinite(_run(p).images).all()
    p.disable_vae_tiling()
    assert not p.codec.use_tiling
    pixel = random_pipeline(codec="pixel", image_prompt="none", seed=23)
    with pytest.raises(ValueError, match="enable_vae_slicing needs a VAE codec.*PixelUnshuffleCodec"):
        pixel.enable_vae_slicing()
    with pytest.raises(ValueError, match="enable_vae_tiling needs a VAE codec"):
        pixel.enable_vae_tiling()


# ---------------------------------------------------------------- processor swaps
@pytest.mark.parametrize("unet", ["denoiser", "preserver"])
def test_a_processor_swap_that_drops_the_reference_is_refused_and_restorable(unet):
    p = random_pipeline(seed=24)
    p.set_progress_bar_config(disable=True)
    expected = _run(p).images
    getattr(p.model, unet).set_attn_processor(AttnProcessor2_0())
    pattern = rf"pipe.model.{unet} self-attention .* AttnProcessor2_0 .*drops the reference attention"
    with pytest.raises(ReferenceProcessorsReplaced, match=pattern + ".*restore_reference_attention"):
        _run(p)
    p.restore_reference_attention()
    torch.testing.assert_close(_run(p).images, expected, atol=0, rtol=0)


def test_cross_attention_processors_may_be_swapped(pipe):
    original = dict(pipe.model.denoiser.attn_processors)
    expected = _run(pipe).images
    swapped = {k: (AttnProcessor2_0() if not k.endswith(".attn1.processor") else v) for k, v in original.items()}
    pipe.model.denoiser.set_attn_processor(swapped)
    try:
        torch.testing.assert_close(_run(pipe).images, expected, atol=1e-6, rtol=0)
    finally:
        pipe.model.denoiser.set_attn_processor(dict(original))


# ---------------------------------------------------------------- export: model card, DiffusionPipeline
def _front_matter(text: str) -> dict[str, object]:
    assert text.startswith("---\n")
    block = text.split("---\n")[1]
    fields, key = {}, None
    for line in block.splitlines():
        if line.startswith("  - "):
            fields.setdefault(key, []).append(line[4:])
        else:
            key, _, value = line.partition(":")
            if value.strip():
                fields[key] = value.strip()
    return fields


def test_save_pretrained_writes_a_model_card(tmp_path, pipe):
    pipe.save_pretrained(tmp_path / "plain")
    card = (tmp_path / "plain" / "README.md").read_text()
    front = _front_matter(card)
    assert front["library_name"] == "genwarp" and "diffusers" in front["tags"] and "datasets" not in front
    assert "## Pipeline configuration" in card and "DDIMScheduler" in card and '"rescale_betas_zero_snr": true' in card
    assert f'"condition_kind": "{pipe.model.config.condition_kind}"' in card
    assert "## Training data" in card and "Not recorded" in card
    assert "No metrics file was present" in card and "GenWarpPipeline.from_pretrained" in card

    # Inside a training run folder: the data group of <run>/config.yaml, a pointer to its metrics.
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("name: demo\ndata:\n  name: re10k\n  root: datasets/re10k\n  resolution: 512\n")
    (run / "results.json").write_text(json.dumps({"summary": {}}))
    pipe.save_pretrained(run / "model")
    card = (run / "model" / "README.md").read_text()
    assert _front_matter(card)["datasets"] == ["re10k"]
    assert '"root": "datasets/re10k"' in card and "config.yaml" in card
    assert "[`../results.json`](../results.json)" in card

    pipe.save_pretrained(tmp_path / "given", training_data="RealEstate10K train split", metrics_file="scores.json")
    card = (tmp_path / "given" / "README.md").read_text()
    assert "RealEstate10K train split" in card and "[`scores.json`](scores.json)" in card


def test_diffusion_pipeline_from_pretrained_loads_an_export_offline(tmp_path, pipe, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    pipe.save_pretrained(tmp_path)
    assert not list(tmp_path.rglob("*.py")), "an export holds code"
    q = DiffusionPipeline.from_pretrained(tmp_path, custom_pipeline=CUSTOM_PIPELINE, trust_remote_code=True)
    assert type(q) is GenWarpPipeline  # the installed class itself, not a copy
    q.set_progress_bar_config(disable=True)
    torch.testing.assert_close(_run(q).images, _run(pipe).images, atol=1e-5, rtol=0)
    assert type(GenWarpPipeline.from_pretrained(tmp_path)) is GenWarpPipeline


def test_plain_diffusion_pipeline_load_fails_as_the_card_and_readme_explain(tmp_path, pipe, monkeypatch):
    """Without custom_pipeline diffusers 0.42 looks GenWarpPipeline up in its own namespace (or in a .py
    file of the export, which holds none): the error a user gets is the one the card and README quote.
    When a diffusers release makes the plain call work, this fails: update the card and the README."""
    from genwarp.pipelines.model_card import PLAIN_LOAD_ERROR, PLAIN_LOAD_EXPLANATION

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    pipe.save_pretrained(tmp_path)
    for kwargs in ({}, {"trust_remote_code": True}):
        with pytest.raises(Exception) as info:
            DiffusionPipeline.from_pretrained(tmp_path, **kwargs)
        assert f"{info.type.__name__}: {info.value}" == PLAIN_LOAD_ERROR
    card = (tmp_path / "README.md").read_text()
    assert PLAIN_LOAD_EXPLANATION in card and "### Loading with diffusers" in card
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert PLAIN_LOAD_ERROR in readme, "the README quotes the error of a plain DiffusionPipeline load"


def test_push_to_hub_is_refused_before_anything_is_written(tmp_path, pipe):
    with pytest.raises(NotImplementedError, match="push_to_hub is not supported"):
        pipe.save_pretrained(tmp_path / "x", push_to_hub=True)
    assert not (tmp_path / "x").exists()
