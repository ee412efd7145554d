#!/usr/bin/env python
"""Table 3: distance between the flow implied by depth and the flow read from the augmented attention
(argmax over source tokens), across training checkpoints: our exports (GenWarpPipeline.save_pretrained) or the
training run's checkpoint folders (<run>/checkpoints/step_*, weights loaded into --base-export <run>/model).

    python scripts/paper/table3.py --base-export runs/x/model --checkpoints runs/x/checkpoints/step_* --out outputs/paper
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _analysis_args import add_data_args, batches_from, sampler_kwargs

from genwarp.evaluation.paper import load_pipeline, table3_attention_flow


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoints", nargs="+", required=True)
    p.add_argument("--labels", nargs="+", default=None, help="one per checkpoint (default: folder names)")
    p.add_argument("--base-export", default=None, help="export folder supplying codec/scheduler for training checkpoints")
    p.add_argument("--out", required=True)
    add_data_args(p)
    a = p.parse_args(argv)
    labels = a.labels or [Path(c).name for c in a.checkpoints]
    if len(labels) != len(a.checkpoints):
        p.error(f"{len(labels)} labels for {len(a.checkpoints)} checkpoints")
    pipes = ((label, load_pipeline(c, device=a.device, base_export=a.base_export)) for label, c in zip(labels, a.checkpoints))
    table3_attention_flow(pipes, batches_from(a), a.out, **sampler_kwargs(a))
    print((Path(a.out) / "table3.md").read_text())


if __name__ == "__main__":
    main()
