"""Release fidelity: the release's own outputs for a tiny random model (tests/goldens/release_tiny)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from genwarp import GenWarpPipeline
from genwarp.geometry import from_opengl
from genwarp.models import ReferenceBank, clip_pixel_values, encode_images

RUNS = ("A", "B")


@pytest.fixture(scope="module")
def release_dir(golden_file):
    """tests/goldens/release_tiny; a missing golden or checkpoint fails (never skips)."""
    for name in ("golden_A.npz", "golden_B.npz", "bank_pairs_A.json", "bank_pairs_B.json",
                 "checkpoints/tiny/config.json", "checkpoints/tiny/reference_unet.pth",
                 "checkpoints/tiny/denoising_unet.pth", "checkpoints/tiny/pose_guider.pth",
                 "checkpoints/image_encoder/pytorch_model.bin",
                 "checkpoints/sd-vae-ft-mse/diffusion_pytorch_model.safetensors"):
        golden_file(f"release_tiny/{name}")
    return golden_file("release_tiny")


@pytest.fixture(scope="module")
def pipe(release_dir):
    p = GenWarpPipeline.from_release(release_dir / "checkpoints", "tiny")
    p.set_progress_bar_config(disable=True)
    return p


def _golden(release_dir, run):
    return {k: torch.from_numpy(v) for k, v in np.load(release_dir / f"golden_{run}.npz").items()}


def _sample(pipe, g):
    cams = from_opengl(g["in_src_proj_mtx"], g["in_tar_proj_mtx"], g["in_rel_view_mtx"], 64, 64)
    return pipe(g["in_src_image"], g["in_src_depth"], cams.src_intrinsics, cams.tgt_intrinsics, cams.src_to_tgt,
                height=64, width=64, num_inference_steps=4, guidance_scale=3.5, latents=g["init_noise"],
                near=cams.near, far=cams.far)


@pytest.mark.parametrize("run", RUNS)
def test_sampled_image_matches_the_release(pipe, release_dir, run):
    g = _golden(release_dir, run)
    out = _sample(pipe, g)
    # 3e-5 rather than the 1e-4: tight enough to detect a missing fp16 bank rounding (~8e-5).
    assert (out.images - g["out_synthesized"]).abs().max().item() <= 3e-5
    assert torch.equal(out.visibility, g["out_mask"])
    assert (out.warped - g["out_warped"]).abs().max().item() <= 2e-3
    assert (out.correspondence - g["out_correspondence"]).abs().max().item() <= 1e-4
    assert pipe.scheduler.timesteps.tolist() == g["timesteps"].tolist()
    # Not bit-exact: the same torch and diffusers versions give tables differing by up to 3.6e-7 abs
    # (3.7e-6 rel) on different machines (cumprod's reduction order follows the vector width). A wrong
    # schedule is far outside this: no zero-SNR rescale is 3.5e-2 away, a "linear" schedule further.
    torch.testing.assert_close(pipe.scheduler.alphas_cumprod, g["alphas_cumprod"], atol=1e-6, rtol=2e-5)


@pytest.mark.parametrize("run", RUNS)
def test_intermediates_match_the_release(pipe, release_dir, run):
    g = _golden(release_dir, run)
    model = pipe.model
    image = g["mid_vae_encode_input"]
    assert (clip_pixel_values(image, "release") - g["mid_clip_pixel_values"]).abs().max() <= 2e-7
    latents = encode_images(pipe.codec, image, pipe.latent_scale)
    torch.testing.assert_close(latents, g["mid_ref_image_latents"], atol=1e-5, rtol=0)
    b = image.shape[0]
    with torch.no_grad():
        src = model.encode_condition(g["mid_src_cond"])
        torch.testing.assert_close(src, g["mid_pose_fea_ref"][b:, :, 0], atol=1e-5, rtol=0)
        bank = ReferenceBank(round_to=model.reference_round_dtype)
        model.write_reference(bank, latents, src, g["mid_image_prompt_embeds"][b:])
    pairs = json.loads((release_dir / f"bank_pairs_{run}.json").read_text())["bank_pairs"]
    assert all(p["reader"] == p["writer"] for p in pairs) and len(pairs) == len(bank.features) == 16
    flips = total = 0
    for p in pairs:
        expected = g[f"bank_{p['index']:02d}"][b:]
        diff = (bank.features[p["writer"]] - expected).abs()
        # fp16 rounding can flip one ulp (≤ 2e-3 at these magnitudes) where fp32 values differ by 1e-7
        assert diff.max() <= 2e-3, p["writer"]
        flips += int((diff > 1e-5).sum())
        total += diff.numel()
    assert flips / total < 0.01


def test_missing_fp16_rounding_or_reference_in_uncond_branch_is_detected(pipe, release_dir):
    g = _golden(release_dir, "A")
    model = pipe.model
    try:
        model.register_to_config(reference_rounding=None)
        no_round = _sample(pipe, g).images
        model.register_to_config(reference_rounding="float16", uncond_uses_reference=True)
        uncond_ref = _sample(pipe, g).images
    finally:
        model.register_to_config(reference_rounding="float16", uncond_uses_reference=False)
    assert (no_round - g["out_synthesized"]).abs().max() > 3e-5
    assert (uncond_ref - g["out_synthesized"]).abs().max() > 0.05
