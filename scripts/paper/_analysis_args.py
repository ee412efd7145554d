"""Command-line options shared by the attention-analysis scripts (imported by them only)."""

from __future__ import annotations

import argparse

from genwarp.evaluation.paper import pair_batches


def add_data_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("pairs")
    g.add_argument("--data", default="synthetic", choices=["synthetic", "re10k", "acid", "scannet"])
    g.add_argument("--index", default=None, help="evaluation index JSON (default: the committed one)")
    g.add_argument("--limit", type=int, default=8, help="first N pairs of the index")
    g.add_argument("--batch-size", type=int, default=2)
    g.add_argument("--resolution", type=int, default=None)
    g.add_argument("--dataset-root", default=None)
    g.add_argument("--depth", default=None)
    g.add_argument("--depth-noise", type=float, default=0.0)
    g.add_argument("--seed", type=int, default=0)
    s = p.add_argument_group("sampler")
    s.add_argument("--num-inference-steps", type=int, default=20)
    s.add_argument("--guidance-scale", type=float, default=3.5)
    s.add_argument("--device", default="cpu")


def batches_from(a: argparse.Namespace):
    return pair_batches(a.data, a.index, limit=a.limit, batch_size=a.batch_size, resolution=a.resolution,
                        root=a.dataset_root, depth=a.depth, depth_noise=a.depth_noise, seed=a.seed)


def sampler_kwargs(a: argparse.Namespace) -> dict:
    return {"num_inference_steps": a.num_inference_steps, "guidance_scale": a.guidance_scale, "seed": a.seed}
