#!/usr/bin/env python
"""Fig. 8: distortion LPIPS(generated, target) against difficulty LPIPS(source, target), per method.

    python scripts/paper/fig8.py --runs <eval dir> [<eval dir> ...] --out outputs/paper [--bins 5]
"""

from __future__ import annotations

import argparse
import json

from genwarp.evaluation.paper import fig8_distortion_vs_difficulty


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", nargs="+", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--bins", type=int, default=5)
    a = p.parse_args(argv)
    curves = fig8_distortion_vs_difficulty(a.runs, a.out, a.bins)
    print(json.dumps(curves, indent=1))


if __name__ == "__main__":
    main()
