"""Frame extraction for the raw RealEstate10K / ACID layout (used by ``scripts/prepare_re10k.py``).

For every camera file ``<root>/<split>/<sequence>.txt`` the matching local video is looked up in
``videos_dir`` (``<sequence>.<ext>`` or ``<youtube id>.<ext>`` for mp4/mkv/webm/mov), decoded
with PyAV (OpenCV as a fallback) and the frames at the listed timestamps are written to
``<frames_root>/<split>/<sequence>/<timestamp>.<ext>``.

Matching a row to a video frame (``match=``):

* ``"timestamp"`` — the original video: the decoded frame whose presentation time is nearest to
  the row's timestamp, within 0.6 frame intervals (else the frame is reported missing);
* ``"order"`` — a clip holding exactly the listed frames in order: frame k ↔ row k;
* ``"auto"`` (default) — ``"order"`` when the clip has exactly as many frames as rows and the
  timestamps lie beyond its duration, else ``"timestamp"``.

Frames already on disk are skipped (resumable). Each sequence returns a report of what was
written, skipped and missing.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from genwarp.data.re10k import read_camera_file

__all__ = ["SequenceReport", "extract_sequence_frames", "find_video", "iter_video_frames", "video_info"]

VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm", ".mov", ".avi")


@dataclass
class SequenceReport:
    sequence: str
    video: str | None = None
    status: str = "ok"  # ok | missing_video | unreadable_video | corrupt_camera_file
    mode: str | None = None
    listed: int = 0
    written: int = 0
    skipped_existing: int = 0
    missing_frames: list[int] = field(default_factory=list)  # timestamps not found in the video
    dropped_rows: dict[str, int] = field(default_factory=dict)  # rows not extracted, by kind (invalid_pose, duplicate_timestamp)
    dropped_examples: list[str] = field(default_factory=list)  # why (the first few rows)
    url_missing: bool = False  # the camera file has no URL line (its line 1 is read as row 0)
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _youtube_id(url: str) -> str | None:
    m = re.search(r"(?:v=|youtu\.be/|/embed/)([A-Za-z0-9_-]{6,})", url)
    return m.group(1) if m else None


def find_video(videos_dir: Path, sequence: str, url: str) -> Path | None:
    """The local video of a sequence: ``<sequence>.<ext>`` or ``<youtube id>.<ext>``."""
    stems = [sequence]
    yid = _youtube_id(url)
    if yid:
        stems.append(yid)
    for stem in stems:
        for ext in VIDEO_EXTENSIONS:
            p = videos_dir / f"{stem}{ext}"
            if p.is_file():
                return p
    return None


def _use_av(backend: str) -> bool:
    if backend not in ("auto", "av", "opencv"):
        raise ValueError(f"backend must be 'auto', 'av' or 'opencv', got {backend!r}")
    if backend == "opencv":
        return False
    try:
        import av  # noqa: F401
    except ImportError:
        if backend == "av":
            raise
        return False
    return True


def video_info(path: Path, backend: str = "auto") -> dict[str, Any]:
    """Frame count, fps and duration (µs) of a video."""
    if _use_av(backend):
        import av

        with av.open(str(path)) as c:
            s = c.streams.video[0]
            fps = float(s.average_rate) if s.average_rate else 0.0
            frames = int(s.frames or 0)
            duration = int(float(s.duration * s.time_base) * 1e6) if s.duration else (int(frames / fps * 1e6) if fps else 0)
            return {"frames": frames, "fps": fps, "duration_us": duration}
    else:
        import cv2

        cap = cv2.VideoCapture(str(path))
        frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        fps = float(cap.get(cv2.CAP_PROP_FPS))
        cap.release()
        return {"frames": frames, "fps": fps, "duration_us": int(frames / fps * 1e6) if fps else 0}


def iter_video_frames(path: Path, start_us: int | None = None, backend: str = "auto") -> Iterator[tuple[int, np.ndarray]]:
    """Yield (presentation time in µs, RGB uint8 array) for every frame, seeking near ``start_us``
    first when given. ``backend``: ``"av"`` (PyAV), ``"opencv"`` or ``"auto"`` (PyAV when
    installed, else OpenCV)."""
    if _use_av(backend):
        import av

        with av.open(str(path)) as c:
            s = c.streams.video[0]
            s.thread_type = "AUTO"
            if start_us is not None and start_us > 2_000_000:
                c.seek(int((start_us - 1_000_000) / 1e6 / s.time_base), stream=s, backward=True, any_frame=False)
            for frame in c.decode(s):
                if frame.pts is None:
                    continue
                yield int(round(float(frame.pts * s.time_base) * 1e6)), frame.to_ndarray(format="rgb24")
        return
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        if start_us is not None and start_us > 2_000_000:
            cap.set(cv2.CAP_PROP_POS_MSEC, (start_us - 1_000_000) / 1000.0)
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            t_ms = cap.get(cv2.CAP_PROP_POS_MSEC)  # after read(): the time of the frame just read
            yield int(round(t_ms * 1000)), cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    finally:
        cap.release()


def _save(arr: np.ndarray, path: Path, max_side: int | None, quality: int) -> None:
    img = Image.fromarray(arr)
    if max_side and max(img.size) > max_side:
        f = max_side / max(img.size)
        img = img.resize((max(1, round(img.size[0] * f)), max(1, round(img.size[1] * f))), Image.BILINEAR, reducing_gap=None)
    tmp = path.with_name(path.name + ".tmp")
    fmt = "PNG" if path.suffix.lower() == ".png" else "JPEG"
    img.save(tmp, format=fmt, **({"quality": quality} if fmt == "JPEG" else {}))
    tmp.replace(path)


def extract_sequence_frames(
    camera_file: Path,
    videos_dir: Path,
    out_dir: Path,
    *,
    match: str = "auto",
    ext: str = "jpg",
    max_side: int | None = None,
    quality: int = 95,
    overwrite: bool = False,
    backend: str = "auto",
) -> SequenceReport:
    """Extract one sequence's frames into ``out_dir`` (= ``<frames_root>/<split>/<sequence>``)."""
    from genwarp.data.health import CorruptDataError

    seq = camera_file.stem
    rep = SequenceReport(seq)
    try:
        cams = read_camera_file(camera_file)
    except CorruptDataError as e:
        rep.status, rep.message = "corrupt_camera_file", str(e)
        return rep
    rep.url_missing = cams.url_missing
    for kind, _ in cams.dropped.values():
        rep.dropped_rows[kind] = rep.dropped_rows.get(kind, 0) + 1
    rep.dropped_examples = [reason for _, reason in list(cams.dropped.values())[:3]]
    usable = set(cams.usable_rows)
    # by row; None for a row that is not used (a non-finite value, a repeated timestamp)
    row_timestamps = [int(t) if i in usable else None for i, t in enumerate(cams.timestamps.tolist())]
    timestamps = [t for t in row_timestamps if t is not None]
    rep.listed = len(timestamps)
    video = find_video(videos_dir, seq, cams.url)
    if video is None:
        rep.status = "missing_video"
        rep.missing_frames = timestamps
        rep.message = f"no {seq}.* or {_youtube_id(cams.url)}.* video in {videos_dir}"
        return rep
    rep.video = str(video)
    out_dir.mkdir(parents=True, exist_ok=True)
    suffix = "." + ext.lstrip(".")
    todo = {t for t in timestamps if overwrite or not (out_dir / f"{t}{suffix}").is_file()}
    rep.skipped_existing = len(timestamps) - len(todo)
    if not todo:
        rep.mode = match
        return rep
    try:
        info = video_info(video, backend)
    except Exception as e:  # unreadable container
        rep.status, rep.message = "unreadable_video", f"{type(e).__name__}: {e}"
        rep.missing_frames = sorted(todo)
        return rep
    mode = match
    if mode == "auto":
        beyond = info["duration_us"] > 0 and min(timestamps) > info["duration_us"] + 1_000_000
        mode = "order" if (info["frames"] == len(row_timestamps) and beyond) else "timestamp"
    rep.mode = mode
    written: set[int] = set()
    try:
        if mode == "order":
            for k, (_, arr) in enumerate(iter_video_frames(video, backend=backend)):
                if k >= len(row_timestamps):
                    break
                t = row_timestamps[k]  # frame k is row k (dropped rows included, so the rest stay aligned)
                if t is not None and t in todo:
                    _save(arr, out_dir / f"{t}{suffix}", max_side, quality)
                    written.add(t)
        elif mode == "timestamp":
            targets = sorted(todo)
            fps = info["fps"] or 30.0
            tol = 0.6 * 1e6 / fps
            best: dict[int, float] = {}
            last = targets[-1]
            for t_us, arr in iter_video_frames(video, start_us=targets[0], backend=backend):
                if t_us > last + tol:
                    break
                j = bisect.bisect_left(targets, t_us)
                for cand in (j - 1, j):
                    if 0 <= cand < len(targets):
                        target = targets[cand]
                        diff = abs(target - t_us)
                        if diff <= tol and diff < best.get(target, float("inf")):
                            best[target] = diff
                            _save(arr, out_dir / f"{target}{suffix}", max_side, quality)
                            written.add(target)
        else:
            raise ValueError(f"match must be 'auto', 'timestamp' or 'order', got {match!r}")
    except ValueError:
        raise
    except Exception as e:
        rep.status, rep.message = "unreadable_video", f"{type(e).__name__}: {e}"
    rep.written = len(written)
    rep.missing_frames = sorted(todo - written)
    return rep
