"""``genwarp-infer`` / ``python scripts/infer.py``: photos → novel views along a camera path.

Examples::

    # the released model, ZoeDepth depth, an orbit of 24 views
    python scripts/infer.py --image photo.jpg --release-dir checkpoints --variant multi1 --path orbit

    # one explicit camera: 10° to the right and 0.3 m forward (depth in metres)
    python scripts/infer.py --image photo.jpg --release-dir checkpoints --yaw 10 --forward 0.3

    # a folder of images with their depth maps (same stems, 16-bit PNG in millimetres)
    python scripts/infer.py --image photos/ --depth-file depths/ --depth-scale 0.001 --checkpoint runs/paper/model

    # the cameras of a RealEstate10K sequence (frame 0 is the input photo)
    python scripts/infer.py --image frame0.png --camera-file seq.txt --translation-scale 1.0 --release-dir checkpoints

    # a long path, autoregressively: each 4 views from the last generated view and its estimated depth
    python scripts/infer.py --image photo.jpg --release-dir checkpoints --path dolly --distance 3 \\
        --num-views 32 --autoregressive --segment-length 4

Writes, for every input image, ``<output>/<image stem>/``: ``views/NNN.png`` (one per view),
``warped/NNN.png``, ``path.mp4`` and ``path.gif`` (one frame per view), ``contact_sheet.png``
(input | warped | generated per view), ``input.png``, ``depth.npy`` / ``depth.png`` and
``cameras.json`` (every camera and setting); the output folder is printed at the end. Two images
whose names differ only by extension (``x.png``, ``x.jpg``) are refused, since their folders would
collide. A folder that already holds results of an earlier run is refused unless ``--overwrite``
is given; then the earlier result files (only those: ``views/NNN.png``, ``warped/NNN.png`` and the
files above) are removed, with a line saying so, before the new ones are written, so a folder never
mixes two runs.

**Units.** Camera translations (``--forward``, ``--distance``, camera-file translations ×
``--translation-scale``) are in the units of the depth map: metres for the default ZoeDepth (a
metric estimator) and for ``--depth-file`` maps in metres. Preset magnitudes left unset are
fractions of the scene's median depth, so they suit any depth scale.

Bad input (an unreadable image, a malformed camera file, a depth map of the wrong size,
contradictory flags, a NaN or out-of-range number, a non-rigid camera, an unwritable ``--output``,
a truncated weight file) prints one ``error:`` line and exits with status 2, before any model is
loaded; in a folder run a bad image is skipped with one line and the exit status is 1. Input that
works but probably not as meant (a tiny image blown up, a panorama cropped to a sliver, the first
frame of an animated GIF, depth in front of the warp's near plane, a view that sees nothing of the
source) prints one ``warning:`` line each and carries on.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import tempfile
import time
import warnings
from datetime import datetime
from pathlib import Path

import numpy as np
import torch

from genwarp.inference.cameras import (
    PRESET_PATHS,
    CameraPath,
    camera_file_path,
    camera_pose,
    interpolate_poses,
    intrinsics_from_fov,
    preset_path,
    scene_depth,
)
from genwarp.inference.errors import InferenceInputError, InferenceInputWarning, warn_input
from genwarp.inference.generate import check_depth_near, generate_autoregressive, generate_views
from genwarp.inference.inputs import (
    check_image_size,
    check_unique_stems,
    find_depth_file,
    list_images,
    load_depth,
    load_image,
    prepare_source,
)
from genwarp.inference.loading import (
    check_model_source,
    load_depth_estimator,
    load_pipeline,
    resolve_device,
    resolve_dtype,
)
from genwarp.inference.outputs import depth_preview, save_png, write_contact_sheet, write_gif, write_mp4

__all__ = ["build_parser", "main", "run"]

EXPLICIT_FLAGS = ("yaw", "pitch", "roll", "right", "down", "forward")
DEFAULT_PRESET_VIEWS = 24
MAX_SIZE = 4096  # --height / --width
MAX_STEPS = 1000  # DDIM steps: at most the schedule's training timesteps
FPS_RANGE = (0.1, 240.0)
OUTPUT_FILES = ("input.png", "depth.npy", "depth.png", "path.mp4", "path.gif", "contact_sheet.png", "cameras.json")
OUTPUT_VIEW_DIRS = ("views", "warped")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="genwarp-infer", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    g = p.add_argument_group("input")
    g.add_argument("--image", required=True, type=Path, help="an image file or a folder of images")
    g.add_argument("--depth-model", default="zoedepth-nyu",
                   help="depth estimator: a preset (zoedepth-nyu, zoedepth-nyu-kitti, depth-anything-v2-metric-indoor, "
                        "…), a hub id or a local folder (default: zoedepth-nyu, as the release)")
    g.add_argument("--depth-file", type=Path,
                   help="depth instead of an estimator: .npy (float z-depth), 16-bit PNG (× --depth-scale) or float "
                        "TIFF of the image's exact size; a folder holds one per image (same stem)")
    g.add_argument("--depth-scale", type=float, default=0.001,
                   help="multiplier of integer depth PNG/TIFF values (default 0.001: millimetres → metres)")

    g = p.add_argument_group("model (exactly one)")
    g.add_argument("--release-dir", type=Path, help="root of the released checkpoints (README: 'Released checkpoints')")
    g.add_argument("--variant", default="multi1", help="release variant: multi1 or multi2 (default multi1)")
    g.add_argument("--checkpoint", type=Path, help="one of our exports (GenWarpPipeline.save_pretrained folder or run folder)")
    g.add_argument("--tiny-random", action="store_true", help="a tiny random-weight model (tests; output is noise)")
    g.add_argument("--device", default="auto", help="cpu, cuda, cuda:N (default: cuda if available)")
    g.add_argument("--dtype", default="auto", choices=["auto", "float32", "float16", "bfloat16"],
                   help="model precision (default: float16 on CUDA, float32 on CPU)")

    g = p.add_argument_group("camera (a preset path, an explicit pose, or a camera file)")
    g.add_argument("--fov", type=float, default=60.0, help="vertical field of view of the input image, degrees (default 60)")
    g.add_argument("--intrinsics", type=float, nargs=4, metavar=("FX", "FY", "CX", "CY"),
                   help="normalised intrinsics of the input image (fx/W, fy/H, cx/W, cy/H) instead of --fov")
    g.add_argument("--path", choices=PRESET_PATHS, help="a preset path (default orbit when no other camera is given)")
    g.add_argument("--num-views", type=int,
                   help=f"views on the path (default {DEFAULT_PRESET_VIEWS} for presets, 1 for an explicit pose, every "
                        "frame of a camera file)")
    g.add_argument("--angle", type=float, help="orbit: half the yaw sweep, degrees (default 15)")
    g.add_argument("--distance", type=float,
                   help="dolly: distance forward (negative: back); pan: half the sideways sweep (depth units; default "
                        "0.3 / 0.15 × the median depth)")
    g.add_argument("--radius", type=float, help="lookaround: circle radius (depth units; default 0.08 × median depth)")
    g.add_argument("--pivot-depth", type=float, help="orbit/lookaround: distance to the point faced (default: median depth)")
    for name, what in (("yaw", "turn right, degrees"), ("pitch", "tilt up, degrees"),
                       ("roll", "clockwise roll, degrees"), ("right", "move right, depth units"),
                       ("down", "move down, depth units"), ("forward", "move forward, depth units")):
        g.add_argument(f"--{name}", type=float, help=f"explicit target pose: {what}")
    g.add_argument("--camera-file", type=Path, help="a RealEstate10K-style camera file (URL line + 19 numbers per frame)")
    g.add_argument("--source-frame", type=int, default=0, help="camera-file row (0-based) of the input image")
    g.add_argument("--frames", type=int, nargs="+", help="camera-file rows to render (default: all others)")
    g.add_argument("--translation-scale", type=float, default=1.0,
                   help="multiplier of camera-file translations into depth units (RealEstate10K scale is arbitrary)")

    g = p.add_argument_group("sampling")
    g.add_argument("--height", type=int, default=512, help="working height (multiple of 8; default 512)")
    g.add_argument("--width", type=int, default=512, help="working width (multiple of 8; default 512)")
    g.add_argument("--no-crop", action="store_true", help="squash the image to height×width instead of centre-cropping")
    g.add_argument("--steps", type=int, default=20, help="DDIM steps (default 20)")
    g.add_argument("--guidance", type=float, default=3.5, help="classifier-free guidance scale (default 3.5)")
    g.add_argument("--seed", type=int, default=0, help="seed of the initial noise (default 0)")
    g.add_argument("--max-batch", type=int, help="views per pipeline call (default: all; lower it to save memory)")
    g.add_argument("--autoregressive", action="store_true",
                   help="generate later views from the last generated view and its estimated depth (long paths)")
    g.add_argument("--segment-length", type=int, default=4, help="autoregressive: views per anchor (default 4)")
    g.add_argument("--no-align-scale", action="store_true",
                   help="autoregressive: trust the estimator's depth scale instead of aligning it to the previous anchor")

    g = p.add_argument_group("output")
    g.add_argument("--output", type=Path, help="output folder (default outputs/infer/<date-time>)")
    g.add_argument("--overwrite", action="store_true",
                   help="replace the results of an earlier run in <output>/<image stem>/ (default: refuse)")
    g.add_argument("--fps", type=float, default=8.0, help="frames per second of the MP4 / GIF (default 8)")
    g.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


# ------------------------------------------------------------------------------------------------
# Checks that need no model
# ------------------------------------------------------------------------------------------------


def _need(flag: str, value, ok, what: str) -> None:
    """``value`` (None: not given) must be a finite number for which ``ok(value)`` holds."""
    if value is not None and not (math.isfinite(float(value)) and ok(value)):
        raise InferenceInputError(f"{flag} must be {what}, got {value!r}")


def _check_numbers(args: argparse.Namespace) -> None:
    """Every numeric flag finite and in range (NaN and ±inf parse as floats; none is meaningful)."""
    for name in ("height", "width"):
        value = getattr(args, name)
        if value <= 0 or value % 8 or value > MAX_SIZE:
            raise InferenceInputError(f"--{name} must be a positive multiple of 8 up to {MAX_SIZE}, got {value}")
    for name, low in (("num_views", 1), ("steps", 1), ("max_batch", 1), ("segment_length", 1), ("source_frame", 0)):
        value = getattr(args, name)
        if value is not None and value < low:
            raise InferenceInputError(f"--{name.replace('_', '-')} must be at least {low}, got {value}")
    _need("--steps", args.steps, lambda v: v <= MAX_STEPS, f"at most {MAX_STEPS} (the schedule's training timesteps)")
    _need("--seed", args.seed, lambda v: 0 <= v < 2**64, "in 0 … 2^64 − 1")
    _need("--depth-scale", args.depth_scale, lambda v: v > 0, "a positive number (depth units per integer step)")
    _need("--fov", args.fov, lambda v: 0 < v < 179, "a vertical field of view in degrees in (0, 179)")
    _need("--angle", args.angle, lambda v: abs(v) < 180, "an angle in degrees in (-180, 180)")
    _need("--distance", args.distance, lambda v: True, "a finite number (depth units)")
    _need("--radius", args.radius, lambda v: v >= 0, "a finite number ≥ 0 (depth units)")
    _need("--pivot-depth", args.pivot_depth, lambda v: v > 0, "a positive number (depth units)")
    for name in ("yaw", "pitch", "roll"):
        _need(f"--{name}", getattr(args, name), lambda v: abs(v) < 180, "an angle in degrees in (-180, 180)")
    for name in ("right", "down", "forward"):
        _need(f"--{name}", getattr(args, name), lambda v: True, "a finite number (depth units)")
    _need("--translation-scale", args.translation_scale, lambda v: v > 0, "a positive number")
    _need("--guidance", args.guidance, lambda v: v >= 0, "a number ≥ 0")
    lo, hi = FPS_RANGE
    _need("--fps", args.fps, lambda v: lo <= v <= hi, f"a number of frames per second in [{lo:g}, {hi:g}]")
    if args.intrinsics is not None:
        fx, fy, cx, cy = args.intrinsics
        if not all(math.isfinite(v) for v in args.intrinsics):
            raise InferenceInputError(f"--intrinsics must be four finite numbers, got {fx!r} {fy!r} {cx!r} {cy!r}")
        if max(abs(v) for v in args.intrinsics) > 20 or fx <= 0 or fy <= 0:
            raise InferenceInputError(
                f"--intrinsics {fx:g} {fy:g} {cx:g} {cy:g} must be normalised and positive (fx/W fy/H cx/W cy/H, "
                "e.g. 0.9 0.9 0.5 0.5); divide pixel values by the image width / height"
            )


def _check_args(args: argparse.Namespace) -> str:
    """Flag consistency and ranges; returns the camera mode: ``preset``, ``explicit`` or ``camera-file``."""
    explicit = [f"--{n}" for n in EXPLICIT_FLAGS if getattr(args, n) is not None]
    modes = [m for m, on in (("--path", args.path is not None), ("explicit pose (" + " ".join(explicit) + ")", bool(explicit)),
                             ("--camera-file", args.camera_file is not None)) if on]
    if len(modes) > 1:
        raise InferenceInputError(f"give one camera: {' and '.join(modes)} were both given")
    _check_numbers(args)
    if args.camera_file is not None:
        return "camera-file"
    return "explicit" if explicit else "preset"


def _check_output(output: Path) -> None:
    """``--output`` must be creatable and writable (checked with a probe file in the nearest folder
    that exists, which works for read-only file systems and for root as well); nothing is created."""
    existing = output
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise InferenceInputError(f"--output {output} cannot be created: {existing} is a file, not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".genwarp-write-test-", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise InferenceInputError(f"--output {output} is not writable ({existing}: {e.strerror or e}); choose another "
                                  "--output") from None


def _earlier_results(folder: Path) -> list[Path]:
    """The result files of an earlier run in ``folder`` (only files this command writes)."""
    if not folder.is_dir():
        return []
    found = [folder / n for n in OUTPUT_FILES if (folder / n).is_file()]
    for sub in OUTPUT_VIEW_DIRS:
        if (folder / sub).is_dir():
            found += sorted(p for p in (folder / sub).glob("*.png") if p.stem.isdigit() and p.is_file())
    return found


def _check_earlier_results(images: list[Path], output: Path, overwrite: bool) -> None:
    """Refuse result folders that are files, and (without ``--overwrite``) folders holding an
    earlier run's results, before any work is done."""
    clashes = []
    for image in images:
        folder = output / image.stem
        if folder.exists() and not folder.is_dir():
            raise InferenceInputError(f"the result folder {folder} of {image.name} is a file; move it or choose "
                                      "another --output")
        if _earlier_results(folder) and not overwrite:
            clashes.append(folder)
    if clashes:
        names = ", ".join(str(f) for f in clashes[:3]) + (f" and {len(clashes) - 3} more" if len(clashes) > 3 else "")
        raise InferenceInputError(
            f"{names} already hold{'s' if len(clashes) == 1 else ''} the results of an earlier run; pass --overwrite to "
            "replace them (only the earlier result files are removed) or choose another --output"
        )


def _remove_earlier_results(folder: Path, image: Path) -> None:
    """``--overwrite``: remove an earlier run's results (announced) so the folder never mixes runs."""
    old = _earlier_results(folder)
    if not old:
        return
    for path in old:
        path.unlink()
    for sub in OUTPUT_VIEW_DIRS:
        with contextlib.suppress(OSError):
            (folder / sub).rmdir()  # only when empty: other files are left alone
    n_views = sum(1 for p in old if p.parent.name == "views")
    print(f"{image.name}: --overwrite: removed the earlier results in {folder} ({len(old)} files, {n_views} views)",
          file=sys.stderr, flush=True)


def _warn_unused_flags(args: argparse.Namespace, mode: str) -> None:
    """Flags the chosen camera does not read are announced, not silently dropped."""
    preset = (args.path or "orbit") if mode == "preset" else None
    uses = {"angle": ("orbit",), "distance": ("dolly", "pan"), "radius": ("lookaround",),
            "pivot_depth": ("orbit", "lookaround")}
    unused = [f"--{n.replace('_', '-')}" for n, presets in uses.items()
              if getattr(args, n) is not None and preset not in presets]
    if mode != "camera-file":
        unused += [flag for flag, on in (("--frames", args.frames is not None), ("--source-frame", args.source_frame != 0),
                                         ("--translation-scale", args.translation_scale != 1.0)) if on]
    if unused:
        used_by = f"the {preset} path" if preset else ("the camera file" if mode == "camera-file" else "an explicit pose")
        warn_input(f"{' '.join(unused)} not used by {used_by}: ignored")


@contextlib.contextmanager
def _deferred_warnings():
    """Hold back warnings while input is being checked: if the checks fail, the error is the one
    line printed; if they pass, the warnings follow."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", InferenceInputWarning)
        yield
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


@contextlib.contextmanager
def _warnings_as_lines():
    """Input warnings as one ``warning: …`` line each on stderr (others as Python prints them)."""
    with warnings.catch_warnings():
        warnings.simplefilter("always", InferenceInputWarning)
        default = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if issubclass(category, InferenceInputWarning):
                print(f"warning: {message}", file=sys.stderr, flush=True)
            else:
                default(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        yield


def _source_intrinsics(args: argparse.Namespace, hw: tuple[int, int]) -> torch.Tensor:
    if args.intrinsics is not None:
        fx, fy, cx, cy = args.intrinsics
        return torch.tensor([[fx, 0, cx], [0, fy, cy], [0, 0, 1]], dtype=torch.float32)
    return intrinsics_from_fov(args.fov, *hw)


def _crop_intrinsics(K: torch.Tensor, hw: tuple[int, int], window: tuple[int, int, int, int]) -> torch.Tensor:
    from genwarp.data.shims import crop_intrinsics

    top, left, h, w = window
    return crop_intrinsics(K, hw, top, left, (h, w))


# ------------------------------------------------------------------------------------------------
# The run
# ------------------------------------------------------------------------------------------------


class _Runner:
    """Loads the model and the depth estimator once, on first use."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.device = resolve_device(args.device)
        self.dtype = resolve_dtype(args.dtype, self.device)
        self._pipe = None
        self._estimator = None

    @property
    def pipe(self):
        if self._pipe is None:
            a = self.args
            t = time.perf_counter()
            self._pipe = load_pipeline(release_dir=a.release_dir, variant=a.variant, checkpoint=a.checkpoint,
                                       tiny_random=a.tiny_random, device=self.device, dtype=self.dtype)
            self.log(f"model loaded in {time.perf_counter() - t:.1f} s ({self.device}, {str(self.dtype).removeprefix('torch.')})")
        return self._pipe

    @property
    def estimator(self):
        if self._estimator is None:
            t = time.perf_counter()
            self._estimator = load_depth_estimator(self.args.depth_model, self.device)
            self.log(f"depth model {self.args.depth_model} loaded in {time.perf_counter() - t:.1f} s")
        return self._estimator

    def log(self, message: str) -> None:
        if not self.args.quiet:
            print(message, file=sys.stderr, flush=True)


def _build_path(args, mode: str, cam_file, K_src: torch.Tensor, hw0, window, scale: float) -> CameraPath:
    if mode == "camera-file":
        _, path = cam_file
        K_tgt = _crop_intrinsics(path.intrinsics, hw0, window) if not args.no_crop else path.intrinsics
        return CameraPath(path.c2w, K_tgt, path.name)
    if mode == "explicit":
        target = camera_pose(**{n: (getattr(args, n) or 0.0) for n in EXPLICIT_FLAGS})
        n = args.num_views or 1
        return CameraPath(interpolate_poses(target, n).float(), K_src.expand(n, 3, 3).clone(), "explicit")
    return preset_path(args.path or "orbit", args.num_views or DEFAULT_PRESET_VIEWS, K_src, scene_scale=scale,
                       angle=args.angle, distance=args.distance, radius=args.radius, pivot_depth=args.pivot_depth)


class _SkipImage(InferenceInputError):
    """A problem with one input image (in a folder run: skip it, carry on)."""


def _read_source(args, image_path: Path, cam_file):
    """Image, depth file and intrinsics of one input, at the working resolution, all checked (no
    model needed); warnings are held back until every check has passed."""
    try:
        with _deferred_warnings():
            image = load_image(image_path)
            hw0 = tuple(image.shape[-2:])
            check_image_size(image_path, hw0, args.height, args.width, crop=not args.no_crop)
            depth = mask = None
            depth_from = args.depth_model
            if args.depth_file is not None:
                depth_path = find_depth_file(image_path, args.depth_file)
                depth, mask = load_depth(depth_path, hw0, args.depth_scale)
                depth_from = str(depth_path)
            K0 = cam_file[0] if cam_file is not None else _source_intrinsics(args, hw0)
            source = prepare_source(image, K0, args.height, args.width, depth, mask, crop=not args.no_crop)
            if source.depth is not None:
                hint = ("; check --depth-scale (integer depth files are multiplied by it)"
                        if depth_path.suffix.lower() != ".npy" else "; check the depth file's units")
                check_depth_near(source.depth, source.depth_mask, f"depth file {depth_path}", hint=hint)
    except InferenceInputError as e:
        raise _SkipImage(str(e)) from None
    return source, hw0, depth_from


def process_image(runner: _Runner, image_path: Path, out_dir: Path, mode: str, cam_file) -> dict:
    """Every output of one input image; returns a summary."""
    args = runner.args
    t0 = time.perf_counter()
    source, hw0, depth_from = _read_source(args, image_path, cam_file)
    if source.depth is None:
        est = runner.estimator.estimate(source.image[None])[0].float().cpu()
        source.depth, source.depth_mask = est, torch.isfinite(est) & (est > 0)
        try:
            check_depth_near(source.depth, source.depth_mask, f"{image_path.name}: depth from {args.depth_model}",
                             hint="; use a metric depth model or --depth-file")
        except InferenceInputError as e:
            raise _SkipImage(str(e)) from None
    scale = scene_depth(source.depth, source.depth_mask)
    path = _build_path(args, mode, cam_file, source.intrinsics, hw0, source.window, scale)

    pipe = runner.pipe
    t1 = time.perf_counter()
    settings = dict(steps=args.steps, guidance=args.guidance, seed=args.seed, max_batch=args.max_batch,
                    progress=not args.quiet)
    if args.autoregressive:
        res = generate_autoregressive(pipe, source, path, runner.estimator, segment=args.segment_length,
                                      align_scale=not args.no_align_scale, **settings)
    else:
        res = generate_views(pipe, source, path, **settings)
    gen_s = time.perf_counter() - t1
    visible = [float(v.mean()) for v in res.visibility]
    blind = [i for i, v in enumerate(visible) if v == 0]
    if blind:
        warn_input(f"{image_path.name}: view(s) {', '.join(map(str, blind))} of {len(path)} see nothing of the source "
                   "(0% of the warped view is covered: the camera moved past, behind or away from the scene); the "
                   "generated view(s) are unconstrained")

    if args.overwrite:
        _remove_earlier_results(out_dir, image_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_png(source.image, out_dir / "input.png")
    np.save(out_dir / "depth.npy", source.depth[0].numpy())
    save_png(depth_preview(source.depth, source.depth_mask), out_dir / "depth.png")
    for i in range(len(path)):
        save_png(res.images[i], out_dir / "views" / f"{i:03d}.png")
        save_png(res.warped[i], out_dir / "warped" / f"{i:03d}.png")
    write_mp4(res.images, out_dir / "path.mp4", fps=args.fps)
    write_gif(res.images, out_dir / "path.gif", fps=args.fps)
    write_contact_sheet(source.image, res.warped, res.images, out_dir / "contact_sheet.png")
    summary = {
        "image": str(image_path),
        "depth": depth_from,
        "median_depth": round(scale, 6),
        "crop_window_top_left_h_w": list(source.window),
        "working_size_hw": [args.height, args.width],
        "source_intrinsics": source.intrinsics.tolist(),
        "path": path.to_json(),
        "anchors": res.anchors,
        "visible_fraction": [round(v, 4) for v in visible],
        "settings": {k: v for k, v in vars(args).items() if not k.startswith("_")},
        "generation_seconds": round(gen_s, 3),
        "total_seconds": round(time.perf_counter() - t0, 3),
    }
    (out_dir / "cameras.json").write_text(json.dumps(summary, indent=2, default=str))
    runner.log(f"{image_path.name}: {len(path)} views in {gen_s:.1f} s → {out_dir}")
    return summary


def run(args: argparse.Namespace) -> int:
    """The command line's work; returns the exit status (0, or 1 when folder images were skipped)."""
    with _deferred_warnings():  # everything that needs no model, before any is loaded
        mode = _check_args(args)
        _warn_unused_flags(args, mode)
        images = list_images(args.image)
        check_unique_stems(images)
        cam_file = None
        if mode == "camera-file":
            cam_file = camera_file_path(args.camera_file, args.source_frame, args.frames, args.num_views,
                                        args.translation_scale)
        if args.depth_file is not None and not args.depth_file.exists():
            raise InferenceInputError(f"--depth-file {args.depth_file} does not exist")
        output = args.output or Path("outputs/infer") / datetime.now().strftime("%Y%m%d-%H%M%S")
        _check_output(output)
        _check_earlier_results(images, output, args.overwrite)
        check_model_source(release_dir=args.release_dir, variant=args.variant, checkpoint=args.checkpoint,
                           tiny_random=args.tiny_random)
        runner = _Runner(args)
    skipped = []
    for image_path in images:
        try:
            process_image(runner, image_path, output / image_path.stem, mode, cam_file)
        except _SkipImage as e:
            if len(images) == 1:
                raise
            skipped.append(image_path.name)
            print(f"skipped {image_path}: {e}", file=sys.stderr, flush=True)
    done = len(images) - len(skipped)
    print(f"{done} image(s) done{f', {len(skipped)} skipped' if skipped else ''}; outputs in {output.resolve()}")
    return 1 if skipped else 0


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse, run, and turn user errors into one line and exit status 2."""
    args = build_parser().parse_args(argv)
    try:
        with _warnings_as_lines():
            return run(args)
    except InferenceInputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
