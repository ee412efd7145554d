"""RealEstate10K and ACID: the raw release (camera files + extracted frames) and the widely used
pre-processed chunk layout.

Raw layout (``layout="raw"``)::

    <root>/<split>/<sequence>.txt                     camera file: line 1 the video URL, then one
                                                      row per frame: timestamp (µs), fx fy cx cy
                                                      (normalised), 0 0, 3×4 world-to-camera
                                                      (row-major) — 19 numbers
    <frames_root>/<split>/<sequence>/<timestamp>.png  frames (or .jpg), extracted from the videos
                                                      by scripts/prepare_re10k.py

Chunk layout (``layout="chunks"``)::

    <root>/<split>/*.torch                            each a list of dicts: url (str), timestamps
                                                      int64[V], cameras float32[V, 18] (fx fy cx cy,
                                                      0 0, 3×4 world-to-camera), images (list of
                                                      uint8 tensors of encoded JPEG bytes), key
    <root>/<split>/index.json                         {key: chunk file name}

Frame indices are camera-file rows (0-based) for the raw layout and positions in the chunk's
arrays for the chunk layout (the same thing when a chunk holds every row, as the usual
conversion does). Poses are converted on read: ``c2w = inverse(w2c)``; intrinsics are already
normalised with pixel centres at (x+0.5)/W, the house convention. Translations have an arbitrary
scale per sequence (see :mod:`genwarp.depth.align` to bring metric depth into it).

Many of the original videos are gone, so frames and whole sequences are often missing: they are
skipped and counted (one warning per file, an epoch summary), never a crash mid-epoch. The chunk
layout is read lazily — one chunk in memory at a time per worker — shuffled per epoch and
sharded across workers / ranks.
"""

from __future__ import annotations

import io
import json
import os
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from jaxtyping import Float
from PIL import Image
from torch import Tensor

from genwarp.data.base import PairDataset, SceneHandle, stable_seed
from genwarp.data.contract import Sample, View
from genwarp.data.health import CorruptDataError, DataError, DatasetLayoutError, MissingDataError
from genwarp.data.samplers import IndexSampler, ViewSampler
from genwarp.data.shims import Shim

__all__ = [
    "CameraFile",
    "RealEstate10KDataset",
    "cameras_from_rows",
    "decode_image",
    "load_image",
    "read_camera_file",
]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")


# ----------------------------------------------------------------------------------------------
# Camera files and image decoding
# ----------------------------------------------------------------------------------------------


class CameraFile:
    """A parsed RealEstate10K camera file."""

    def __init__(self, url: str, timestamps: np.ndarray, intrinsics: Tensor, c2w: Tensor):
        self.url = url
        self.timestamps = timestamps  # int64 (N,) microseconds
        self.intrinsics = intrinsics  # (N, 3, 3) normalised
        self.c2w = c2w  # (N, 4, 4)

    def __len__(self) -> int:
        return len(self.timestamps)


def cameras_from_rows(rows: Float[Tensor, "N 18"]) -> tuple[Float[Tensor, "N 3 3"], Float[Tensor, "N 4 4"]]:
    """(fx, fy, cx, cy, 0, 0, w2c[3×4] row-major) rows → normalised intrinsics and camera-to-world."""
    rows = rows.to(torch.float64)
    n = rows.shape[0]
    K = torch.zeros(n, 3, 3, dtype=torch.float64)
    K[:, 0, 0], K[:, 1, 1], K[:, 0, 2], K[:, 1, 2] = rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3]
    K[:, 2, 2] = 1.0
    w2c = torch.eye(4, dtype=torch.float64).repeat(n, 1, 1)
    w2c[:, :3, :4] = rows[:, 6:18].reshape(n, 3, 4)
    # rigid inverse (more accurate than a general inverse for nearly orthonormal rotations)
    R, t = w2c[:, :3, :3], w2c[:, :3, 3:]
    c2w = torch.eye(4, dtype=torch.float64).repeat(n, 1, 1)
    c2w[:, :3, :3] = R.transpose(1, 2)
    c2w[:, :3, 3:] = -R.transpose(1, 2) @ t
    return K.float(), c2w.float()


def read_camera_file(path: str | Path) -> CameraFile:
    """Parse a camera file; raises :class:`CorruptDataError` naming the file and the bad line."""
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise CorruptDataError(f"cannot read camera file {path}: {e}", path=path, kind="corrupt_camera_file") from e
    if not lines:
        raise CorruptDataError(f"camera file {path} is empty", path=path, kind="corrupt_camera_file")
    url = lines[0].strip()
    values = []
    for ln, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        parts = line.split()
        try:
            nums = [float(p) for p in parts]
        except ValueError:
            nums = []
        if len(nums) != 19 or not all(np.isfinite(nums)):
            raise CorruptDataError(
                f"camera file {path} line {ln}: expected 19 finite numbers (timestamp, fx fy cx cy, 0 0, "
                f"3x4 world-to-camera), got {len(parts)} fields",
                path=path, kind="corrupt_camera_file",
            )
        values.append(nums)
    if not values:
        raise CorruptDataError(f"camera file {path} lists no frames", path=path, kind="corrupt_camera_file")
    arr = np.asarray(values, dtype=np.float64)
    timestamps = np.asarray([int(round(v[0])) for v in values], dtype=np.int64)
    K, c2w = cameras_from_rows(torch.from_numpy(arr[:, 1:]))
    return CameraFile(url, timestamps, K, c2w)


def _to_tensor(img: Image.Image) -> Float[Tensor, "3 H W"]:
    arr = np.asarray(img.convert("RGB"), dtype=np.uint8)
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).float().div_(255.0)


def decode_image(data: bytes, *, name: str = "<bytes>") -> Float[Tensor, "3 H W"]:
    """Decode encoded image bytes (JPEG/PNG) strictly: truncated or corrupt data raises
    :class:`CorruptDataError`."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            return _to_tensor(img)
    except Exception as e:  # PIL raises OSError, SyntaxError, ValueError, …
        raise CorruptDataError(f"cannot decode image {name}: {e}", path=name, kind="corrupt_image") from e


def load_image(path: str | Path) -> Float[Tensor, "3 H W"]:
    """Read an image file as float (3, H, W) in [0, 1]; missing → MissingDataError, corrupt →
    CorruptDataError."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError as e:
        raise MissingDataError(f"frame {path} does not exist", path=path, kind="missing_frame") from e
    except OSError as e:
        raise CorruptDataError(f"cannot read {path}: {e}", path=path, kind="corrupt_image") from e
    return decode_image(data, name=str(path))


# ----------------------------------------------------------------------------------------------
# Scene handles
# ----------------------------------------------------------------------------------------------


class _RawScene(SceneHandle):
    def __init__(self, ds: RealEstate10KDataset, name: str):
        self.name = name
        cam_path = ds.split_dir / f"{name}.txt"
        if not cam_path.is_file():
            raise MissingDataError(f"no camera file {cam_path}", path=cam_path, kind="missing_sequence")
        self.cameras = read_camera_file(cam_path)
        self.frame_dir = ds.frames_split_dir / name
        try:
            listing = os.listdir(self.frame_dir)
        except FileNotFoundError as e:
            raise MissingDataError(
                f"no frames for sequence {name}: {self.frame_dir} does not exist (video not extracted?)",
                path=self.frame_dir, kind="missing_sequence",
            ) from e
        files: dict[int, str] = {}
        for fn in listing:
            stem, ext = os.path.splitext(fn)
            if ext.lower() in IMAGE_EXTENSIONS and stem.isdigit():
                files.setdefault(int(stem), fn)
        self.files: dict[int, str] = {}
        missing = 0
        for row, ts in enumerate(self.cameras.timestamps.tolist()):
            fn = files.get(ts)
            if fn is None:
                missing += 1
            else:
                self.files[row] = fn
        self.frame_ids = sorted(self.files)
        self.num_missing = missing
        if missing:
            for _ in range(missing):
                ds.health.record("missing_frame", self.frame_dir, f"{missing} of {len(self.cameras)} listed frames absent")
        if not self.frame_ids:
            raise MissingDataError(f"sequence {name}: none of its {len(self.cameras)} frames is in {self.frame_dir}", path=self.frame_dir, kind="missing_sequence")

    def load_view(self, index: int, *, with_depth: bool) -> View:
        if not 0 <= index < len(self.cameras):
            raise MissingDataError(f"{self.name} has rows 0..{len(self.cameras) - 1}, asked for {index}", path=f"{self.frame_dir}:{index}", kind="missing_frame")
        fn = self.files.get(index)
        if fn is None:
            ts = int(self.cameras.timestamps[index])
            raise MissingDataError(f"frame {index} (timestamp {ts}) of {self.name} is missing", path=self.frame_dir / f"{ts}.png", kind="missing_frame")
        image = load_image(self.frame_dir / fn)
        return View(image, self.cameras.intrinsics[index].clone(), self.cameras.c2w[index].clone(), index=index)


class _ChunkScene(SceneHandle):
    def __init__(self, example: Any, chunk: Path):
        try:
            key = str(example["key"])
            cams = torch.as_tensor(example["cameras"], dtype=torch.float32)
            images = list(example["images"])
            timestamps = torch.as_tensor(example["timestamps"]).to(torch.int64)
            if cams.ndim != 2 or cams.shape[1] != 18 or len(images) != cams.shape[0] or timestamps.shape[0] != cams.shape[0]:
                raise ValueError(f"cameras {tuple(cams.shape)}, {len(images)} images, {tuple(timestamps.shape)} timestamps")
        except Exception as e:
            raise CorruptDataError(f"malformed example in chunk {chunk}: {e}", path=chunk, kind="corrupt_example") from e
        self.name = key
        self.chunk = chunk
        self.url = str(example.get("url", "")) if isinstance(example, dict) else ""
        self.images = images
        self.timestamps = timestamps
        finite = torch.isfinite(cams).all(1)
        self.intrinsics, self.c2w = cameras_from_rows(torch.where(finite[:, None], cams, torch.zeros_like(cams)))
        self.frame_ids = [i for i in range(cams.shape[0]) if bool(finite[i])]
        self.invalid = [i for i in range(cams.shape[0]) if not bool(finite[i])]

    def load_view(self, index: int, *, with_depth: bool) -> View:
        if index not in set(self.frame_ids):
            raise MissingDataError(f"{self.name} has no usable frame {index}", path=f"{self.chunk}:{self.name}:{index}", kind="missing_frame")
        raw = self.images[index]
        data = raw.numpy().tobytes() if isinstance(raw, Tensor) else bytes(raw)
        image = decode_image(data, name=f"{self.chunk}:{self.name}:{index}")
        return View(image, self.intrinsics[index].clone(), self.c2w[index].clone(), index=index)


# ----------------------------------------------------------------------------------------------
# Dataset
# ----------------------------------------------------------------------------------------------


class RealEstate10KDataset(PairDataset):
    """RealEstate10K (or ACID, ``name="acid"``) pairs from the raw or the chunk layout.

    Args:
        root: dataset root (holds ``<split>/``).
        split: ``"train"`` or ``"test"`` (any folder name under ``root``).
        layout: ``"raw"`` (camera files + extracted frames) or ``"chunks"`` (``*.torch``).
        frames_root: raw layout only; where extracted frames live (default ``<root>/frames``).
        name: dataset name in samples and the depth cache (``"re10k"`` or ``"acid"``).
        sampler, shim, depth, seed, shuffle, repeat, shard: see :class:`PairDataset`
            (``depth`` defaults to ``"none"``; pass a :class:`DepthCache` to use precomputed
            depth). ``shuffle`` defaults to True for ``"train"`` and False otherwise.

    Raises:
        DatasetLayoutError: at construction, naming the path and what was expected, when the root,
            the split folder or the files of the chosen layout are absent.
    """

    ground_truth_depth = False

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        layout: str = "raw",
        frames_root: str | Path | None = None,
        *,
        name: str = "re10k",
        sampler: ViewSampler | None = None,
        shim: Shim | None = None,
        depth: Any = "none",
        seed: int = 0,
        shuffle: bool | None = None,
        repeat: bool = False,
        shard: tuple[int, int] | None = None,
    ):
        self.dataset_name = name
        self.root = Path(root)
        self.split = split
        self.layout = layout
        if layout not in ("raw", "chunks"):
            raise ValueError(f"layout must be 'raw' or 'chunks', got {layout!r}")
        if not self.root.is_dir():
            raise DatasetLayoutError(f"{name} root {self.root} does not exist or is not a folder", path=self.root)
        self.split_dir = self.root / split
        if not self.split_dir.is_dir():
            found = sorted(p.name for p in self.root.iterdir() if p.is_dir())
            raise DatasetLayoutError(
                f"{name}: expected the split folder {self.split_dir} (holding "
                + ("<sequence>.txt camera files" if layout == "raw" else "*.torch chunks and index.json")
                + f"); {self.root} has sub-folders {found}",
                path=self.split_dir,
            )
        super().__init__(sampler=sampler, shim=shim, depth=depth, seed=seed,
                         shuffle=(split == "train") if shuffle is None else shuffle, repeat=repeat, shard=shard)
        if layout == "raw":
            self._init_raw(frames_root)
        else:
            self._init_chunks()
        self._handles: OrderedDict[str, SceneHandle] = OrderedDict()

    # ---------------------------------------------------------------- raw layout
    def _init_raw(self, frames_root: str | Path | None) -> None:
        names = sorted(e.name[:-4] for e in os.scandir(self.split_dir) if e.name.endswith(".txt") and e.is_file())
        if not names:
            hint = ""
            if any(self.split_dir.glob("*.torch")):
                hint = " It holds *.torch chunks: use layout='chunks'."
            raise DatasetLayoutError(
                f"{self.dataset_name}: layout='raw' expects camera files {self.split_dir}/<sequence>.txt; found none.{hint}",
                path=self.split_dir,
            )
        self._sequences = names
        self.frames_root = Path(frames_root) if frames_root is not None else self.root / "frames"
        self.frames_split_dir = self.frames_root / self.split
        if not self.frames_split_dir.is_dir():
            raise DatasetLayoutError(
                f"{self.dataset_name}: frames folder {self.frames_split_dir} not found (expected "
                f"<frames_root>/{self.split}/<sequence>/<timestamp>.png|jpg); extract frames with "
                f"scripts/prepare_re10k.py or pass frames_root=",
                path=self.frames_split_dir,
            )

    # ---------------------------------------------------------------- chunk layout
    def _init_chunks(self) -> None:
        chunks = sorted(p.name for p in self.split_dir.glob("*.torch"))
        if not chunks:
            hint = " It holds camera files (*.txt): use layout='raw'." if any(self.split_dir.glob("*.txt")) else ""
            raise DatasetLayoutError(
                f"{self.dataset_name}: layout='chunks' expects {self.split_dir}/*.torch chunks (and index.json); found none.{hint}",
                path=self.split_dir,
            )
        self._chunks = chunks
        self._index: dict[str, str] | None = None
        index_path = self.split_dir / "index.json"
        if index_path.is_file():
            try:
                with open(index_path) as f:
                    index = json.load(f)
                if not isinstance(index, dict):
                    raise ValueError("not a {key: chunk} object")
                self._index = {str(k): str(v) for k, v in index.items()}
            except (ValueError, OSError) as e:
                raise DatasetLayoutError(f"{self.dataset_name}: {index_path} is not a valid {{key: chunk file}} JSON object: {e}", path=index_path) from e
        self._chunk_cache: tuple[str, list[Any]] | None = None

    def _load_chunk(self, chunk: str) -> list[Any]:
        path = self.split_dir / chunk
        try:
            data = torch.load(path, map_location="cpu", weights_only=True)
        except FileNotFoundError as e:
            raise MissingDataError(f"chunk {path} does not exist", path=path, kind="missing_chunk") from e
        except Exception as e:
            raise CorruptDataError(f"cannot load chunk {path} (truncated or corrupt?): {e}", path=path, kind="corrupt_chunk") from e
        if not isinstance(data, list):
            raise CorruptDataError(f"chunk {path} holds a {type(data).__name__}, expected a list of examples", path=path, kind="corrupt_chunk")
        return data

    def chunk_index(self) -> dict[str, str]:
        """``{scene key: chunk file}`` (from index.json, or built by scanning the chunks once)."""
        if self._index is None:
            self.health.record("missing_index", self.split_dir / "index.json", "scanning every chunk to build it")
            index: dict[str, str] = {}
            for chunk in self._chunks:
                try:
                    for ex in self._load_chunk(chunk):
                        index[str(ex["key"])] = chunk
                except (DataError, KeyError, TypeError) as e:
                    self.health.record("corrupt_chunk", self.split_dir / chunk, str(e))
            self._index = index
        return self._index

    # ---------------------------------------------------------------- PairDataset API
    def scene_names(self) -> list[str]:
        if self.layout == "raw":
            return list(self._sequences)
        return sorted(self.chunk_index())

    def open_scene(self, name: str) -> SceneHandle:
        handle = self._handles.get(name)
        if handle is not None:
            self._handles.move_to_end(name)
            return handle
        if self.layout == "raw":
            handle = _RawScene(self, name)
        else:
            chunk = self.chunk_index().get(name)
            if chunk is None:
                raise MissingDataError(f"{self.dataset_name}: scene {name!r} is in no chunk of {self.split_dir}", path=name, kind="missing_sequence")
            if self._chunk_cache is None or self._chunk_cache[0] != chunk:
                self._chunk_cache = (chunk, self._load_chunk(chunk))
            ex = next((e for e in self._chunk_cache[1] if isinstance(e, dict) and str(e.get("key")) == name), None)
            if ex is None:
                raise MissingDataError(f"{self.dataset_name}: scene {name!r} not found in chunk {chunk}", path=self.split_dir / chunk, kind="missing_sequence")
            handle = _ChunkScene(ex, self.split_dir / chunk)
        self._handles[name] = handle
        while len(self._handles) > 8:
            self._handles.popitem(last=False)
        return handle

    def _iter_epoch(self, epoch: int) -> Iterator[Sample]:
        if self.layout == "raw":
            yield from super()._iter_epoch(epoch)
            return
        shard, num_shards = self.shard_info()
        wanted = self.sampler.scenes()
        chunks = list(self._chunks)
        if wanted is not None:
            index = self.chunk_index()
            needed = {index[s] for s in wanted if s in index}
            for s in wanted:
                if s not in index:
                    self.health.record("missing_sequence", s, "not in any chunk")
            chunks = [c for c in chunks if c in needed]
            wanted_set = set(wanted)
        if self.shuffle:
            perm = np.random.default_rng(stable_seed(self.seed, "chunks", epoch)).permutation(len(chunks))
            chunks = [chunks[i] for i in perm]
        # shard whole chunks when there are enough of them, else examples within every chunk
        by_chunk = len(chunks) >= num_shards
        my_chunks = chunks[shard::num_shards] if by_chunk else chunks
        rng = np.random.default_rng(stable_seed(self.seed, "epoch", epoch, shard))
        for chunk in my_chunks:
            try:
                examples = self._load_chunk(chunk)
            except DataError as e:
                self._record(e, chunk)
                continue
            order = list(range(len(examples)))
            if not by_chunk:
                order = order[shard::num_shards]
            if self.shuffle:
                order = [order[i] for i in rng.permutation(len(order))]
            for i in order:
                try:
                    handle = _ChunkScene(examples[i], self.split_dir / chunk)
                except DataError as e:
                    self._record(e, chunk)
                    continue
                if wanted is not None and handle.name not in wanted_set:
                    continue
                for _ in handle.invalid:
                    self.health.record("invalid_pose", f"{self.split_dir / chunk}:{handle.name}")
                pairs = self.sampler.scene_pairs(handle.name, handle.frame_ids, rng)
                if not pairs and not isinstance(self.sampler, IndexSampler):
                    self.health.record("scene_without_pair", handle.name, f"{len(handle.frame_ids)} frames, {self.sampler!r}")
                for src, tgt in pairs:
                    try:
                        yield self._make_pair(handle, src, tgt, rng)
                    except DataError as e:
                        self._record(e, f"{handle.name}:{src}->{tgt}")
            del examples
        self.health.end_epoch()

    def frame_paths(self, scene: str) -> dict[int, Path]:
        """Raw layout: ``{row: frame file}`` of the frames present for ``scene``."""
        if self.layout != "raw":
            raise TypeError("frame_paths is for the raw layout")
        h = self.open_scene(scene)
        assert isinstance(h, _RawScene)
        return {i: h.frame_dir / fn for i, fn in h.files.items()}

    def __repr__(self) -> str:
        return f"RealEstate10KDataset(root={str(self.root)!r}, split={self.split!r}, layout={self.layout!r}, name={self.dataset_name!r})"
