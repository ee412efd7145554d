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
from genwarp.perf.flops import H100_DENSE_BF16_TFLOPS, count_flops, flop_counter

META = torch.device("meta")


def meta_components(arch: str = "sd15"):
    """(GenWarpModel, VAE, CLIP image encoder) of ``arch`` on the meta device."""
    from genwarp.pipelines.factory import random_model

    with META:
        return random_model(arch, randomize=False), build_vae(arch), build_clip(arch)


def _count_by_kind(fn) -> tuple[int, int]:
    """(total FLOPs, convolution FLOPs) of one call of ``fn``."""
    with flop_counter() as counter:
        fn()
    by_op = counter.get_flop_counts().get("Global", {})
    conv = sum(v for op, v in by_op.items() if "convolution" in str(op))
    return int(counter.get_total_flops()), int(conv)


def component_flops(arch: str = "sd15", resolution: int = 512, with_conv: bool = False) -> dict[str, Any]:
    """FLOPs of one item through each component at ``resolution``² (batch 1); with ``with_conv``,
    ``(total, convolution)`` pairs."""
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
    out: dict[str, Any] = {}
    with torch.no_grad():
        out["clip_image_prompt"] = _count_by_kind(
            lambda: encode_image_prompt(clip, image, "standard", model.cross_attention_dim))
        out["vae_encode"] = _count_by_kind(lambda: encode_images(vae, image, scale))
        out["vae_decode"] = _count_by_kind(lambda: decode_latents(vae, latents, scale))
        out["condition_encoder"] = _count_by_kind(lambda: model.encode_condition(condition))
        bank = ReferenceBank()
        out["preserver"] = _count_by_kind(lambda: model.write_reference(bank, latents, features, prompt))
        out["reference_kv_projection"] = _count_by_kind(lambda: model.project_reference(bank))
        read = ReferenceRead.create(bank, [0]).to(META)
        out["denoiser_plain"] = _count_by_kind(lambda: model.predict(latents, t, features, prompt, None))
        out["denoiser_with_reference"] = _count_by_kind(lambda: model.predict(latents, t, features, prompt, read))
    return out if with_conv else {k: v[0] for k, v in out.items()}


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


def training_flops_per_sample(arch: str = "sd15", resolution: int = 512, checkpointing: bool = False) -> dict[str, int]:
    """Forward + backward FLOPs of one training sample without condition dropout (every item reads
    the reference), by part; frozen parts (VAE, CLIP) have no backward. With ``checkpointing`` the
    count includes the recomputed forward (hardware FLOPs, not model FLOPs)."""
    model, vae, clip = meta_components(arch)
    model.train()
    if checkpointing:
        model.enable_gradient_checkpointing()
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
                targets_s: dict[int, float] | None = None, anchors_s: dict[int, float] | None = None,
                train_mfu_target: float = 0.40) -> list[dict[str, Any]]:
    """Rows for ``scripts/benchmark.py``'s ``flops`` section: counted TFLOP per component (and its
    convolution share), per sampling call (the FLOP-bound latency at ``peak_tflops``, the MFU a
    target latency needs, the MFU a given anchor latency implies, the masked CFG layout's extra)
    and per training sample (with and without checkpointing recompute; samples/s at
    ``train_mfu_target``)."""
    both = component_flops(arch, resolution, with_conv=True)
    comps = {k: v[0] for k, v in both.items()}
    rows: list[dict[str, Any]] = [
        {"benchmark": "flops", "what": f"component: {name}", "arch": arch, "resolution": resolution,
         "tflop": total / 1e12, "conv_share": conv / total if total else 0.0} for name, (total, conv) in both.items()
    ]
    cfg = guidance != 1.0
    for n in batch_sizes:
        for sources, views in ((1, n), (n, 1)) if n > 1 else ((1, 1),):
            parts = sampling_budget(comps, steps=steps, views=views, sources=sources, cfg=cfg)
            row = {"benchmark": "flops", "what": f"sampling {sources} source(s) × {views} view(s), {steps} steps"
                   + (" + CFG" if cfg else ""), "arch": arch, "resolution": resolution,
                   "tflop": parts["total"], "denoising_share": parts["denoising"] / parts["total"],
                   "decode_share": parts["decode"] / parts["total"],
                   "flop_bound_s": parts["total"] / peak_tflops}
            if cfg:
                masked = sampling_budget(comps, steps=steps, views=views, sources=sources, cfg=True,
                                         uncond_uses_reference=True)["total"]
                row["masked_layout_extra"] = masked / parts["total"] - 1.0
            target = (targets_s or {}).get(views) if sources == 1 else None
            if target is not None:
                row["target_s"] = target
                row["mfu_needed_for_target"] = parts["total"] / (target * peak_tflops)
            anchor = (anchors_s or {}).get(views) if sources == 1 else None
            if anchor is not None:
                row["release_anchor_s"] = anchor
                row["release_anchor_mfu"] = parts["total"] / (anchor * peak_tflops)
            rows.append(row)
    train = training_flops_per_sample(arch, resolution)
    recompute = training_flops_per_sample(arch, resolution, checkpointing=True)
    rows.append({"benchmark": "flops", "what": "training, one sample (fwd + bwd)", "arch": arch,
                 "resolution": resolution, "tflop": train["total"] / 1e12,
                 "vae_encode_share": train["vae_encode_x2"] / train["total"],
                 "checkpointing_recompute_extra": recompute["total"] / train["total"] - 1.0,
                 f"samples_per_s_at_{train_mfu_target:.0%}_mfu": train_mfu_target * peak_tflops * 1e12 / train["total"]})
    return rows


__all__ = ["budget_rows", "component_flops", "meta_components", "sampling_budget", "training_flops_per_sample"]
