#!/usr/bin/env python
"""Tables 1 and 2 from evaluation folders (see genwarp.evaluation.paper.table_from_runs).

Table 1 (FID / PSNR, mid / long, RealEstate10K and ScanNet, methods as rows):
    python scripts/paper/runs_table.py --name table1 --runs outputs/eval/genwarp_re10k outputs/eval/genwarp_scannet \
        outputs/eval/warp_inpaint_re10k ... --out outputs/paper
Table 2 (the embedding ablation, rows by the checkpoint's condition_kind):
    python scripts/paper/runs_table.py --name table2 --row-by condition_kind --metrics fid \
        --runs outputs/eval/ablation_embed_coords ... --out outputs/paper
"""

from __future__ import annotations

import argparse

from genwarp.evaluation.paper import table_from_runs


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", nargs="+", required=True, help="evaluation folders (scripts/evaluate.py output_dir)")
    p.add_argument("--out", required=True, help="folder for <name>.csv/.json/.md")
    p.add_argument("--name", default="table1")
    p.add_argument("--metrics", nargs="+", default=["fid", "psnr"])
    p.add_argument("--ranges", nargs="+", default=["mid", "long"])
    p.add_argument("--labels", nargs="+", default=None, help="row labels, one per run (default: method)")
    p.add_argument("--row-by", choices=["method", "condition_kind"], default="method")
    a = p.parse_args(argv)
    rows = table_from_runs(a.runs, a.out, name=a.name, metrics=a.metrics, ranges=a.ranges, labels=a.labels,
                           row_by=a.row_by)
    print((__import__("pathlib").Path(a.out) / f"{a.name}.md").read_text())
    del rows


if __name__ == "__main__":
    main()
