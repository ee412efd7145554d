"""Data-loader throughput in the RealEstate10K chunk format, on synthetic scenes.

:func:`write_synthetic_chunks` renders procedural rooms (:mod:`genwarp.data.synthetic`) and
stores them exactly as RealEstate10K chunks are stored (``<split>/<n>.torch`` lists of examples
with JPEG bytes and 18-number camera rows, ``index.json``; the layout of
:func:`genwarp.testing.write_re10k_chunks`), with their exact depth in a
:class:`~genwarp.data.DepthCache` (float16 ``.npy`` per frame), the way RealEstate10K training
reads precomputed depth. :func:`measure_chunk_loader` then draws training pairs through the
training code path (``RealEstate10KDataset(layout="chunks")`` → ``TrainPairs`` → collated
batches in a ``DataLoader``) and reports pairs/s.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genwarp.data import DepthCache, RealEstate10KDataset, SyntheticScenesDataset, make_shim
from genwarp.data.throughput import measure_pairs_per_second
from genwarp.testing.fixtures import jpeg_bytes
from genwarp.training.data import TrainPairs


def write_synthetic_chunks(root: str | Path, *, split: str = "train", num_scenes: int = 8, frames: int = 12,
                           resolution: int = 64, scenes_per_chunk: int = 4, seed: int = 0,
                           quality: int = 90) -> dict[str, Any]:
    """Render ``num_scenes`` synthetic scenes of ``frames`` frames at ``resolution``² into
    ``root/<split>/*.torch`` (+ ``index.json``) and their depth into ``root/depth``."""
    root = Path(root)
    split_dir = root / split
    split_dir.mkdir(parents=True, exist_ok=True)
    cache = DepthCache(root / "depth")
    cache.write_meta(name="synthetic_gt", estimator="ground truth (synthetic renderer)", units="scene")
    synth = SyntheticScenesDataset(split="test", resolution=resolution, num_test_scenes=num_scenes, seed=seed)
    index: dict[str, str] = {}
    examples: list[dict] = []
    chunk_id = 0

    def flush():
        nonlocal examples, chunk_id
        if examples:
            name = f"{chunk_id:06d}.torch"
            torch.save(examples, split_dir / name)
            index.update({ex["key"]: name for ex in examples})
            examples, chunk_id = [], chunk_id + 1

    for s, scene in enumerate(synth.scene_names()):
        handle = synth.open_scene(scene)
        ids = list(handle.frame_ids)[:frames]
        image, depth, K, c2w = handle.render(ids)
        key = f"synth{s:05d}"
        w2c = torch.linalg.inv(c2w.double()).float()[:, :3, :4]
        intr = torch.stack([K[:, 0, 0], K[:, 1, 1], K[:, 0, 2], K[:, 1, 2]], dim=1)
        cameras = torch.cat([intr, torch.zeros(len(ids), 2), w2c.reshape(len(ids), 12)], dim=1)
        pixels = (image.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
        examples.append({
            "url": f"synthetic://{scene}",
            "timestamps": torch.arange(len(ids), dtype=torch.int64) * 33_367,
            "cameras": cameras,
            "images": [torch.frombuffer(bytearray(jpeg_bytes(np.ascontiguousarray(p), quality)), dtype=torch.uint8)
                       for p in pixels],
            "key": key,
        })
        for i in range(len(ids)):
            cache.save("re10k", key, i, depth[i])
        if len(examples) == scenes_per_chunk:
            flush()
    flush()
    (split_dir / "index.json").write_text(json.dumps(index))
    return {"root": root, "split": split, "scenes": num_scenes, "frames": frames, "resolution": resolution}


def chunk_training_pairs(root: str | Path, resolution: int, *, split: str = "train", seed: int = 0,
                         max_gap: int = 8) -> TrainPairs:
    """The training pair stream over a chunk folder written by :func:`write_synthetic_chunks`."""
    root = Path(root)
    dataset = RealEstate10KDataset(root, split, layout="chunks", depth=DepthCache(root / "depth"),
                                   shim=make_shim(resolution, crop="random"), seed=seed)
    return TrainPairs(dataset, seed=seed, min_gap=1, max_gap=max_gap)


def measure_chunk_loader(root: str | Path, resolution: int, batch_size: int, num_pairs: int,
                         num_workers: int = 0, seed: int = 0) -> dict[str, Any]:
    """Pairs/s of collated training batches from the chunk folder (see the module docstring)."""
    pairs = chunk_training_pairs(root, resolution, seed=seed)
    stats = measure_pairs_per_second(pairs, num_pairs=num_pairs, num_workers=num_workers, batch_size=batch_size)
    return {"benchmark": "data", "format": "re10k chunks (synthetic scenes) + depth cache", **stats}


__all__ = ["chunk_training_pairs", "measure_chunk_loader", "write_synthetic_chunks"]
