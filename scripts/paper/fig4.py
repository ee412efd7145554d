#!/usr/bin/env python
"""Attention maps of chosen target query pixels over the source (the paper's Fig. 4).

    python scripts/paper/fig4.py --checkpoint <export> --queries 0.3,0.5 0.7,0.4 --limit 2 --out outputs/paper
"""

from __future__ import annotations

import argparse

from _analysis_args import add_data_args, batches_from, sampler_kwargs

from genwarp.evaluation.paper import fig4_attention_maps, load_pipeline


def _point(text: str) -> tuple[float, float]:
    x, y = (float(v) for v in text.split(","))
    if not (0 <= x <= 1 and 0 <= y <= 1):
        raise argparse.ArgumentTypeError(f"query {text!r}: x,y must be normalised to [0, 1]")
    return x, y


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--release-root", default=None)
    p.add_argument("--release-variant", default="multi1")
    p.add_argument("--queries", nargs="+", type=_point, default=[(0.5, 0.5)], help="normalised x,y of target pixels")
    p.add_argument("--out", required=True)
    add_data_args(p)
    a = p.parse_args(argv)
    pipe = load_pipeline(a.checkpoint, a.release_root, a.release_variant, a.device)
    fig4_attention_maps(pipe, batches_from(a)(), a.queries, a.out, **sampler_kwargs(a))
    print(f"wrote {a.out}/fig4_attention.png and fig4_attention.json")


if __name__ == "__main__":
    main()
