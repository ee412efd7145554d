#!/usr/bin/env python
"""Estimate depth for every frame of a dataset and cache it (float16, resumable).

    python scripts/precompute_depth.py --dataset re10k --root RE10K --split train \
        --estimator zoedepth-nyu --cache cache/depth/zoedepth-nyu [--layout raw|chunks] \
        [--frames-root DIR] [--device cuda] [--batch-size 8] [--max-side 512] \
        [--align-pairs 8 --align-gap 5 30] [--scenes ID ...] [--limit-scenes N]

Writes ``<cache>/<dataset>/<scene>/<frame>.npy``; frames already cached are skipped, so an
interrupted run resumes where it stopped. ``--align-pairs N`` also estimates a per-scene
photometric scale (RealEstate10K/ACID poses have an arbitrary scale) into ``scale.json``; loaders
given the cache (``depth=DepthCache(...)``) then return depth in the units of the poses.
``--estimator`` takes a preset (zoedepth-nyu, zoedepth-nyu-kitti, depth-anything-v2-metric-indoor,
depth-anything-v2-metric-outdoor, ...), a hub id or a local model folder.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch


def build_dataset(args: argparse.Namespace):
    from genwarp.data import RealEstate10KDataset, ScanNetDataset, SyntheticScenesDataset

    if args.dataset in ("re10k", "acid"):
        return RealEstate10KDataset(args.root, args.split, layout=args.layout, frames_root=args.frames_root, name=args.dataset, shuffle=False)
    if args.dataset == "scannet":
        return ScanNetDataset(args.root, scenes=args.scene_list, depth="none", shuffle=False)
    if args.dataset == "synthetic":
        return SyntheticScenesDataset("test", args.resolution, num_test_scenes=args.num_test_scenes, depth="none", shuffle=False)
    raise ValueError(args.dataset)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", required=True, choices=["re10k", "acid", "scannet", "synthetic"])
    p.add_argument("--root", type=Path, help="dataset root (not needed for synthetic)")
    p.add_argument("--split", default="train")
    p.add_argument("--layout", default="raw", choices=["raw", "chunks"])
    p.add_argument("--frames-root", type=Path, default=None)
    p.add_argument("--scene-list", type=Path, default=None, help="ScanNet: file with one scene per line")
    p.add_argument("--resolution", type=int, default=256, help="synthetic: render size")
    p.add_argument("--num-test-scenes", type=int, default=64, help="synthetic: number of test scenes")
    p.add_argument("--estimator", default="zoedepth-nyu")
    p.add_argument("--cache", required=True, type=Path)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--max-side", type=int, default=None)
    p.add_argument("--align-pairs", type=int, default=0, help="pairs per scene for the photometric scale (0: none)")
    p.add_argument("--align-gap", type=int, nargs=2, default=(5, 30), metavar=("MIN", "MAX"))
    p.add_argument("--scenes", nargs="*", default=None)
    p.add_argument("--limit-scenes", type=int, default=None)
    p.add_argument("--local-files-only", action="store_true", help="never download the model")
    args = p.parse_args(argv)

    from genwarp.data import DepthCache
    from genwarp.data.precompute import precompute_depth
    from genwarp.depth import DepthModelNotFoundError, HFDepthEstimator

    if args.dataset != "synthetic" and args.root is None:
        p.error("--root is required for this dataset")
    dataset = build_dataset(args)
    scenes = args.scenes if args.scenes else dataset.scene_names()
    if args.limit_scenes:
        scenes = scenes[: args.limit_scenes]
    try:
        estimator = HFDepthEstimator(args.estimator, device=args.device, local_files_only=args.local_files_only or None,
                                     batch_size=args.batch_size)
    except DepthModelNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    cache = DepthCache(args.cache, name=estimator.name)
    counts = precompute_depth(dataset, estimator, cache, scenes=scenes, batch_size=args.batch_size, max_side=args.max_side,
                              align_pairs=args.align_pairs, align_gap=tuple(args.align_gap), log=print)
    counts["skips"] = dataset.health.summary()
    print(json.dumps(counts, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
