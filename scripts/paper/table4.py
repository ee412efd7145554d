#!/usr/bin/env python
"""Table 4: attention mass on source vs target tokens, for visible vs invisible target regions.

    python scripts/paper/table4.py --checkpoint <export> --out outputs/paper
    python scripts/paper/table4.py --release-root <release> --release-variant multi1 --resolution 512 --out ...
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _analysis_args import add_data_args, batches_from, sampler_kwargs

from genwarp.evaluation.paper import load_pipeline, table4_attention_mass


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--release-root", default=None)
    p.add_argument("--release-variant", default="multi1")
    p.add_argument("--out", required=True)
    add_data_args(p)
    a = p.parse_args(argv)
    pipe = load_pipeline(a.checkpoint, a.release_root, a.release_variant, a.device)
    table4_attention_mass(pipe, batches_from(a)(), a.out, **sampler_kwargs(a))
    print((Path(a.out) / "table4.md").read_text())


if __name__ == "__main__":
    main()
