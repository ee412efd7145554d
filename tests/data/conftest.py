"""Tiny on-disk fixtures in the exact formats the loaders read (built in a temp dir)."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image


def random_c2w(rng: np.random.Generator) -> np.ndarray:
    a, b = rng.uniform(-0.3, 0.3, 2)
    Ry = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    Rx = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    T = np.eye(4)
    T[:3, :3] = Ry @ Rx
    T[:3, 3] = rng.normal(size=3)
    return T


def camera_row(ts: int, K: tuple[float, float, float, float], c2w: np.ndarray) -> str:
    w2c = np.linalg.inv(c2w)[:3, :4]
    nums = [ts, *K, 0.0, 0.0, *w2c.reshape(-1).tolist()]
    return " ".join(str(int(nums[0])) if i == 0 else f"{v:.9f}" for i, v in enumerate(nums))


def jpeg_bytes(arr: np.ndarray, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


@pytest.fixture
def re10k_raw(tmp_path: Path) -> dict:
    """root/test/{seqA,seqB,seqC}.txt; frames for seqA (all), seqB (rows 3 and 5 missing, row 4
    corrupt); seqC has no frame folder."""
    rng = np.random.default_rng(0)
    root = tmp_path / "re10k"
    (root / "test").mkdir(parents=True)
    K = (0.5, 0.9, 0.5, 0.5)
    info: dict = {"root": root, "poses": {}, "timestamps": {}}
    for seq, n in (("seqA", 12), ("seqB", 10), ("seqC", 6)):
        ts = [1_000_000 + 33_367 * i for i in range(n)]
        poses = [random_c2w(rng) for _ in range(n)]
        lines = [f"https://www.youtube.com/watch?v=fake_{seq}"] + [camera_row(t, K, p) for t, p in zip(ts, poses)]
        (root / "test" / f"{seq}.txt").write_text("\n".join(lines) + "\n")
        info["poses"][seq], info["timestamps"][seq] = poses, ts
        if seq == "seqC":
            continue
        fdir = root / "frames" / "test" / seq
        fdir.mkdir(parents=True)
        for i, t in enumerate(ts):
            if seq == "seqB" and i in (3, 5):
                continue
            arr = rng.integers(0, 255, (18, 32, 3), dtype=np.uint8)
            if seq == "seqB" and i == 4:
                (fdir / f"{t}.jpg").write_bytes(jpeg_bytes(arr)[:60])  # truncated JPEG
            elif i % 2:
                (fdir / f"{t}.jpg").write_bytes(jpeg_bytes(arr))
            else:
                Image.fromarray(arr).save(fdir / f"{t}.png")
    return info


def make_example(key: str, n: int, rng: np.random.Generator, corrupt_frame: int | None = None) -> dict:
    K = [0.5, 0.9, 0.5, 0.5]
    cams, images = [], []
    for i in range(n):
        c2w = random_c2w(rng)
        w2c = np.linalg.inv(c2w)[:3, :4]
        cams.append(K + [0.0, 0.0] + w2c.reshape(-1).tolist())
        data = jpeg_bytes(rng.integers(0, 255, (18, 32, 3), dtype=np.uint8))
        if corrupt_frame == i:
            data = data[:50]
        images.append(torch.frombuffer(bytearray(data), dtype=torch.uint8))
    return {
        "url": f"https://www.youtube.com/watch?v={key}",
        "timestamps": torch.arange(n, dtype=torch.int64) * 33_367,
        "cameras": torch.tensor(cams, dtype=torch.float32),
        "images": images,
        "key": key,
    }


@pytest.fixture
def re10k_chunks(tmp_path: Path) -> dict:
    """root/test/000000.torch … 000003.torch (3 examples each, 8 frames) + index.json;
    one example with a truncated JPEG; one more chunk file truncated on disk."""
    rng = np.random.default_rng(1)
    root = tmp_path / "chunks"
    split = root / "test"
    split.mkdir(parents=True)
    index = {}
    keys = []
    for c in range(4):
        examples = []
        for e in range(3):
            key = f"k{c}{e}"
            examples.append(make_example(key, 8, rng, corrupt_frame=2 if key == "k11" else None))
            index[key] = f"{c:06d}.torch"
            keys.append(key)
        torch.save(examples, split / f"{c:06d}.torch")
    (split / "index.json").write_text(json.dumps(index))
    bad = split / "000004.torch"
    torch.save([make_example("bad0", 8, rng)], bad)
    bad.write_bytes(bad.read_bytes()[:200])
    return {"root": root, "keys": keys}


@pytest.fixture
def scannet_root(tmp_path: Path) -> dict:
    """Two scenes; colour 64×48, depth 32×24 (uint16 mm, a different FoV), frame 3 of scene0 has a
    -inf pose."""
    rng = np.random.default_rng(2)
    root = tmp_path / "scannet"
    info: dict = {"root": root, "poses": {}}
    Kc = np.array([[60.0, 0, 31.5, 0], [0, 60.0, 23.5, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
    Kd = np.array([[27.0, 0, 15.5, 0], [0, 27.0, 11.5, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
    for s, n in (("scene0000_00", 8), ("scene0001_00", 5)):
        d = root / s
        for sub in ("color", "depth", "pose", "intrinsic"):
            (d / sub).mkdir(parents=True)
        np.savetxt(d / "intrinsic" / "intrinsic_color.txt", Kc)
        np.savetxt(d / "intrinsic" / "intrinsic_depth.txt", Kd)
        for i in range(n):
            Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(d / "color" / f"{i}.jpg")
            depth = np.tile((2000 + 100 * i + 10 * np.arange(32)).astype(np.uint16), (24, 1))
            depth[:, :6] = 0  # no measurement
            Image.fromarray(depth).save(d / "depth" / f"{i}.png")
            pose = random_c2w(rng)
            if s == "scene0000_00" and i == 3:
                pose[0, 0] = -np.inf
            np.savetxt(d / "pose" / f"{i}.txt", pose)
            info["poses"][(s, i)] = pose
    return info
