"""Loading the model and the depth estimator for inference, with user-facing errors.

Models come from one of three places:

* ``release_dir`` + ``variant`` — the authors' released checkpoints (``multi1`` / ``multi2``) in the
  release layout (README, "Released checkpoints"); they sample exactly as the release does.
* ``checkpoint`` — one of our exports: a ``GenWarpPipeline.save_pretrained`` folder (a training run's
  ``<output_dir>/model``, or the run folder itself).
* ``tiny_random`` — a tiny random-weight model (no download): for tests and trying the tools out;
  its "generated" views are structured noise.
"""

from __future__ import annotations

from pathlib import Path

import torch

from genwarp.inference.errors import InferenceInputError

__all__ = ["DTYPES", "load_depth_estimator", "load_pipeline", "resolve_device", "resolve_dtype"]

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def resolve_device(device: str | None = "auto") -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; a CUDA device without CUDA is an error."""
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise InferenceInputError(f"--device {device!r} is not a torch device ({e}); use cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InferenceInputError(f"--device {device} asked for CUDA but this torch sees no GPU; use --device cpu")
    return dev


def resolve_dtype(dtype: str | None, device: torch.device) -> torch.dtype:
    """``"auto"`` → float16 on CUDA (as the release), float32 elsewhere."""
    if dtype in (None, "auto"):
        return torch.float16 if device.type == "cuda" else torch.float32
    if dtype not in DTYPES:
        raise InferenceInputError(f"--dtype must be one of auto, {', '.join(DTYPES)}, got {dtype!r}")
    return DTYPES[dtype]


def _pipeline_folder(checkpoint: Path) -> Path:
    if (checkpoint / "model_index.json").is_file():
        return checkpoint
    if (checkpoint / "model" / "model_index.json").is_file():  # a training run folder
        return checkpoint / "model"
    raise InferenceInputError(
        f"--checkpoint {checkpoint} is not a GenWarp export: expected model_index.json in it or in its model/ "
        "folder (GenWarpPipeline.save_pretrained output, e.g. a training run's <output_dir>/model); for the "
        "authors' checkpoints use --release-dir DIR --variant multi1"
    )


def load_pipeline(
    *,
    release_dir: str | Path | None = None,
    variant: str = "multi1",
    checkpoint: str | Path | None = None,
    tiny_random: bool = False,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
):
    """A :class:`~genwarp.pipelines.GenWarpPipeline` from exactly one source (see the module docstring)."""
    from genwarp.pipelines import GenWarpPipeline

    chosen = [name for name, on in (("--release-dir", release_dir is not None), ("--checkpoint", checkpoint is not None),
                                    ("--tiny-random", tiny_random)) if on]
    if len(chosen) != 1:
        raise InferenceInputError(
            "choose the model with exactly one of --release-dir DIR (with --variant multi1|multi2), "
            f"--checkpoint DIR or --tiny-random; got {' and '.join(chosen) if chosen else 'none'}"
        )
    if release_dir is not None:
        if variant not in ("multi1", "multi2") and not (Path(release_dir) / variant).is_dir():
            raise InferenceInputError(f"--variant must be multi1 or multi2 (a folder of {release_dir}), got {variant!r}")
        try:
            return GenWarpPipeline.from_release(release_dir, variant=variant, torch_dtype=dtype, device=device)
        except FileNotFoundError as e:
            raise InferenceInputError(str(e)) from None
    if checkpoint is not None:
        folder = _pipeline_folder(Path(checkpoint))
        try:
            pipe = GenWarpPipeline.from_pretrained(folder, dtype=dtype)
        except (OSError, ValueError) as e:
            raise InferenceInputError(f"cannot load --checkpoint {folder}: {type(e).__name__}: {e}") from None
        return pipe.to(device)
    from genwarp.pipelines.factory import random_pipeline

    pipe = random_pipeline("tiny", seed=0)
    for module in (pipe.model, pipe.codec, pipe.image_encoder):
        if module is not None:
            torch.nn.Module.to(module, device=device, dtype=dtype)
    return pipe


def load_depth_estimator(spec: str, device: torch.device | str = "cpu"):
    """A depth estimator by name (preset, hub id or local folder), or an error saying how to get it."""
    from genwarp.depth import DepthModelNotFoundError, build_depth_estimator

    if spec in ("gt",) or spec.startswith("gt+"):
        raise InferenceInputError(f"--depth-model {spec!r} needs dataset ground truth; give --depth-file instead")
    try:
        return build_depth_estimator(spec, device=device)
    except DepthModelNotFoundError as e:
        raise InferenceInputError(
            f"{e}\nOr pass a depth map with --depth-file (.npy, 16-bit PNG + --depth-scale)."
        ) from None
    except ValueError as e:  # e.g. a relative-depth model
        raise InferenceInputError(f"--depth-model {spec}: {e}") from None
