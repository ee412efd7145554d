#!/usr/bin/env python
"""Benchmarks: sampling latency (and, where available, data-loader throughput).

Prints a table and writes JSON. On a GPU the default is the SD-1.5-sized architecture with random
weights at 512×512, 20 DDIM steps, CFG 3.5 (the settings of the release anchors: 1.43 s for one
view, 1.71 s for four, fp16, H100); on a CPU the tiny architecture at 64×64.

    python scripts/benchmark.py                          # everything that applies here
    python scripts/benchmark.py --only sampling --arch sd15 --dtype bf16 --resolution 512
    python scripts/benchmark.py --only data

"end to end" = image + depth in, image out: input checks, warp/conditions, CLIP, VAE encode, the
reference pass, all denoising steps, VAE decode (depth estimation excluded). Timings are the
median and 90th percentile over ``--repeats`` runs after ``--warmup`` runs.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def bench_sampling(args, device: torch.device) -> list[dict]:
    from genwarp.geometry import fov_to_intrinsics
    from genwarp.pipelines.factory import random_pipeline

    arch = args.arch if args.arch != "auto" else ("sd15" if device.type == "cuda" else "tiny")
    res = args.resolution or (512 if device.type == "cuda" else 64)
    dtype = DTYPES[args.dtype or ("bf16" if device.type == "cuda" else "fp32")]
    pipe = random_pipeline(arch, seed=0, randomize=arch == "tiny")
    torch.nn.Module.to(pipe.model, device=device, dtype=dtype)
    torch.nn.Module.to(pipe.codec, device=device, dtype=dtype)
    torch.nn.Module.to(pipe.image_encoder, device=device, dtype=dtype)
    pipe.set_progress_bar_config(disable=True)

    rows = []
    for mode, count in [(m, c) for c in args.batch_sizes for m in ("views", "sources")]:
        if count == 1 and mode == "sources":
            continue  # same as one view
        b, n = (1, count) if mode == "views" else (count, 1)
        gen = torch.Generator().manual_seed(0)
        image = torch.rand(b, 3, res, res, generator=gen, device="cpu").to(device)
        depth = (1.0 + 3.0 * torch.rand(b, 1, res, res, generator=gen)).to(device)
        K = fov_to_intrinsics(torch.full((b,), 0.9), 1.0).to(device)
        T = torch.eye(4).repeat(b, n, 1, 1)
        T[..., 0, 3] = torch.linspace(-0.3, 0.3, n)
        T = (T if mode == "views" else T[:, 0]).to(device)

        def run():
            pipe(image, depth, K, K, T, height=res, width=res, num_inference_steps=args.steps,
                 guidance_scale=args.guidance, generator=torch.Generator().manual_seed(1))

        for _ in range(args.warmup):
            run()
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        times = []
        for _ in range(args.repeats):
            _sync(device)
            start = time.perf_counter()
            run()
            _sync(device)
            times.append(time.perf_counter() - start)
        rows.append({
            "benchmark": "sampling",
            "arch": arch,
            "resolution": res,
            "steps": args.steps,
            "guidance": args.guidance,
            "dtype": str(dtype).removeprefix("torch."),
            "sources": b,
            "views_per_source": n,
            "median_s": statistics.median(times),
            "p90_s": _percentile(times, 0.9),
            "views_per_s": b * n / statistics.median(times),
            "peak_mem_gb": torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None,
            "repeats": args.repeats,
        })
        print(f"  sampled {b} source(s) × {n} view(s): median {rows[-1]['median_s']:.3f} s", flush=True)
    return rows


def bench_data(args) -> list[dict]:
    try:
        from genwarp.data import SyntheticScenesDataset
        from genwarp.data.throughput import measure_pairs_per_second
    except ImportError as err:  # pragma: no cover - the data package is optional here
        print(f"  data benchmark skipped: {err}")
        return []
    rows = []
    for res in args.data_resolutions:
        dataset = SyntheticScenesDataset(split="train", resolution=res)
        stats = measure_pairs_per_second(dataset, num_pairs=args.data_pairs, num_workers=args.data_workers)
        rows.append({"benchmark": "data", "dataset": "synthetic", **stats})
        print(f"  synthetic {res}×{res}: {stats['pairs_per_second']:.1f} pairs/s", flush=True)
    return rows


def print_table(rows: list[dict]) -> None:
    for kind in dict.fromkeys(r["benchmark"] for r in rows):
        subset = [r for r in rows if r["benchmark"] == kind]
        keys = [k for k in subset[0] if k != "benchmark"]
        fmt = [f"{v:.3f}" if isinstance(v, float) else str(v) for r in subset for v in (r[k] for k in keys)]
        widths = [max(len(k), *(len(fmt[i * len(keys) + j]) for i in range(len(subset)))) for j, k in enumerate(keys)]
        print(f"\n{kind}")
        print(" | ".join(k.ljust(w) for k, w in zip(keys, widths)))
        print("-|-".join("-" * w for w in widths))
        for i in range(len(subset)):
            print(" | ".join(fmt[i * len(keys) + j].ljust(w) for j, w in enumerate(widths)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["sampling", "data"], nargs="+", default=["sampling", "data"])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--arch", choices=["auto", "tiny", "sd15"], default="auto")
    parser.add_argument("--resolution", type=int, default=None, help="default 512 on GPU, 64 on CPU")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default=None, help="default bf16 on GPU, fp32 on CPU")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--guidance", type=float, default=3.5)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--data-resolutions", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--data-pairs", type=int, default=200)
    parser.add_argument("--data-workers", type=int, default=0)
    parser.add_argument("--output", type=Path, default=Path("outputs/benchmark.json"))
    args = parser.parse_args()

    device = torch.device(args.device)
    rows: list[dict] = []
    if "sampling" in args.only:
        print("sampling …", flush=True)
        rows += bench_sampling(args, device)
    if "data" in args.only:
        print("data …", flush=True)
        rows += bench_data(args)
    print_table(rows)
    meta = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
        "cpu_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"meta": meta, "results": rows}, indent=2))
    print(f"\nwrote {args.output}")


if __name__ == "__main__":
    main()
