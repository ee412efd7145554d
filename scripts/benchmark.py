#!/usr/bin/env python
"""Benchmarks: sampling latency, training throughput/MFU, data-loader throughput.

Prints a table per section and writes JSON (``{"meta": …, "results": [rows]}``, each row with a
``benchmark`` key). On a GPU the defaults are the settings of the latency anchors: the SD-1.5-sized
architecture with random weights, 512×512, 20 DDIM steps, CFG 3.5, bf16 (the release anchors: 1.43 s
for one view, 1.71 s for four, fp16, H100); on a CPU the tiny architecture at 64×64 in fp32 (a
CPU run only shows that everything runs and what costs more than what; docs/performance.md).

    python scripts/benchmark.py                          # every section, this machine's defaults
    python scripts/benchmark.py --compare                # sampling plain and --optimized side by side
    python scripts/benchmark.py --only sampling --optimized --batch-sizes 1 4
    python scripts/benchmark.py --only training --train-batch-sizes 8 --checkpointing off
    python scripts/benchmark.py --only data training     # data rate next to the training step rate

Sampling: "end to end" = image + depth in, image out: input checks, warp/conditions, CLIP, VAE
encode, the reference pass, all denoising steps, VAE decode (depth estimation excluded). For each
batch size N: one source × N views and N sources × 1 view. Latency = median and 90th percentile
over ``--repeats`` calls after ``--warmup`` calls; ``first_call_s`` is the first call (with
``--optimized`` it includes ``torch.compile`` and CUDA-graph capture for that shape).
``--optimized`` applies :class:`genwarp.perf.SpeedOptions.optimized` (fused QKV; on CUDA also
channels-last, ``torch.compile`` of both U-Nets and CUDA graphs for the loop).

Training: one step of the GenWarp objective (both U-Nets + condition encoder trainable, frozen VAE
and CLIP), fp32 master weights with bf16 autocast (GPU default), fused AdamW on CUDA, for each
batch size with and without gradient checkpointing; MFU = model FLOPs of one step (FlopCounterMode,
no recompute) ÷ median step time ÷ ``--peak-tflops``.

FLOPs: the FLOP budget of every component, sampling call and training sample of the SD-1.5-sized
model (``--flops-arch``), counted with FlopCounterMode on the meta device (no weights, no compute,
any machine), with the FLOP-bound latency at ``--peak-tflops`` and the MFU each target needs.

Data: synthetic scenes written in the RealEstate10K chunk format with a depth cache, read through
the training data path (chunks → TrainPairs → collated batches), pairs/s next to the training
step rate at the same resolution (the target is at least 2×).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

# torch is imported inside the functions that use it, so that --help answers without loading it.

DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}  # --dtype → the torch dtype's name

# Issue 7's anchors and targets (H100 80GB, SD-1.5 size, 512², 20 DDIM steps, CFG 3.5). Constants
# quoted from the issue for comparison columns, not measurements of this script.
RELEASE_ANCHOR_S = {1: 1.43, 4: 1.71}  # views of one source → the release's fp16 latency
TARGET_S = {1: 0.25, 4: 0.35}
ANCHOR_SETTINGS = dict(arch="sd15", resolution=512, steps=20, guidance=3.5)


def _is_cuda(device: torch.device) -> bool:
    return device.type == "cuda"


# ---------------------------------------------------------------------------------------------
# sampling
# ---------------------------------------------------------------------------------------------


def _scene(b: int, n: int, res: int, mode: str, device: torch.device):
    import torch
    from genwarp.geometry import fov_to_intrinsics

    gen = torch.Generator().manual_seed(0)
    image = torch.rand(b, 3, res, res, generator=gen).to(device)
    depth = (1.0 + 3.0 * torch.rand(b, 1, res, res, generator=gen)).to(device)
    K = fov_to_intrinsics(torch.full((b,), 0.9), 1.0).to(device)
    T = torch.eye(4).repeat(b, n, 1, 1)
    T[..., 0, 3] = torch.linspace(-0.3, 0.3, n)
    T = (T if mode == "views" else T[:, 0]).to(device)
    return image, depth, K, K, T


def _build_pipeline(arch: str, dtype: torch.dtype, device: torch.device):
    import torch
    from genwarp.pipelines.factory import random_pipeline

    pipe = random_pipeline(arch, seed=0, randomize=arch == "tiny")
    for module in (pipe.model, pipe.codec, pipe.image_encoder):
        if module is not None:  # nn.Module.to: diffusers' ModelMixin.to warns on every dtype cast
            torch.nn.Module.to(module, device=device, dtype=dtype)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _speed_options(args, device: torch.device):
    from genwarp.perf import SpeedOptions

    overrides = {"compile_backend": args.compile_backend, "compile_mode": args.compile_mode,
                 "reference_layout": args.reference_layout}
    for name in ("fuse_qkv", "channels_last", "compile", "cuda_graphs"):
        if getattr(args, name) is not None:  # an explicit --x / --no-x beats the device default
            overrides[name] = getattr(args, name)
    return SpeedOptions.optimized(device, **overrides)


def _sampling_flops(arch, dtype, device, args, res, configs) -> dict:
    """FLOPs of one call per configuration, counted on the plain pipeline (the same function)."""
    import torch
    from genwarp.perf import count_flops

    pipe = _build_pipeline(arch, dtype, device)
    out = {}
    for b, n, mode in configs:
        scene = _scene(b, n, res, mode, device)
        out[(b, n)] = count_flops(lambda: pipe(*scene, height=res, width=res, num_inference_steps=args.steps,
                                               guidance_scale=args.guidance, generator=torch.Generator().manual_seed(1)))
    del pipe
    return out


def _check_loop_sync(pipe, scene, res, args) -> str:
    """One call with CUDA's sync debug mode set to error inside the denoising loop."""
    import dataclasses

    import torch

    saved = pipe.speed
    pipe.speed = dataclasses.replace(saved, sync_debug=True)
    try:
        pipe(*scene, height=res, width=res, num_inference_steps=args.steps, guidance_scale=args.guidance,
             generator=torch.Generator().manual_seed(1))
        return "none"
    except RuntimeError as err:
        return f"sync: {str(err).splitlines()[0][:200]}"
    finally:
        pipe.speed = saved


def bench_sampling(args, device: torch.device) -> list[dict]:
    import torch
    from genwarp.perf import optimize_pipeline, peak_memory_gb, reset_peak_memory, sampling_tflop, time_calls

    arch = args.arch
    res = args.resolution
    dtype = getattr(torch, DTYPES[args.dtype])
    configs = [(b, n, mode) for c in args.batch_sizes
               for mode, b, n in (("views", 1, c), ("sources", c, 1)) if not (c == 1 and mode == "sources")]
    flops = {} if args.no_flops else _sampling_flops(arch, dtype, device, args, res, configs)
    variants = ["plain", "optimized"] if args.compare else (["optimized"] if args.optimized else ["plain"])
    at_anchor = dict(arch=arch, resolution=res, steps=args.steps, guidance=args.guidance) == ANCHOR_SETTINGS

    rows = []
    for variant in variants:
        pipe = _build_pipeline(arch, dtype, device)
        applied = optimize_pipeline(pipe, _speed_options(args, device)) if variant == "optimized" else {}
        for b, n, mode in configs:
            scene = _scene(b, n, res, mode, device)

            def run():
                pipe(*scene, height=res, width=res, num_inference_steps=args.steps, guidance_scale=args.guidance,
                     generator=torch.Generator().manual_seed(1))

            reset_peak_memory(device)
            latency = time_calls(run, device, repeats=args.repeats, warmup=args.warmup)
            row = {
                "benchmark": "sampling",
                "variant": variant,
                "arch": arch,
                "resolution": res,
                "steps": args.steps,
                "guidance": args.guidance,
                "dtype": str(dtype).removeprefix("torch."),
                "sources": b,
                "views_per_source": n,
                "median_s": latency.median_s,
                "p90_s": latency.p90_s,
                "views_per_s": b * n / latency.median_s,
                "first_call_s": latency.first_s,
                "warmup_overhead_s": latency.first_s - latency.median_s,
                "peak_mem_gb": peak_memory_gb(device),
                "repeats": args.repeats,
            }
            if (b, n) in flops:
                row["tflop_per_call"] = flops[(b, n)] / 1e12
                row["achieved_tflops"] = flops[(b, n)] / latency.median_s / 1e12
                row["flop_bound_s"] = flops[(b, n)] / (args.peak_tflops * 1e12)
            row["unet_tflop_issue_arithmetic"] = sampling_tflop(args.steps, b * n, args.guidance != 1.0) \
                if arch == "sd15" and res == 512 else None
            if at_anchor and b == 1 and n in RELEASE_ANCHOR_S:
                row["release_anchor_s"] = RELEASE_ANCHOR_S[n]
                row["target_s"] = TARGET_S[n]
                row["speedup_vs_release_anchor"] = RELEASE_ANCHOR_S[n] / latency.median_s
            if args.check_sync and _is_cuda(device):
                row["loop_host_syncs"] = _check_loop_sync(pipe, scene, res, args)
            if applied:
                row["applied"] = applied
            rows.append(row)
            print(f"  [{variant}] {b} source(s) × {n} view(s): median {latency.median_s:.3f} s, "
                  f"p90 {latency.p90_s:.3f} s, first call {latency.first_s:.3f} s", flush=True)
        del pipe
        if _is_cuda(device):
            torch.cuda.empty_cache()
    return rows


# ---------------------------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------------------------


def bench_training(args, device: torch.device) -> list[dict]:
    import torch
    from genwarp.perf.training import build_training, measure_training, model_flops, synthetic_batch

    rows = []
    flops: dict[int, tuple[int, str]] = {}  # batch size → (model FLOPs of one step, how they were obtained)

    def count(setup, bs: int) -> None:
        """Model FLOPs (no recompute): counted with checkpointing off on this very model; where that
        does not fit in memory, scaled linearly from the largest batch size counted."""
        was_on = setup.checkpointing
        if was_on:
            setup.model.disable_gradient_checkpointing()
        try:
            flops[bs] = (model_flops(setup, synthetic_batch(bs, args.train_resolution, device)), "counted")
        except torch.OutOfMemoryError:
            setup.optimizer.zero_grad(set_to_none=True)
            torch.cuda.empty_cache()
            counted = [b for b, (_, how) in flops.items() if how == "counted"]
            if counted:
                ref = max(counted)
                flops[bs] = (flops[ref][0] * bs // ref, f"scaled from batch {ref} (counting ran out of memory)")
        finally:
            if was_on:
                setup.model.enable_gradient_checkpointing()

    for checkpointing in args.checkpointing:
        on = checkpointing == "on"
        setup = build_training(args.arch, device, args.train_precision, checkpointing=on)
        for bs in args.train_batch_sizes:
            if bs not in flops and not args.no_flops:
                count(setup, bs)
            step_flops, how = flops.get(bs, (None, None))
            row = measure_training(setup, bs, args.train_resolution, steps=args.train_steps, warmup=args.train_warmup,
                                   flops=step_flops, peak_tflops=args.peak_tflops)
            row = {"benchmark": "training", "arch": args.arch, **{k: v for k, v in row.items() if k != "benchmark"}}
            if how is not None:
                row["flops_source"] = how
            rows.append(row)
            if row.get("oom"):
                print(f"  batch {bs}, checkpointing {checkpointing}: out of memory", flush=True)
            else:
                mfu = f", MFU {row['mfu']:.3g} of {args.peak_tflops:g} TFLOP/s" if "mfu" in row else ""
                print(f"  batch {bs}, checkpointing {checkpointing}: {row['samples_per_s']:.2f} samples/s{mfu}",
                      flush=True)
        del setup
        if _is_cuda(device):
            torch.cuda.empty_cache()
    return rows


# ---------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------


def bench_data(args) -> list[dict]:
    from genwarp.perf.data import measure_chunk_loader, write_synthetic_chunks

    rows = []
    with tempfile.TemporaryDirectory(prefix="genwarp_bench_chunks_") as tmp:
        start = time.perf_counter()
        write_synthetic_chunks(tmp, num_scenes=args.data_scenes, frames=args.data_frames,
                               resolution=args.data_resolution, seed=0)
        written = time.perf_counter() - start
        for workers in args.data_workers:
            stats = measure_chunk_loader(tmp, args.data_resolution, args.data_batch_size, args.data_pairs,
                                         num_workers=workers)
            stats["scenes"], stats["frames_per_scene"], stats["write_s"] = args.data_scenes, args.data_frames, written
            rows.append(stats)
            print(f"  chunks {args.data_resolution}²: {stats['pairs_per_second']:.1f} pairs/s "
                  f"({workers} workers, batch {args.data_batch_size})", flush=True)
    if args.data_resolutions:  # the synthetic renderer itself (rendered on the fly, no files)
        from genwarp.data import SyntheticScenesDataset
        from genwarp.data.throughput import measure_pairs_per_second

        for res in args.data_resolutions:
            dataset = SyntheticScenesDataset(split="train", resolution=res)
            stats = measure_pairs_per_second(dataset, num_pairs=args.data_pairs, num_workers=args.data_workers[-1])
            rows.append({"benchmark": "data", "format": "synthetic (rendered on the fly)", **stats})
            print(f"  synthetic {res}×{res}: {stats['pairs_per_second']:.1f} pairs/s", flush=True)
    return rows


def compare_data_with_training(rows: list[dict]) -> None:
    """Data pairs/s ÷ the fastest training samples/s at the same resolution (target ≥ 2)."""
    training = [r for r in rows if r["benchmark"] == "training" and not r.get("oom")]
    for row in rows:
        if row["benchmark"] != "data" or row.get("resolution") is None:
            continue
        same = [r["samples_per_s"] for r in training if r["resolution"] == row["resolution"][0]]
        if same:
            row["training_samples_per_s_max"] = max(same)
            row["data_over_training"] = row["pairs_per_second"] / max(same)


# ---------------------------------------------------------------------------------------------
# FLOP budget (counted on the meta device: any machine, seconds)
# ---------------------------------------------------------------------------------------------


def bench_flops(args) -> list[dict]:
    from genwarp.perf.budget import budget_rows

    at_anchor = dict(arch=args.flops_arch, resolution=args.flops_resolution, steps=args.steps,
                     guidance=args.guidance) == ANCHOR_SETTINGS
    rows = budget_rows(args.flops_arch, args.flops_resolution, steps=args.steps, guidance=args.guidance,
                       batch_sizes=tuple(args.batch_sizes), peak_tflops=args.peak_tflops,
                       targets_s=TARGET_S if at_anchor else None, anchors_s=RELEASE_ANCHOR_S if at_anchor else None)
    for row in rows:
        print(f"  {row['what']}: {row['tflop']:.4g} TFLOP", flush=True)
    return rows


# ---------------------------------------------------------------------------------------------
# output
# ---------------------------------------------------------------------------------------------

HIDDEN_COLUMNS = {"benchmark", "applied", "torch_threads", "cpus", "machine", "seconds", "optimizer", "peak_tflops",
                  "loss_finite", "unet_tflop_issue_arithmetic", "format", "flops_source"}


def _fmt(v) -> str:
    if isinstance(v, (list, tuple)):  # e.g. a (H, W) resolution; the same before and after a JSON round trip
        return "×".join(map(_fmt, v))
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 0.01 and v != 0 else f"{v:.3f}"
    return "-" if v is None else str(v)


def _tables(rows: list[dict]):
    for kind in dict.fromkeys(r["benchmark"] for r in rows):
        subset = [r for r in rows if r["benchmark"] == kind]
        keys = [k for k in dict.fromkeys(k for r in subset for k in r) if k not in HIDDEN_COLUMNS]
        yield kind, keys, [[_fmt(r.get(k)) for k in keys] for r in subset]


def print_table(rows: list[dict]) -> None:
    for kind, keys, cells in _tables(rows):
        widths = [max(len(k), *(len(c[j]) for c in cells)) for j, k in enumerate(keys)]
        print(f"\n{kind}")
        print(" | ".join(k.ljust(w) for k, w in zip(keys, widths)))
        print("-|-".join("-" * w for w in widths))
        for c in cells:
            print(" | ".join(v.ljust(w) for v, w in zip(c, widths)))


def _load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git_commit() -> str:
    """The checkout's commit, with ``-dirty`` when tracked files differ from it (``unknown`` outside git)."""
    import subprocess

    root = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("-dirty" if dirty else "")


def command_line(argv: list[str]) -> str:
    """The command as typed, with the thread variables it ran under (they change CPU timings)."""
    env = [f"{k}={os.environ[k]}" for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS") if k in os.environ]
    import shlex

    return " ".join([*env, "python scripts/benchmark.py", shlex.join(argv)]).rstrip()


def provenance() -> dict:
    """Where and when a result file was written: commit, machine, UTC date, load at the start."""
    return {
        "git_commit": _git_commit(),
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "hostname_cpu": _cpu_model(),
        "load_average_start": _load_average(),
    }


def markdown(rows: list[dict], meta: dict) -> str:
    """The same tables as markdown, headed by the machine, the commit and the command line."""
    lines = [f"Device: {meta['device']} ({meta['device_type']}), torch {meta['torch']}, {meta['cpu_threads']} CPU "
             f"threads of {meta.get('cpus')}, {meta.get('hostname_cpu', '')}, started {meta.get('date_utc', meta['date'])}.",
             "",
             f"Command: `{meta['command']}`", "", f"Commit: `{meta.get('git_commit', 'unknown')}`; "
             f"load average (1/5/15 min) at start {meta.get('load_average_start')}, "
             f"at end {meta.get('load_average_end')}"
             + (f"; wall time {meta['wall_s']} s." if meta.get("wall_s") is not None else "."), ""]
    if meta.get("note"):
        lines += [f"Note: {meta['note']}", ""]
    for kind, keys, cells in _tables(rows):
        lines += [f"### {kind}", "", "| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
        lines += ["| " + " | ".join(c) + " |" for c in cells]
        lines.append("")
    return "\n".join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["flops", "sampling", "training", "data"], nargs="+",
                        default=["flops", "sampling", "training", "data"],
                        help="sections to run (default: all four)")
    parser.add_argument("--device", default=None, help="torch device (default: cuda when available, else cpu)")
    parser.add_argument("--arch", choices=["auto", "tiny", "sd15"], default="auto",
                        help="auto: sd15 on CUDA, tiny elsewhere")
    parser.add_argument("--peak-tflops", type=float, default=790.0,
                        help="peak dense TFLOP/s for MFU (default: H100 bf16 dense, 790)")
    parser.add_argument("--no-flops", action="store_true", help="skip FLOP counting (MFU, achieved TFLOP/s)")
    parser.add_argument("--output", type=Path, default=Path("outputs/benchmark.json"),
                        help="JSON results; the tables also go to the same path with .md")
    parser.add_argument("--note", default=None,
                        help="free text stored with the results (e.g. that the machine was shared)")
    s = parser.add_argument_group("sampling")
    s.add_argument("--resolution", type=int, default=None, help="default 512 on GPU, 64 on CPU")
    s.add_argument("--dtype", choices=sorted(DTYPES), default=None, help="default bf16 on GPU, fp32 on CPU")
    s.add_argument("--steps", type=int, default=20, help="DDIM steps per call (default 20)")
    s.add_argument("--guidance", type=float, default=3.5, help="classifier-free guidance scale (default 3.5)")
    s.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 4, 16],
                   help="N per configuration: one source × N views and N sources × one view (default 1 4 16)")
    s.add_argument("--repeats", type=int, default=10, help="timed calls per configuration (default 10)")
    s.add_argument("--warmup", type=int, default=None, help="default 3 on GPU, 1 on CPU")
    s.add_argument("--optimized", action="store_true", help="apply the opt-in speed means (genwarp.perf)")
    s.add_argument("--compare", action="store_true", help="time the plain and the optimized pipeline")
    s.add_argument("--compile-backend", default="inductor", help="torch.compile backend (default inductor)")
    s.add_argument("--compile-mode", default=None, help="torch.compile mode (do not use reduce-overhead with "
                   "CUDA graphs on: the step runner captures its own graphs)")
    for name, what in (("fuse-qkv", "fused QKV projections"), ("channels-last", "channels-last weights"),
                       ("compile", "torch.compile of both U-Nets"), ("cuda-graphs", "CUDA graphs for the loop")):
        s.add_argument(f"--{name}", action=argparse.BooleanOptionalAction, default=None,
                       help=f"with --optimized/--compare: {what} (default: on, except channels-last, compile and "
                            "CUDA graphs off on CPU)")
    s.add_argument("--reference-layout", choices=["split", "masked"], default="split",
                   help="masked: one SDPA launch for both CFG halves (with --optimized/--compare)")
    s.add_argument("--check-sync", action="store_true",
                   help="CUDA: one extra call per configuration with sync debug mode 'error' inside the loop")
    t = parser.add_argument_group("training")
    t.add_argument("--train-resolution", type=int, default=None, help="default 512 on GPU, 64 on CPU")
    t.add_argument("--train-batch-sizes", type=int, nargs="+", default=[4, 8, 16],
                   help="training batch sizes to time (default 4 8 16)")
    t.add_argument("--checkpointing", choices=["off", "on"], nargs="+", default=["off", "on"],
                   help="gradient checkpointing settings to time (default: off and on)")
    t.add_argument("--train-precision", choices=["bf16", "fp32"], default=None, help="default bf16 on GPU, fp32 on CPU")
    t.add_argument("--train-steps", type=int, default=None, help="timed steps; default 10 on GPU, 3 on CPU")
    t.add_argument("--train-warmup", type=int, default=None, help="default 3 on GPU, 1 on CPU")
    f = parser.add_argument_group("flops (counted on the meta device, no weights or compute)")
    f.add_argument("--flops-arch", choices=["tiny", "sd15"], default="sd15",
                   help="architecture whose FLOP budget is counted (default sd15)")
    f.add_argument("--flops-resolution", type=int, default=512, help="image resolution of the FLOP budget (default 512)")
    d = parser.add_argument_group("data")
    d.add_argument("--data-resolution", type=int, default=None, help="default: the training resolution")
    d.add_argument("--data-batch-size", type=int, default=8, help="loader batch size (default 8)")
    d.add_argument("--data-pairs", type=int, default=None, help="default 400 on GPU, 96 on CPU")
    d.add_argument("--data-workers", type=int, nargs="+", default=None,
                   help="loader worker counts to time; default 0 4 8 on GPU (capped at the CPU count), 0 on CPU")
    d.add_argument("--data-scenes", type=int, default=8, help="synthetic scenes written as chunks (default 8)")
    d.add_argument("--data-frames", type=int, default=12, help="frames per synthetic scene (default 12)")
    d.add_argument("--data-resolutions", type=int, nargs="*", default=[],
                   help="also time the on-the-fly synthetic renderer at these resolutions")
    args = parser.parse_args(argv)

    if args.device is None:
        import torch

        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    cuda = args.device.startswith("cuda")
    args.arch = args.arch if args.arch != "auto" else ("sd15" if cuda else "tiny")
    args.resolution = args.resolution or (512 if cuda else 64)
    args.dtype = args.dtype or ("bf16" if cuda else "fp32")
    args.warmup = args.warmup or (3 if cuda else 1)
    args.train_resolution = args.train_resolution or (512 if cuda else 64)
    args.train_precision = args.train_precision or ("bf16" if cuda else "fp32")
    args.train_steps = args.train_steps or (10 if cuda else 3)
    args.train_warmup = args.train_warmup or (3 if cuda else 1)
    args.data_resolution = args.data_resolution or args.train_resolution
    args.data_pairs = args.data_pairs or (400 if cuda else 96)
    if args.data_workers is None:
        args.data_workers = sorted({min(w, os.cpu_count() or 1) for w in (0, 4, 8)}) if cuda else [0]
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    started, where = time.perf_counter(), provenance()  # commit, date and load as the run starts

    import torch

    device = torch.device(args.device)
    rows: list[dict] = []
    if "flops" in args.only:
        print(f"flops ({args.flops_arch}, {args.flops_resolution}², counted on the meta device) …", flush=True)
        rows += bench_flops(args)
    if "sampling" in args.only:
        print("sampling …", flush=True)
        rows += bench_sampling(args, device)
    if "training" in args.only:
        print("training …", flush=True)
        rows += bench_training(args, device)
    if "data" in args.only:
        print("data …", flush=True)
        rows += bench_data(args)
    compare_data_with_training(rows)
    print_table(rows)
    meta = {
        **where,
        "device": torch.cuda.get_device_name(device) if _is_cuda(device) else (platform.processor() or "cpu"),
        "device_type": device.type,
        "cpu_threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "torch": torch.__version__,
        "python": sys.version.split()[0],
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),  # local time at the end (date_utc: the start)
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "anchors": "release_anchor_s / target_s are issue 7's H100 figures (constants), shown only at its settings",
        "command": command_line(sys.argv[1:] if argv is None else argv),
        "load_average_end": _load_average(),
        "wall_s": round(time.perf_counter() - started, 1),
    }
    if args.note:
        meta["note"] = args.note
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"meta": meta, "results": rows}, indent=2, default=str))
    args.output.with_suffix(".md").write_text(markdown(rows, meta))
    print(f"\nwrote {args.output} and {args.output.with_suffix('.md')}")


if __name__ == "__main__":
    main()
