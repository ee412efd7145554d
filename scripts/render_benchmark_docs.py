#!/usr/bin/env python
"""Rewrite the generated benchmark blocks of README.md and docs/performance.md from the committed
result files in docs/results/ (written by scripts/benchmark.py; see genwarp/perf/report.py), and
each result file's markdown twin (``.md``) from its JSON with scripts/benchmark.py's own writer.

    python scripts/render_benchmark_docs.py          # rewrite the blocks
    python scripts/render_benchmark_docs.py --check  # exit 1 when a block differs from the files
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a block is out of date")
    args = parser.parse_args(argv)
    from genwarp.perf.report import render

    sys.path.insert(0, str(REPO / "scripts"))
    import json

    from benchmark import markdown

    texts = render(REPO)
    for path in sorted((REPO / "docs" / "results").glob("benchmark_*.json")):
        data = json.loads(path.read_text())
        texts[path.with_suffix(".md")] = markdown(data["results"], data["meta"])
    stale = []
    for path, text in texts.items():
        if path.read_text() != text:
            stale.append(path.relative_to(REPO))
            if not args.check:
                path.write_text(text)
    verb = "out of date" if args.check else "rewritten"
    print("\n".join(f"{p}: {verb}" for p in stale) or "all generated blocks are up to date")
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
