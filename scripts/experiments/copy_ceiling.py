#!/usr/bin/env python
"""How well can copying source pixels score on the visible target region, per token size?
(docs/learning.md, section 5c.)

A model whose augmented attention finds the true source token of every target token and copies
it can do no better than moving whole tokens: with the pixel-unshuffle codec at factor f a token
is an f×f pixel block. This prints, on the committed synthetic index, the visible-region PSNR of
the warp itself (forward splatting, what warp-only shows), of inverse sampling the source at the
exact correspondence (nearest / bilinear), and of copying whole f×f source tokens (nearest token,
or a bilinear blend of the four nearest tokens) for each factor.

    python scripts/experiments/copy_ceiling.py [--resolution 32] [--factors 2 4]
"""

from __future__ import annotations

import argparse

import torch
from torch.nn import functional as F
from torch.utils.data import default_collate


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--resolution", type=int, default=32)
    p.add_argument("--factors", type=int, nargs="+", default=[2, 4])
    a = p.parse_args(argv)

    from genwarp.data import SyntheticScenesDataset, load_eval_index
    from genwarp.evaluation.datasets import default_index_path
    from genwarp.evaluation.metrics import psnr
    from genwarp.geometry import build_conditions, relative_transform

    index = load_eval_index(default_index_path("synthetic"))
    entries = index["entries"] if isinstance(index, dict) else index.entries
    data = SyntheticScenesDataset("test", a.resolution)
    b = default_collate([data.get_pair(e["scene"], e["src_index"], e["tgt_index"]) for e in entries])
    c = build_conditions("coords", b["src_image"], b["src_depth"], b["src_intrinsics"], b["tgt_intrinsics"],
                         relative_transform(b["src_c2w"], b["tgt_c2w"]), num_frequencies=0)
    vis = (c.visibility > 0.5).float()
    src, tgt = b["src_image"], b["tgt_image"]
    xy = c.target[:, :2].float()  # source (x, y) in (0, 1), pixel centres, at each visible target pixel

    def score(img):
        return float(psnr(img.clamp(0, 1), tgt, vis).nanmean())

    grid = (xy * 2 - 1).permute(0, 2, 3, 1)
    rows = [("forward warp (warp-only)", score(c.warped_image)),
            ("inverse sampling, nearest pixel", score(F.grid_sample(src, grid, mode="nearest", align_corners=False))),
            ("inverse sampling, bilinear", score(F.grid_sample(src, grid, mode="bilinear", align_corners=False)))]
    for f in a.factors:
        n = a.resolution // f
        cover = F.avg_pool2d(vis, f)
        token_xy = F.avg_pool2d(xy * vis, f) / cover.clamp(min=1e-6)  # mean source position of each target token
        blocks = F.pixel_unshuffle(src, f)  # (b, 3f², n, n): one f×f source block per token
        nearest = (token_xy * n - 0.5).round().clamp(0, n - 1).long()
        flat = (nearest[:, 1] * n + nearest[:, 0]).flatten(1).unsqueeze(1).expand(-1, blocks.shape[1], -1)
        copied = torch.gather(blocks.flatten(2), 2, flat).view_as(blocks)
        blended = F.grid_sample(blocks, (token_xy * 2 - 1).permute(0, 2, 3, 1), mode="bilinear", align_corners=False)
        rows.append((f"copy whole {f}×{f} tokens, nearest token", score(F.pixel_shuffle(copied, f))))
        rows.append((f"copy whole {f}×{f} tokens, bilinear over tokens", score(F.pixel_shuffle(blended, f))))
    print(f"{len(entries)} pairs of the committed synthetic index at {a.resolution}²; PSNR on the visible target region")
    print("| copying | visible PSNR |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value:.2f} |")


if __name__ == "__main__":
    main()
