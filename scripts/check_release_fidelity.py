#!/usr/bin/env python
"""Compare our sampler with the release's own outputs on the release_tiny golden.

The golden (``tests/goldens/release_tiny``, committed) holds a tiny random GenWarp in the release's
checkpoint layout and what the authors' inference code produced for it, given fixed inputs and
initial noise. This loads the checkpoint with ``GenWarpPipeline.from_release``, samples with the
same inputs and noise, and prints the max abs difference of every output.

    python scripts/check_release_fidelity.py --golden tests/goldens/release_tiny
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

# numpy, torch and genwarp are imported after the arguments are parsed, so that --help answers at once.

OUTPUTS = {"images": "out_synthesized", "warped": "out_warped", "visibility": "out_mask",
           "correspondence": "out_correspondence"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--golden", type=Path, default=Path(__file__).resolve().parents[1] / "tests/goldens/release_tiny",
                        help="golden folder with checkpoints/ and golden_*.npz (default: tests/goldens/release_tiny)")
    parser.add_argument("--output", type=Path, default=None, help="optional JSON with the differences")
    args = parser.parse_args()
    if not (args.golden / "checkpoints").is_dir():
        raise SystemExit(f"golden not found: {args.golden} (expected checkpoints/ and golden_*.npz inside)")

    import numpy as np
    import torch

    from genwarp import GenWarpPipeline
    from genwarp.geometry import from_opengl

    pipe = GenWarpPipeline.from_release(args.golden / "checkpoints", "tiny")
    pipe.set_progress_bar_config(disable=True)
    report = {}
    for npz in sorted(args.golden.glob("golden_*.npz")):
        g = {k: torch.from_numpy(v) for k, v in np.load(npz).items()}
        h, w = g["out_synthesized"].shape[-2:]
        cams = from_opengl(g["in_src_proj_mtx"], g["in_tar_proj_mtx"], g["in_rel_view_mtx"], h, w)
        out = pipe(g["in_src_image"], g["in_src_depth"], cams.src_intrinsics, cams.tgt_intrinsics, cams.src_to_tgt,
                   height=h, width=w, num_inference_steps=len(g["timesteps"]), guidance_scale=3.5,
                   latents=g["init_noise"], near=cams.near, far=cams.far)
        diffs = {ours: float((getattr(out, ours) - g[theirs]).abs().max()) for ours, theirs in OUTPUTS.items()}
        report[npz.stem] = diffs
        print(f"{npz.stem} (batch {g['in_src_image'].shape[0]}, input {tuple(g['in_src_image'].shape[-2:])}): "
              + ", ".join(f"{k} max|Δ| {v:.2e}" for k, v in diffs.items()))
    if args.output:
        args.output.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
