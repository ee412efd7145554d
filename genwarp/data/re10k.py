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

Unusable rows are dropped by one rule in both layouts (:func:`drop_unusable_rows`), keeping the
other rows' indices: a row with a non-finite value (``invalid_pose``) and a row repeating an
earlier row's timestamp (``duplicate_timestamp``: the raw layout has one frame file per
timestamp, so it would pair one image with two poses; the first row is kept). Each dropped row is
counted in ``dataset.health``. A camera file whose line 1 is already a row (no URL line) keeps
that row as row 0 and is counted as ``missing_url_line``; a row that is not 19 numbers makes the
whole file corrupt (the error names the line).

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
    "drop_unusable_rows",
    "load_image",
    "read_camera_file",
]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")


# ----------------------------------------------------------------------------------------------
# Camera files and image decoding
# ----------------------------------------------------------------------------------------------


class CameraFile:
    """A parsed RealEstate10K camera file.

    Arrays are indexed by *row* (the frame index, 0-based after the URL line), including rows
    that cannot be used; ``dropped`` maps those rows to ``(kind, reason)``:

    * ``"invalid_pose"`` — a non-finite value (nan/inf) in the row (its pose is zeroed here);
    * ``"duplicate_timestamp"`` — the row repeats an earlier row's timestamp (the raw layout has
      one frame file per timestamp, so such a row would pair one image with two poses; the first
      row of a timestamp is kept).

    ``usable_rows`` lists the others. ``url_missing`` is set when line 1 is already a camera row
    (a file without its URL line): that row is then row 0, not lost.
    """

    def __init__(self, url: str, timestamps: np.ndarray, intrinsics: Tensor, c2w: Tensor,
                 dropped: dict[int, tuple[str, str]] | None = None, *, url_missing: bool = False,
                 path: Path | None = None):
        self.url = url
        self.timestamps = timestamps  # int64 (N,) microseconds (-1 where non-finite)
        self.intrinsics = intrinsics  # (N, 3, 3) normalised
        self.c2w = c2w  # (N, 4, 4)
        self.dropped = dict(dropped or {})
        self.url_missing = url_missing
        self.path = path

    def __len__(self) -> int:
        return len(self.timestamps)

    @property
    def usable_rows(self) -> list[int]:
        return [i for i in range(len(self)) if i not in self.dropped]


def drop_unusable_rows(cams: Tensor, timestamps: Tensor | np.ndarray, describe_row) -> dict[int, tuple[str, str]]:
    """Rows of a sequence that cannot be used, ``{row: (kind, reason)}``: a non-finite camera value
    or timestamp (``invalid_pose``), or a timestamp seen in an earlier row (``duplicate_timestamp``).
    One rule for both layouts; ``describe_row(i)`` names row ``i`` in the reasons."""
    cams = torch.as_tensor(cams, dtype=torch.float64)
    ts = torch.as_tensor(np.asarray(timestamps, dtype=np.float64))
    finite = torch.isfinite(cams).all(1) & torch.isfinite(ts)
    dropped: dict[int, tuple[str, str]] = {}
    first_row: dict[int, int] = {}
    for i in range(cams.shape[0]):
        if not bool(finite[i]):
            bad = "timestamp" if not bool(torch.isfinite(ts[i])) else "camera"
            dropped[i] = ("invalid_pose", f"{describe_row(i)}: non-finite value in its {bad} (row not used)")
            continue
        t = int(round(float(ts[i])))
        if t in first_row:
            dropped[i] = ("duplicate_timestamp", f"{describe_row(i)}: timestamp {t} repeats {describe_row(first_row[t])} "
                                                 "(one frame, two poses: the later row is not used)")
        else:
            first_row[t] = i
    return dropped


def record_dropped_rows(health: Any, where: str, dropped: dict[int, tuple[str, str]]) -> None:
    """Count every dropped row in ``health`` (one warning per file and kind, naming the rows)."""
    by_kind: dict[str, list[int]] = {}
    for row, (kind, _) in sorted(dropped.items()):
        by_kind.setdefault(kind, []).append(row)
    for kind, rows in by_kind.items():
        first = dropped[rows[0]][1]
        more = f" (+{len(rows) - 1} more row(s) of this kind)" if len(rows) > 1 else ""
        for _ in rows:
            health.record(kind, f"{where} [{kind.replace('_', ' ')}]", first + more)


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


_ROW_HELP = "19 numbers (timestamp, fx fy cx cy, 0 0, 3x4 world-to-camera)"


def _parse_row(line: str) -> list[float] | None:
    """The numbers of a line, or None when a field is not a number (nan/inf parse as numbers)."""
    try:
        return [float(p) for p in line.split()]
    except ValueError:
        return None


def read_camera_file(path: str | Path) -> CameraFile:
    """Parse a camera file (line 1 the video URL, then rows of 19 numbers).

    Raises :class:`CorruptDataError` naming the file and the line for a row that is not 19 numbers
    (or a file with no row). A row holding a non-finite value or repeating an earlier timestamp is
    kept in the arrays but listed in ``CameraFile.dropped`` (see :class:`CameraFile`); a file
    whose line 1 is already a camera row (no URL line) reads that row as row 0 and sets
    ``url_missing``.
    """
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise CorruptDataError(f"cannot read camera file {path}: {e}", path=path, kind="corrupt_camera_file") from e
    if not lines or not any(line.strip() for line in lines):
        raise CorruptDataError(f"camera file {path} is empty", path=path, kind="corrupt_camera_file")
    first = lines[0].strip()
    head = _parse_row(first)
    if head is not None and len(head) not in (0, 19):
        raise CorruptDataError(f"camera file {path} line 1: expected the video URL (or a row of {_ROW_HELP}), "
                               f"got {len(head)} numbers", path=path, kind="corrupt_camera_file")
    url_missing = head is not None  # line 1 is blank or already a camera row: no URL line
    url = "" if url_missing else first
    start = 1 if head else 2  # line number of the first row (line 1 itself when it is a row)
    values = []
    for ln, line in enumerate(lines[start - 1:], start=start):
        if not line.strip():
            continue
        nums = _parse_row(line)
        if nums is None:
            bad = next(p for p in line.split() if _parse_row(p) is None)
            raise CorruptDataError(f"camera file {path} line {ln}: expected {_ROW_HELP}, got a non-number field {bad!r}",
                                   path=path, kind="corrupt_camera_file")
        if len(nums) != 19:
            raise CorruptDataError(f"camera file {path} line {ln}: expected {_ROW_HELP}, got {len(nums)} fields",
                                   path=path, kind="corrupt_camera_file")
        values.append((ln, nums))
    if not values:
        raise CorruptDataError(f"camera file {path} lists no frames", path=path, kind="corrupt_camera_file")
    arr = np.asarray([v for _, v in values], dtype=np.float64)
    line_of = [ln for ln, _ in values]
    dropped = drop_unusable_rows(torch.from_numpy(arr[:, 1:]), arr[:, 0], lambda i: f"row {i} (line {line_of[i]})")
    if len(dropped) == len(values):
        raise CorruptDataError(f"camera file {path}: none of its {len(values)} rows is usable, e.g. "
                               f"{dropped[min(dropped)][1]}", path=path, kind="corrupt_camera_file")
    finite = np.isfinite(arr).all(1)
    timestamps = np.where(finite, np.round(np.where(finite, arr[:, 0], 0.0)), -1).astype(np.int64)
    rows = torch.from_numpy(np.where(finite[:, None], arr[:, 1:], 0.0))
    K, c2w = cameras_from_rows(rows)
    return CameraFile(url, timestamps, K, c2w, dropped, url_missing=url_missing, path=path)


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
        if self.cameras.url_missing:
            ds.health.record("missing_url_line", cam_path, "line 1 is not the video URL: read as row 0, no row lost")
        record_dropped_rows(ds.health, str(cam_path), self.cameras.dropped)
        self.files: dict[int, str] = {}
        missing = 0
        for row, ts in enumerate(self.cameras.timestamps.tolist()):
            if row in self.cameras.dropped:
                continue  # non-finite value or duplicate timestamp: counted above
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
            raise MissingDataError(f"sequence {name}: none of its {len(self.cameras.usable_rows)} usable frames is in "
                                   f"{self.frame_dir}", path=self.frame_dir, kind="missing_sequence")

    def load_view(self, index: int, *, with_depth: bool) -> View:
        if not 0 <= index < len(self.cameras):
            raise MissingDataError(f"{self.name} has rows 0..{len(self.cameras) - 1}, asked for {index}", path=f"{self.frame_dir}:{index}", kind="missing_frame")
        if index in self.cameras.dropped:
            raise CorruptDataError(f"{self.name}: {self.cameras.dropped[index][1]}", path=f"{self.cameras.path}:{index}",
                                   kind=self.cameras.dropped[index][0])
        fn = self.files.get(index)
        if fn is None:
            ts = int(self.cameras.timestamps[index])
            raise MissingDataError(f"frame {index} (timestamp {ts}) of {self.name} is missing", path=self.frame_dir / f"{ts}.png", kind="missing_frame")
        image = load_image(self.frame_dir / fn)
        return View(image, self.cameras.intrinsics[index].clone(), self.cameras.c2w[index].clone(), index=index)


class _ChunkScene(SceneHandle):
    def __init__(self, example: Any, chunk: Path, health: Any = None):
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
        # the same rule as camera files: a non-finite value or a repeated timestamp drops the row only
        self.dropped = drop_unusable_rows(cams, timestamps.numpy(), lambda i: f"{chunk}:{key} row {i}")
        finite = torch.isfinite(cams).all(1)
        self.intrinsics, self.c2w = cameras_from_rows(torch.where(finite[:, None], cams, torch.zeros_like(cams)))
        self.frame_ids = [i for i in range(cams.shape[0]) if i not in self.dropped]
        self.invalid = sorted(self.dropped)
        if health is not None:
            record_dropped_rows(health, f"{chunk}:{key}", self.dropped)

    def load_view(self, index: int, *, with_depth: bool) -> View:
        if index in self.dropped:
            raise CorruptDataError(self.dropped[index][1], path=f"{self.chunk}:{self.name}:{index}", kind=self.dropped[index][0])
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
            handle = _ChunkScene(ex, self.split_dir / chunk, self.health)
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
                    key = str(examples[i]["key"]) if isinstance(examples[i], dict) and "key" in examples[i] else None
                    if wanted is not None and key is not None and key not in wanted_set:
                        continue
                    handle = _ChunkScene(examples[i], self.split_dir / chunk, self.health)  # counts dropped rows
                except DataError as e:
                    self._record(e, chunk)
                    continue
                if wanted is not None and handle.name not in wanted_set:
                    continue
                pairs = self.sampler.scene_pairs(handle.name, handle.frame_ids, rng)
                if not pairs and not isinstance(self.sampler, IndexSampler):
                    self.health.record("scene_without_pair", handle.name, f"{len(handle.frame_ids)} frames, {self.sampler!r}")
                for src, tgt in pairs:
                    try:
                        sample = self._make_pair(handle, src, tgt, rng)
                    except DataError as e:
                        self._pair_unusable(e, f"{handle.name}:{src}->{tgt}")
                        continue
                    self.pair_counts["used"] += 1
                    yield sample
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
