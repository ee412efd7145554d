#!/usr/bin/env python
"""Does a trained model use its source? Sampler sweep, attention flow, source-swap sensitivity and
condition-feature scale of a run's export, on the run's validation pairs (docs/learning.md).

    python scripts/diagnose.py runs/synthetic_tiny
    python scripts/diagnose.py runs/synthetic_tiny --pairs 16 --settings 1:1.0 4:1.0 20:3.5

Writes <run>/diagnostics.json and <run>/diagnostics.md (or --out <prefix>).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", type=Path, help="run folder (holds config.yaml and the export in model/)")
    p.add_argument("--pairs", type=int, default=16, help="validation pairs to use (first of data.val_index)")
    p.add_argument("--settings", nargs="+", default=["1:1.0", "20:1.0", "20:3.5"],
                   help="sampler settings steps:guidance to sweep (default: 1:1.0 20:1.0 20:3.5)")
    p.add_argument("--out", type=Path, default=None, help="output prefix (default: <run>/diagnostics)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    config, export = args.run / "config.yaml", args.run / "model"
    if not config.is_file() or not (export / "model_index.json").is_file():
        print(f"diagnose.py: error: {args.run} is not a finished run folder (needs config.yaml and model/, "
              "the export written at the end of scripts/train.py)", file=sys.stderr)
        return 2
    try:
        settings = [(int(s.split(":")[0]), float(s.split(":")[1])) for s in args.settings]
    except (IndexError, ValueError):
        print(f"diagnose.py: error: --settings takes steps:guidance items such as 20:3.5, got {args.settings}",
              file=sys.stderr)
        return 2

    import torch

    from genwarp.evaluation import diagnostics as d

    t0 = time.perf_counter()
    _, pipe, batch = d.load_run(args.run, args.pairs)
    with torch.no_grad():
        report = {
            "run": str(args.run), "pairs": int(batch["src_image"].shape[0]),
            "sampler": d.sampler_sweep(pipe, batch, settings),
            "attention_flow": d.attention_flow(pipe, batch),
            "source_swap": d.source_swap_sensitivity(pipe, batch),
            "source_colour": d.source_colour_sensitivity(pipe, batch),
            "condition_scale": d.condition_feature_scale(pipe, batch),
        }
    report["wall_s"] = round(time.perf_counter() - t0, 1)
    prefix = args.out or args.run / "diagnostics"
    prefix.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{prefix}.json").write_text(json.dumps(report, indent=2))
    md = [f"# Diagnostics of {args.run} ({report['pairs']} validation pairs)", "",
          f"Command: `python scripts/diagnose.py {' '.join(sys.argv[1:]) if argv is None else ' '.join(argv)}`", "",
          "| steps | guidance | psnr | psnr visible | psnr invisible | warp-only psnr | warp-only visible |",
          "|---|---|---|---|---|---|---|"]
    for r in report["sampler"]:
        md.append(f"| {r['steps']} | {r['guidance']} | {r['psnr']:.2f} | {r['psnr_visible']:.2f} | "
                  f"{r['psnr_invisible']:.2f} | {r['psnr_warp_only']:.2f} | {r['psnr_warp_only_visible']:.2f} |")
    md += ["", "| reader layer | tokens | source mass | peak weight | flow accuracy | chance |", "|---|---|---|---|---|---|"]
    for r in report["attention_flow"]:
        md.append(f"| {r['layer']} | {r['grid']}² | {r['source_mass']:.3f} | {r['peak_weight']:.3f} | "
                  f"{r['flow_accuracy']:.3f} | {r['chance']:.3f} |")
    s, c, k = report["source_swap"], report["condition_scale"], report["source_colour"]
    md += ["", f"Source swap: visible-region change {s['visible_change_rms']:.4f} rms for a source change of "
               f"{s['source_change_rms']:.4f} (relative {s['relative']:.3f}; 0 = the source is ignored).", "",
           f"Source colours rotated (R→G→B→R): relative change {k['relative']:.3f} (0 = the colours do not come from "
           f"the source); colourfulness of the visible region {k['chroma_generated']:.4f} generated, "
           f"{k['chroma_target']:.4f} target (0 = grey); the targets' own grey versions score "
           f"{k['psnr_grey_target']:.2f} dB PSNR.", "",
           f"Condition features: target {c['target_condition_rms']:.3f} rms, source {c['source_condition_rms']:.3f}; "
           f"denoiser conv_in output {c['conv_in_clean_rms']:.3f} (clean latents), {c['conv_in_noise_rms']:.3f} "
           f"(noise); latents mean {c['latent_mean']:.3f}, std {c['latent_std']:.3f}.", ""]
    Path(f"{prefix}.md").write_text("\n".join(md))
    print("\n".join(md))
    print(f"written: {prefix}.json, {prefix}.md ({report['wall_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
