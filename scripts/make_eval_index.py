#!/usr/bin/env python
"""Build a frozen evaluation index (mid-range / long-range pairs) for a dataset.

    python scripts/make_eval_index.py --dataset synthetic --out data/eval_index_synthetic_test.json
    python scripts/make_eval_index.py --dataset re10k --root RE10K --split test --out data/eval_index_re10k_test.json
    python scripts/make_eval_index.py --dataset scannet --root SCANNET --scene-list scannetv2_test.txt \
        --out data/eval_index_scannet_test.json [--mid 30 60 --long 90 180] [--pairs-per-scene 2]

Deterministic for a given seed, rule and set of available frames. The rule (frame-gap windows for
"mid" and "long", see genwarp/data/eval_index.py) is recorded inside the JSON. Defaults per
dataset: genwarp.data.DEFAULT_RULES.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", required=True, choices=["re10k", "acid", "scannet", "synthetic"])
    p.add_argument("--root", type=Path)
    p.add_argument("--split", default="test")
    p.add_argument("--layout", default="raw", choices=["raw", "chunks"])
    p.add_argument("--frames-root", type=Path, default=None)
    p.add_argument("--scene-list", type=Path, default=None, help="ScanNet: file with one scene per line")
    p.add_argument("--num-test-scenes", type=int, default=64, help="synthetic: number of test scenes")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pairs-per-scene", type=int, default=None, help="pairs per scene and range (default: the rule's)")
    p.add_argument("--mid", type=int, nargs=2, default=None, metavar=("MIN", "MAX"))
    p.add_argument("--long", type=int, nargs=2, default=None, metavar=("MIN", "MAX"))
    p.add_argument("--out", required=True, type=Path)
    args = p.parse_args(argv)

    from genwarp.data import DEFAULT_RULES, FrameGapRule, RealEstate10KDataset, ScanNetDataset, SyntheticScenesDataset
    from genwarp.data.eval_index import build_eval_index, save_eval_index

    if args.dataset == "synthetic":
        ds = SyntheticScenesDataset("test", 64, num_test_scenes=args.num_test_scenes, shuffle=False)
    elif args.root is None:
        p.error("--root is required for this dataset")
    elif args.dataset in ("re10k", "acid"):
        ds = RealEstate10KDataset(args.root, args.split, layout=args.layout, frames_root=args.frames_root, name=args.dataset, shuffle=False)
    else:
        ds = ScanNetDataset(args.root, scenes=args.scene_list, shuffle=False)
    rule = DEFAULT_RULES[args.dataset]
    if args.mid or args.long:
        ranges = dict(rule.ranges)
        if args.mid:
            ranges["mid"] = tuple(args.mid)
        if args.long:
            ranges["long"] = tuple(args.long)
        desc = ", ".join(f"{k} {lo}-{hi} frames" for k, (lo, hi) in ranges.items())
        rule = FrameGapRule(ranges, rule.both_directions, rule.pairs_per_scene, f"custom: {desc}")
    if args.pairs_per_scene:
        rule = rule.with_pairs_per_scene(args.pairs_per_scene)
    index = build_eval_index(ds, rule, seed=args.seed, split=args.split if args.dataset != "synthetic" else "test",
                             extra={"created_by": "scripts/make_eval_index.py"})
    save_eval_index(index, args.out)
    print(f"{args.out}: {index['num_entries']} pairs over {index['num_scenes']} scenes {index['counts']}")
    if index["skipped_scenes"]:
        print(f"skipped scenes: {index['skipped_scenes']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
