#!/usr/bin/env python
"""Where a trained model's source colours get lost (docs/learning.md, section 8).

    python scripts/experiments/colour_path.py <run> [--pairs 16]
    python scripts/experiments/colour_path.py <run> --grids     # colourfulness of every validation grid

For the run's export, on its first validation pairs, one DDIM step without guidance: the relative
rms change of the preserver's ``conv_in`` output, of every banked transformer input (``norm1``) and
of the denoiser's reader attention outputs and output head, when the source's colour channels are
rotated (R→G→B→R: colour changed, luminance kept) and when every pair gets another pair's source.
The same for the preserver's ``conv_in`` of a freshly initialised model of the run's config.
A layer that follows the swap but not the rotation carries the source's luminance, not its colours.

``--grids`` instead prints, for every ``<run>/val/step_*.png``, the colourfulness (mean absolute
deviation of a pixel's channels from their mean; grey = 0) of its generated and target columns.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def relative_changes(pipe, batch) -> dict[str, tuple[float, float]]:
    """Layer name → (change under colour rotation, change under source swap), relative rms."""
    import torch

    from genwarp.geometry import relative_transform

    den, pre = pipe.model.denoiser, pipe.model.preserver
    wanted = [("preserver." + n, m) for n, m in pre.named_modules() if n == "conv_in" or (".transformer_blocks." in n and n.endswith("norm1"))]
    wanted += [(n, m) for n, m in den.named_modules() if n.endswith("attn1") or n in ("conv_norm_out", "conv_out")]
    acts: dict[str, list] = {}
    handles = [m.register_forward_hook(lambda _m, _i, o, n=n: acts.setdefault(n, []).append(o.detach().clone()))
               for n, m in wanted]
    src = batch["src_image"]
    for image in (src, src[:, [2, 0, 1]], src.roll(1, 0)):
        with torch.no_grad():
            pipe(image, batch["src_depth"], batch["src_intrinsics"], batch["tgt_intrinsics"],
                 relative_transform(batch["src_c2w"], batch["tgt_c2w"]), height=src.shape[-2], width=src.shape[-1],
                 num_inference_steps=1, guidance_scale=1.0, generator=torch.Generator().manual_seed(0))
    for h in handles:
        h.remove()

    return {n: (relative_rms(v[0], v[1]), relative_rms(v[0], v[2])) for n, v in acts.items() if len(v) == 3}


def relative_rms(a, b) -> float:
    """rms of ``a − b`` relative to the rms of ``a``."""
    return float(((a - b).pow(2).mean() / a.pow(2).mean()).sqrt())


def grid_colourfulness(run: Path) -> int:
    """Colourfulness of the generated and target columns of each validation grid of ``run``."""
    import numpy as np
    from PIL import Image

    from genwarp.training.validation import GRID_COLUMNS

    gen_col, tgt_col = GRID_COLUMNS.index("generated"), GRID_COLUMNS.index("target")
    grids = sorted((run / "val").glob("step_*.png"))
    if not grids:
        print(f"no validation grids in {run / 'val'}")
        return 2

    def colourfulness(grid: np.ndarray, col: int) -> float:
        width = grid.shape[1] // len(GRID_COLUMNS)
        x = grid[:, col * width:(col + 1) * width]
        return float(np.abs(x - x.mean(axis=2, keepdims=True)).mean())

    for path in grids:
        grid = np.asarray(Image.open(path).convert("RGB")).astype(np.float64) / 255.0
        print(f"{path.name}: generated {colourfulness(grid, gen_col):.4f}, target {colourfulness(grid, tgt_col):.4f}")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path)
    p.add_argument("--pairs", type=int, default=16)
    p.add_argument("--grids", action="store_true", help="colourfulness of the validation grids instead")
    a = p.parse_args(argv)
    if a.grids:
        return grid_colourfulness(a.run)

    import torch
    from omegaconf import OmegaConf

    from genwarp.evaluation.diagnostics import load_run
    from genwarp.models.codecs import encode_images
    from genwarp.training.build import build_components
    from genwarp.training.config import ModelConfig

    torch.set_num_threads(1)
    cfg, pipe, batch = load_run(a.run, a.pairs)
    print(f"{'layer':64s} colour rotated   source swapped")
    for name, (rot, swap) in relative_changes(pipe, batch).items():
        print(f"{name:64s} {rot:14.3f} {swap:16.3f}")
    torch.manual_seed(int(cfg.trainer.seed))
    fresh = build_components(OmegaConf.merge(OmegaConf.structured(ModelConfig), cfg.model))  # freshly initialised
    src = batch["src_image"]
    scale = float(cfg.model.latent_scale) if cfg.model.latent_scale is not None else 1.0
    with torch.no_grad():
        lat, rot = encode_images(fresh.codec, src, scale), encode_images(fresh.codec, src[:, [2, 0, 1]], scale)
        x, y = fresh.model.preserver.conv_in(lat), fresh.model.preserver.conv_in(rot)
    print(f"{'preserver.conv_in at initialisation':64s} {relative_rms(x, y):14.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
