#!/usr/bin/env python
"""Median time of one training step (``GenWarpObjective`` forward + backward + AdamW) of the main
job's model, one thread, for model overrides (docs/learning.md, section 5c).

    python scripts/experiments/step_time.py [--batch-size 8] [--steps 8] [pixel_factor=1 ...]

key=value arguments are ``model.*`` fields (ModelConfig) on top of the main job's model: the tiny
pixel-codec model with one layer per block, 6 frequencies and latent scale 2.
"""

from __future__ import annotations

import argparse
import time


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("overrides", nargs="*", help="model.* fields as key=value")
    a = p.parse_args(argv)

    import torch
    from omegaconf import OmegaConf
    from torch.utils.data import default_collate

    from genwarp.data import SyntheticScenesDataset
    from genwarp.models import GenWarpObjective
    from genwarp.training.build import build_components
    from genwarp.training.config import ModelConfig

    torch.set_num_threads(1)
    base = dict(architecture="tiny", init="random", codec="pixel", pixel_factor=2, image_prompt="none",
                unet_overrides={"layers_per_block": 1}, num_frequencies=6, latent_scale=2.0)
    cfg = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(ModelConfig), base, OmegaConf.from_dotlist(a.overrides)))
    parts = build_components(cfg)
    objective = GenWarpObjective(parts.model, parts.codec, None, condition_dropout=0.1, snr_gamma=5.0)
    optimizer = torch.optim.AdamW(parts.model.trainable_parameters(), 1e-3)
    data = SyntheticScenesDataset("train", 32)
    batch = default_collate([data.get_pair(f"train_{i}", 3, 9) for i in range(a.batch_size)])
    times = []
    for step in range(a.steps):
        t0 = time.perf_counter()
        objective(batch, generator=torch.Generator().manual_seed(step)).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        times.append(time.perf_counter() - t0)
    params = sum(p.numel() for p in parts.model.parameters()) / 1e6
    print(f"{' '.join(a.overrides) or 'main job model'}: {params:.2f} M parameters, median step "
          f"{sorted(times)[len(times) // 2]:.3f} s (batch {a.batch_size}, {a.steps} steps, 1 thread)")


if __name__ == "__main__":
    main()
