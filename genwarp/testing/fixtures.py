"""Writers of tiny fixtures (see :mod:`genwarp.testing`)."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def random_c2w(rng: np.random.Generator) -> np.ndarray:
    """A random camera-to-world pose (small rotation, unit-scale translation)."""
    a, b = rng.uniform(-0.3, 0.3, 2)
    Ry = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    Rx = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    T = np.eye(4)
    T[:3, :3] = Ry @ Rx
    T[:3, 3] = rng.normal(size=3)
    return T


def camera_row(ts: int, K: tuple[float, float, float, float], c2w: np.ndarray) -> str:
    """One RealEstate10K camera-file row: timestamp, fx fy cx cy, 0 0, 3×4 world-to-camera."""
    w2c = np.linalg.inv(c2w)[:3, :4]
    nums = [ts, *K, 0.0, 0.0, *w2c.reshape(-1).tolist()]
    return " ".join(str(int(nums[0])) if i == 0 else f"{v:.9f}" for i, v in enumerate(nums))


def jpeg_bytes(arr: np.ndarray, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def write_re10k_raw(root: Path, split: str = "test", seed: int = 0) -> dict:
    """``root/<split>/{seqA,seqB,seqC}.txt``; frames for seqA (all), seqB (rows 3 and 5 missing,
    row 4 a truncated JPEG); seqC has no frame folder."""
    rng = np.random.default_rng(seed)
    root = Path(root)
    (root / split).mkdir(parents=True, exist_ok=True)
    K = (0.5, 0.9, 0.5, 0.5)
    info: dict = {"root": root, "poses": {}, "timestamps": {}}
    for seq, n in (("seqA", 12), ("seqB", 10), ("seqC", 6)):
        ts = [1_000_000 + 33_367 * i for i in range(n)]
        poses = [random_c2w(rng) for _ in range(n)]
        lines = [f"https://www.youtube.com/watch?v=fake_{seq}"] + [camera_row(t, K, p) for t, p in zip(ts, poses)]
        (root / split / f"{seq}.txt").write_text("\n".join(lines) + "\n")
        info["poses"][seq], info["timestamps"][seq] = poses, ts
        if seq == "seqC":
            continue
        fdir = root / "frames" / split / seq
        fdir.mkdir(parents=True, exist_ok=True)
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


def make_chunk_example(key: str, n: int, rng: np.random.Generator, corrupt_frame: int | None = None) -> dict:
    """One example of the chunk layout (url, timestamps, cameras [n,18], JPEG bytes, key)."""
    K = [0.5, 0.9, 0.5, 0.5]
    cams, images = [], []
    for i in range(n):
        w2c = np.linalg.inv(random_c2w(rng))[:3, :4]
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


def write_re10k_chunks(root: Path, split: str = "test", seed: int = 1) -> dict:
    """``root/<split>/000000.torch … 000003.torch`` (3 examples each, 8 frames) + ``index.json``;
    example ``k11`` has a truncated JPEG; one more chunk file is truncated on disk."""
    rng = np.random.default_rng(seed)
    root = Path(root)
    split_dir = root / split
    split_dir.mkdir(parents=True, exist_ok=True)
    index, keys = {}, []
    for c in range(4):
        examples = []
        for e in range(3):
            key = f"k{c}{e}"
            examples.append(make_chunk_example(key, 8, rng, corrupt_frame=2 if key == "k11" else None))
            index[key] = f"{c:06d}.torch"
            keys.append(key)
        torch.save(examples, split_dir / f"{c:06d}.torch")
    (split_dir / "index.json").write_text(json.dumps(index))
    bad = split_dir / "000004.torch"
    torch.save([make_chunk_example("bad0", 8, rng)], bad)
    bad.write_bytes(bad.read_bytes()[:200])
    return {"root": root, "keys": keys}


def write_scannet(root: Path, seed: int = 2) -> dict:
    """Two scenes; colour 64×48, depth 32×24 (uint16 mm, another FoV); frame 3 of scene0000_00 has
    a −inf pose."""
    rng = np.random.default_rng(seed)
    root = Path(root)
    info: dict = {"root": root, "poses": {}}
    Kc = np.array([[60.0, 0, 31.5, 0], [0, 60.0, 23.5, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
    Kd = np.array([[27.0, 0, 15.5, 0], [0, 27.0, 11.5, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
    for s, n in (("scene0000_00", 8), ("scene0001_00", 5)):
        d = root / s
        for sub in ("color", "depth", "pose", "intrinsic"):
            (d / sub).mkdir(parents=True, exist_ok=True)
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


def write_tiny_stable_diffusion(root: Path, seed: int = 0) -> Path:
    """A tiny sd-image-variations-like folder: ``unet/``, ``vae/``, ``image_encoder/``."""
    from diffusers import UNet2DConditionModel

    from genwarp.models.presets import TINY_UNET, build_clip, build_vae, randomize_weights

    root = Path(root)
    randomize_weights(UNet2DConditionModel(**TINY_UNET), seed).save_pretrained(root / "unet")
    randomize_weights(build_vae("tiny"), seed + 1).save_pretrained(root / "vae")
    randomize_weights(build_clip("tiny"), seed + 2).save_pretrained(root / "image_encoder")
    return root


def write_tiny_release(root: Path, variant: str = "multi1", seed: int = 0, denoiser_extra: dict | None = None,
                       drop: str | None = None):
    """A tiny random GenWarp in the release's checkpoint layout; returns the source model."""
    from genwarp.models.presets import TINY_UNET, build_clip, build_vae, randomize_weights
    from genwarp.models.release import PRESERVER_HEAD_KEYS
    from genwarp.pipelines.factory import random_model

    root = Path(root)
    model = random_model(seed=seed)
    folder = root / variant
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps({"_class_name": "UNet2DConditionModel", **TINY_UNET}))
    ref = {k: v for k, v in model.preserver.state_dict().items() if k not in PRESERVER_HEAD_KEYS}
    den = dict(model.denoiser.state_dict())
    den.update(denoiser_extra or {})
    if drop:
        den.pop(drop)
    torch.save(ref, folder / "reference_unet.pth")
    torch.save(den, folder / "denoising_unet.pth")
    torch.save(model.condition_encoder.state_dict(), folder / "pose_guider.pth")
    if not (root / "sd-vae-ft-mse").exists():
        randomize_weights(build_vae("tiny"), seed + 1).save_pretrained(root / "sd-vae-ft-mse")
    if not (root / "image_encoder").exists():
        randomize_weights(build_clip("tiny"), seed + 2).save_pretrained(root / "image_encoder")
    return model
