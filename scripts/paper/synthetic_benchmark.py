#!/usr/bin/env python
"""The synthetic benchmark (issue 5 §5): GenWarp vs warp_only, warp_inpaint and oracle on the committed
synthetic index, with exact and with MDE-like corrupted source depth; PSNR / SSIM / LPIPS by range and by
visible / invisible region. Writes one evaluation folder per (method, depth) and benchmark.{csv,json,md}.

    python scripts/paper/synthetic_benchmark.py --checkpoint runs/synthetic_tiny/model \
        --inpaint-model opencv:telea --out outputs/synthetic_benchmark [--lpips-backbone random]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from genwarp.evaluation.paper import synthetic_benchmark


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default=None, help="GenWarp export folder (omit to skip genwarp)")
    p.add_argument("--inpaint-model", default=None,
                   help="StableDiffusionInpaintPipeline folder, or opencv:telea (omit to skip warp_inpaint)")
    p.add_argument("--corruption", type=float, default=1.0, help="depth.corruption of the noisy-depth setting")
    p.add_argument("--limit", type=int, default=None, help="first N pairs of the index (default: all)")
    p.add_argument("--resolution", type=int, default=None, help="default: configs/data/synthetic.yaml")
    p.add_argument("--metrics", nargs="+", default=["psnr", "ssim", "lpips"])
    p.add_argument("--lpips-backbone", choices=["pretrained", "random"], default="pretrained")
    p.add_argument("--num-inference-steps", type=int, default=20)
    p.add_argument("--guidance-scale", type=float, default=3.5)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    command = " ".join(["python scripts/paper/synthetic_benchmark.py", *(argv if argv is not None else sys.argv[1:])])
    synthetic_benchmark(a.out, checkpoint=a.checkpoint, inpaint_model=a.inpaint_model, corruption=a.corruption,
                        limit=a.limit, resolution=a.resolution, metrics=a.metrics, lpips_backbone=a.lpips_backbone,
                        num_inference_steps=a.num_inference_steps, guidance_scale=a.guidance_scale,
                        batch_size=a.batch_size, device=a.device, seed=a.seed, command=command)
    print((Path(a.out) / "benchmark.md").read_text())


if __name__ == "__main__":
    main()
