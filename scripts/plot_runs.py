#!/usr/bin/env python
"""Plot the training curves and validation metrics of several run folders side by side.

    python scripts/plot_runs.py runs/multirun/<time>/0 runs/multirun/<time>/1 --out compare.png
    python scripts/plot_runs.py runs/a runs/b --tags train/loss val/psnr --labels lr1e-3 lr1e-4

Reads the TensorBoard event files under each ``<run>/logs`` (no browser, no TensorBoard server):
one panel per scalar tag, one line per run (label: ``--labels``, else the folder's name, or its
overrides.yaml when the names are the job numbers of a sweep). Writes a PNG.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path


def read_scalars(run: Path) -> dict[str, list[tuple[int, float]]]:
    """``tag → [(step, value), …]`` from every TensorBoard event file under ``run`` (sorted by step)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    series: dict[str, dict[int, float]] = {}
    for events in sorted(Path(run).rglob("events.out.tfevents*")):
        acc = EventAccumulator(str(events), size_guidance={"scalars": 0})
        acc.Reload()
        for tag in acc.Tags().get("scalars", []):
            for event in acc.Scalars(tag):
                series.setdefault(tag, {})[event.step] = event.value  # a resumed run's later write wins
    return {tag: sorted(points.items()) for tag, points in series.items()}


def run_label(run: Path) -> str:
    overrides = run / "overrides.yaml"
    if run.name.isdigit() and overrides.is_file():  # a sweep job: say what it changed
        from omegaconf import OmegaConf

        keep = [o for o in OmegaConf.load(overrides) if not str(o).startswith(("hydra.", "output_dir"))]
        return f"{run.name}: " + " ".join(map(str, keep))[:60]
    return run.name


def plot_runs(runs: list[Path], out: Path, tags: list[str] | None = None, labels: list[str] | None = None) -> list[str]:
    """Write the comparison PNG to ``out``; returns the tags plotted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = [read_scalars(r) for r in runs]
    found = sorted(set().union(*[d.keys() for d in data]))
    if not found:
        raise SystemExit(f"error: no TensorBoard scalars under {', '.join(map(str, runs))} (logger=none runs log none)")
    tags = [t for t in (tags or found) if t in found]
    if not tags:
        raise SystemExit(f"error: none of the tags asked for were logged; logged: {', '.join(found)}")
    labels = labels or [run_label(r) for r in runs]
    cols = min(3, len(tags))
    rows = math.ceil(len(tags) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.4 * rows), squeeze=False)
    for ax, tag in zip(axes.flat, tags):
        for d, label in zip(data, labels):
            if tag in d:
                steps, values = zip(*d[tag])
                ax.plot(steps, values, marker="o" if len(steps) < 20 else None, ms=3, label=label)
        ax.set_title(tag)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(tags):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return tags


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="run folders (each with logs/ from logger=default or wandb)")
    parser.add_argument("--out", type=Path, default=Path("runs_compare.png"), help="PNG to write (runs_compare.png)")
    parser.add_argument("--tags", nargs="+", help="scalar tags to plot (default: every tag logged)")
    parser.add_argument("--labels", nargs="+", help="one legend label per run (default: folder names)")
    args = parser.parse_args(argv)
    if args.labels and len(args.labels) != len(args.runs):
        parser.error(f"--labels: {len(args.labels)} labels for {len(args.runs)} runs")
    missing = [str(r) for r in args.runs if not r.is_dir()]
    if missing:
        parser.error(f"not a folder: {', '.join(missing)}")
    tags = plot_runs(args.runs, args.out, args.tags, args.labels)
    print(f"{len(tags)} panel(s), {len(args.runs)} run(s) → {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
