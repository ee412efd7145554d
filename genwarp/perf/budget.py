"""FLOP budgets of sampling and training, counted on the meta device (no weights, no compute).

The components are built on PyTorch's ``meta`` device, so the SD-1.5-sized model is counted in
seconds on any machine; :class:`torch.utils.flop_counter.FlopCounterMode` records the matmuls,
convolutions and attention each component dispatches. The figures are counts, not estimates, and
are what docs/performance.md derives its FLOP-bound latencies from (``budget ÷ peak``).

A sampling call with ``S`` sources × ``N`` views, ``T`` steps and CFG costs

    S·(CLIP + VAE encode + preserver + reference K/V projection)
    + S·N·(condition encoder, target) + S·(condition encoder, source)
    + T·S·N·(denoiser with reference + denoiser without reference)    [CFG: cond + uncond halves]
    + S·N·VAE decode

(the warp itself has no matmuls). One training sample costs two VAE encodes, CLIP, two condition
encodings and the preserver + denoiser (with reference) forward and backward.
"""

from __future__ import annotations

from typing import Any

import torch

from genwarp.models.codecs import decode_latents, encode_images
from genwarp.models.image_prompt import encode_image_prompt
from genwarp.models.presets import build_clip, build_vae
from genwarp.models.reference_attention import ReferenceBank, ReferenceRead
from genwarp.perf.flops import H100_DENSE_BF16_TFLOPS, count_flops

META = torch.device("meta")


def meta_components(arch: str = "sd15"):
    """(GenWarpModel, VAE, CLIP image encoder) of ``arch`` on the meta device."""
    from genwarp.pipelines.factory import random_model

    with META:
        return random_model(arch, randomize=False), build_vae(arch), build_clip(arch)


def component_flops(arch: str = "sd15", resolution: int = 512) -> dict[str, int]:
    """FLOPs of one item through each component at ``resolution``² (batch 1)."""
    model, vae, clip = meta_components(arch)
    model.eval()
    r, f = resolution, model.condition_encoder.downsampling_factor
    latents = torch.empty(1, model.latent_channels, r // f, r // f, device=META)
    features = torch.empty(1, model.denoiser.config.block_out_channels[0], r // f, r // f, device=META)
    prompt = torch.empty(1, 1, model.cross_attention_dim, device=META)
    image = torch.empty(1, 3, r, r, device=META)
    condition = torch.empty(1, model.config.condition_channels, r, r, device=META)
    t = torch.tensor(500, device=META)
    scale = 0.18215
    out: dict[str, int] = {}
    with torch.no_grad():
        out["clip_image_prompt"] = count_flops(lambda: encode_image_prompt(clip, image, "standard", model.cross_attention_dim))
        out["vae_encode"] = count_flops(lambda: encode_images(vae, image, scale))
        out["vae_decode"] = count_flops(lambda: decode_latents(vae, latents, scale))
        out["condition_encoder"] = count_flops(lambda: model.encode_condition(condition))
        bank = ReferenceBank()
        out["preserver"] = count_flops(lambda: model.write_reference(bank, latents, features, prompt))
        out["reference_kv_projection"] = count_flops(lambda: model.project_reference(bank))
        read = ReferenceRead.create(bank, [0]).to(META)
        out["denoiser_plain"] = count_flops(lambda: model.predict(latents, t, features, prompt, None))
        out["denoiser_with_reference"] = count_flops(lambda: model.predict(latents, t, features, prompt, read))
    return out


def sampling_budget(components: dict[str, int], steps: int = 20, views: int = 1, sources: int = 1,
                    cfg: bool = True, uncond_uses_reference: bool = False) -> dict[str, float]:
    """TFLOP of one sampling call, by part (see the module docstring)."""
    c = {k: v / 1e12 for k, v in components.items()}
    items = sources * views
    uncond = c["denoiser_with_reference"] if uncond_uses_reference else c["denoiser_plain"]
    per_step = items * (c["denoiser_with_reference"] + (uncond if cfg else 0.0))
    parts = {
        "source_side": sources * (c["clip_image_prompt"] + c["vae_encode"] + c["preserver"]
                                  + c["reference_kv_projection"] + c["condition_encoder"]),
        "target_conditions": items * c["condition_encoder"],
        "denoising": steps * per_step,
        "decode": items * c["vae_decode"],
    }
    parts["total"] = sum(parts.values())
    return parts


def training_flops_per_sample(arch: str = "sd15", resolution: int = 512) -> dict[str, int]:
    """Forward + backward FLOPs of one training sample without condition dropout (every item reads
    the reference), by part; frozen parts (VAE, CLIP) have no backward."""
    model, vae, clip = meta_components(arch)
    model.train()
    r = resolution
    image = torch.empty(1, 3, r, r, device=META)
    out: dict[str, int] = {}
    with torch.no_grad():
        out["vae_encode_x2"] = 2 * count_flops(lambda: encode_images(vae, image, 0.18215))
        out["clip_image_prompt"] = count_flops(lambda: encode_image_prompt(clip, image, "standard", model.cross_attention_dim))
    f = model.condition_encoder.downsampling_factor
    latents = torch.empty(1, model.latent_channels, r // f, r // f, device=META)
    condition = torch.empty(1, model.config.condition_channels, r, r, device=META)
    prompt = torch.empty(1, 1, model.cross_attention_dim, device=META)

    def step():
        pred = model(latents, torch.tensor([500], device=META), latents, condition, condition, prompt,
                     ref_index=torch.tensor([0]))
        pred.float().square().mean().backward()

    out["trainable_forward_backward"] = count_flops(step)
    out["total"] = sum(out.values())
    return out


def budget_rows(arch: str = "sd15", resolution: int = 512, steps: int = 20, guidance: float = 3.5,
                batch_sizes: tuple[int, ...] = (1, 4, 16), peak_tflops: float = H100_DENSE_BF16_TFLOPS,
                targets_s: dict[int, float] | None = None, train_mfu_target: float = 0.40) -> list[dict[str, Any]]:
    """Rows for ``scripts/benchmark.py``'s ``flops`` section: counted TFLOP per component, per
    sampling call (the FLOP-bound latency at ``peak_tflops`` and the MFU a target latency needs)
    and per training sample (samples/s at ``train_mfu_target``)."""
    comps = component_flops(arch, resolution)
    rows: list[dict[str, Any]] = [
        {"benchmark": "flops", "what": f"component: {name}", "arch": arch, "resolution": resolution,
         "tflop": flops / 1e12} for name, flops in comps.items()
    ]
    for n in batch_sizes:
        for sources, views in ((1, n), (n, 1)) if n > 1 else ((1, 1),):
            parts = sampling_budget(comps, steps=steps, views=views, sources=sources, cfg=guidance != 1.0)
            row = {"benchmark": "flops", "what": f"sampling {sources} source(s) × {views} view(s), {steps} steps"
                   + (" + CFG" if guidance != 1.0 else ""), "arch": arch, "resolution": resolution,
                   "tflop": parts["total"], "denoising_share": parts["denoising"] / parts["total"],
                   "decode_share": parts["decode"] / parts["total"],
                   "flop_bound_s": parts["total"] / peak_tflops}
            target = (targets_s or {}).get(views) if sources == 1 else None
            if target is not None:
                row["target_s"] = target
                row["mfu_needed_for_target"] = parts["total"] / (target * peak_tflops)
            rows.append(row)
    train = training_flops_per_sample(arch, resolution)
    rows.append({"benchmark": "flops", "what": "training, one sample (fwd + bwd)", "arch": arch,
                 "resolution": resolution, "tflop": train["total"] / 1e12,
                 "vae_encode_share": train["vae_encode_x2"] / train["total"],
                 f"samples_per_s_at_{train_mfu_target:.0%}_mfu": train_mfu_target * peak_tflops * 1e12 / train["total"]})
    return rows


__all__ = ["budget_rows", "component_flops", "meta_components", "sampling_budget", "training_flops_per_sample"]
