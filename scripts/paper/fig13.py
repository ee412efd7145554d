#!/usr/bin/env python
"""Fig. 13: LPIPS(generated, target) against the invisible-region ratio of the pair, per method.

    python scripts/paper/fig13.py --runs <eval dir> [<eval dir> ...] --out outputs/paper [--bins 5]
"""

from __future__ import annotations

import argparse
import json

from genwarp.evaluation.paper import fig13_lpips_vs_invisible


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", nargs="+", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--bins", type=int, default=5)
    a = p.parse_args(argv)
    curves = fig13_lpips_vs_invisible(a.runs, a.out, a.bins)
    print(json.dumps(curves, indent=1))


if __name__ == "__main__":
    main()
