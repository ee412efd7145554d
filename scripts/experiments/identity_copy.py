#!/usr/bin/env python
"""The copy task alone: train on pairs with one fixed frame gap (0 = source is target), report the
one-step visible PSNR on 16 held-out pairs every 100 steps (docs/learning.md, section 2).

    python scripts/experiments/identity_copy.py 0 600 condition_encoder_init=kaiming \
        condition_encoder_gain=3 preserver_from_denoiser=true attention_init=similarity \
        attention_init_scale=2 tb=later tbm=30 tbp=0.2 lr=3e-3

Positional: GAP STEPS. key=value: ``model.*`` fields (ModelConfig), plus ``lr``, ``bs`` and the
timestep bias ``tb`` / ``tbm`` / ``tbp``. Base model: the tiny pixel-codec model with one layer per
block, 6 frequencies and latent scale 2.
"""

import sys
import time

import torch
from omegaconf import OmegaConf
from torch.utils.data import default_collate

from genwarp.data import SyntheticScenesDataset
from genwarp.evaluation.metrics import psnr
from genwarp.geometry import relative_transform
from genwarp.models import GenWarpObjective
from genwarp.training.build import build_components, make_pipeline
from genwarp.training.config import ModelConfig


def main(argv: list[str]) -> None:
    if len(argv) < 2 or not argv[0].isdigit() or not argv[1].isdigit():
        raise SystemExit(__doc__)
    gap, steps = int(argv[0]), int(argv[1])
    over = dict(a.split("=", 1) for a in argv[2:])
    lr, bs = float(over.pop("lr", 1e-3)), int(over.pop("bs", 8))
    bias = dict(timestep_bias_strategy=over.pop("tb", "none"), timestep_bias_multiplier=float(over.pop("tbm", 1)),
                timestep_bias_portion=float(over.pop("tbp", 0.25)))
    base = dict(architecture="tiny", init="random", codec="pixel", pixel_factor=2, image_prompt="none",
                unet_overrides={"layers_per_block": 1}, num_frequencies=6, latent_scale=2.0)
    cfg = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(ModelConfig), base,
                                              OmegaConf.from_dotlist([f"{k}={v}" for k, v in over.items()])))
    torch.manual_seed(0)
    parts = build_components(cfg)
    objective = GenWarpObjective(parts.model, parts.codec, None, condition_dropout=0.0, snr_gamma=5.0, **bias)
    optimizer = torch.optim.AdamW(parts.model.trainable_parameters(), lr)
    train, test = SyntheticScenesDataset("train", 32), SyntheticScenesDataset("test", 32)

    def pairs(data, prefix, n, offset):
        return default_collate([data.get_pair(f"{prefix}_{offset + i}", 3 + (i * 7) % 30, 3 + (i * 7) % 30 + gap)
                                for i in range(n)])

    val = pairs(test, "test", 16, 0)

    def visible_psnr() -> float:
        pipe = make_pipeline(parts.model, parts.codec, None)
        parts.model.eval()
        with torch.no_grad():
            out = pipe(val["src_image"], val["src_depth"], val["src_intrinsics"], val["tgt_intrinsics"],
                       relative_transform(val["src_c2w"], val["tgt_c2w"]), height=32, width=32,
                       num_inference_steps=1, guidance_scale=1.0, generator=torch.Generator().manual_seed(0))
        parts.model.train()
        return float(psnr(out.images, val["tgt_image"], (out.visibility > 0.5).float()).nanmean())

    t0 = time.time()
    for step in range(1, steps + 1):
        loss = objective(pairs(train, "train", bs, step * bs), generator=torch.Generator().manual_seed(step)).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parts.model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad()
        if step % 100 == 0:
            print(f"gap {gap} step {step}: loss {loss.item():.4f}, one-step visible PSNR {visible_psnr():.2f} "
                  f"[{time.time() - t0:.0f} s]", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
