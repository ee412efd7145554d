"""Loading the model and the depth estimator for inference, with user-facing errors.

Models come from one of three places:

* ``release_dir`` + ``variant`` — the authors' released checkpoints (``multi1`` / ``multi2``) in the
  release layout (README, "Released checkpoints"); they sample exactly as the release does.
* ``checkpoint`` — one of our exports: a ``GenWarpPipeline.save_pretrained`` folder (a training run's
  ``<output_dir>/model``, or the run folder itself).
* ``tiny_random`` — a tiny random-weight model (no download): for tests and trying the tools out;
  its "generated" views are structured noise.

:func:`check_model_source` runs before anything heavy is read: exactly one source, and every weight
and config file it will read is checked for truncation (a ``.safetensors`` file must be exactly as
long as its header says, a zip-format ``.pth`` / ``.bin`` must have its zip directory, which sits at
the very end, and a ``.json`` must parse). A damaged file is one error naming it and how to
download it again.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import torch

from genwarp.inference.errors import InferenceInputError

__all__ = [
    "DTYPES",
    "check_model_source",
    "check_weight_file",
    "load_depth_estimator",
    "load_pipeline",
    "resolve_device",
    "resolve_dtype",
]

WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin", ".ckpt")

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


def check_weight_file(path: str | Path, redownload: str) -> None:
    """An error naming ``path`` if a weight (or JSON config) file is visibly truncated or corrupt;
    ``redownload`` says how to get it again. Cheap: reads a header or the zip directory only."""
    path = Path(path)
    size = path.stat().st_size

    def bad(why: str):
        raise InferenceInputError(
            f"{path} looks truncated or corrupt ({why}); delete it and {redownload}"
        )

    if size == 0:
        bad("the file is empty")
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        with open(path, "rb") as f:
            head = f.read(8)
            n = int.from_bytes(head, "little") if len(head) == 8 else -1
            if not 0 < n <= size - 8:
                bad(f"{size:,} bytes, too short for its safetensors header")
            try:
                header = json.loads(f.read(n))
                end = max((int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"), default=0)
            except (ValueError, TypeError, KeyError, IndexError, AttributeError):
                bad("its safetensors header is not valid")
        expected = 8 + n + end
        if size != expected:
            bad(f"{size:,} bytes where its header announces {expected:,}")
    elif suffix in (".pth", ".pt", ".bin", ".ckpt"):
        with open(path, "rb") as f:
            zipped = f.read(4) == b"PK\x03\x04"  # torch.save's zip format; older pickles are left to torch.load
        if zipped:
            try:
                zipfile.ZipFile(path).close()
            except (zipfile.BadZipFile, OSError, EOFError):
                bad(f"{size:,} bytes and its zip directory, stored at the end, is missing: the download was cut off")
    elif suffix == ".json":
        try:
            json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError) as e:
            bad(f"not valid JSON: {e}")


def _release_files(root: Path, variant: str) -> list[tuple[Path, str]]:
    """The release files that exist, each with how to download it again (README commands)."""
    how = {
        "variant": f"download it again: hf download Sony/genwarp --include \"{variant}/*\" "
                   f"--local-dir {root}",
        "vae": f"download it again: hf download stabilityai/sd-vae-ft-mse --local-dir {root / 'sd-vae-ft-mse'}",
        "clip": "download it again: hf download lambdalabs/sd-image-variations-diffusers --include "
                f"\"image_encoder/*\" --local-dir {root}",
    }
    files = [(root / variant / name, how["variant"])
             for name in ("config.json", "reference_unet.pth", "denoising_unet.pth", "pose_guider.pth")]
    files += [(root / "sd-vae-ft-mse" / name, how["vae"])
              for name in ("config.json", "diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin")]
    files += [(root / "image_encoder" / name, how["clip"])
              for name in ("config.json", "model.safetensors", "pytorch_model.bin")]
    return [(p, h) for p, h in files if p.is_file()]


def check_model_source(
    *,
    release_dir: str | Path | None = None,
    variant: str = "multi1",
    checkpoint: str | Path | None = None,
    tiny_random: bool = False,
) -> None:
    """Everything about the model choice that can be checked without loading it: exactly one
    source, a known variant, a GenWarp export folder, and no truncated / corrupt weight file (see
    the module docstring). A missing release file is named, with where it is published."""
    chosen = [name for name, on in (("--release-dir", release_dir is not None), ("--checkpoint", checkpoint is not None),
                                    ("--tiny-random", tiny_random)) if on]
    if len(chosen) != 1:
        raise InferenceInputError(
            "choose the model with exactly one of --release-dir DIR (with --variant multi1|multi2), "
            f"--checkpoint DIR or --tiny-random; got {' and '.join(chosen) if chosen else 'none'}"
        )
    if release_dir is not None:
        from genwarp.models.release import _SOURCES

        root = Path(release_dir)
        if variant not in ("multi1", "multi2") and not (root / variant).is_dir():
            raise InferenceInputError(f"--variant must be multi1 or multi2 (a folder of {release_dir}), got {variant!r}")
        if not root.is_dir():
            raise InferenceInputError(
                f"release checkpoints root not found: {root}. Download {_SOURCES['variant']}, "
                f"{_SOURCES['sd-vae-ft-mse']} and {_SOURCES['image_encoder']} into it (README: 'Released checkpoints')."
            )
        if not (root / variant).is_dir():
            raise InferenceInputError(f"release variant folder not found: {root / variant} (variants: multi1, multi2). "
                                      f"It is published in {_SOURCES['variant']}.")
        required = [(root / variant / n, "variant") for n in
                    ("config.json", "reference_unet.pth", "denoising_unet.pth", "pose_guider.pth")]
        required += [(root / "sd-vae-ft-mse" / "config.json", "sd-vae-ft-mse"),
                     (root / "image_encoder" / "config.json", "image_encoder")]
        for path, what in required:
            if not path.is_file():
                raise InferenceInputError(
                    f"release checkpoint file missing: {path}. It is published in {_SOURCES[what]}; see the README "
                    "section 'Released checkpoints' for the expected layout."
                )
        for path, how in _release_files(root, variant):
            check_weight_file(path, how)
    if checkpoint is not None:
        folder = _pipeline_folder(Path(checkpoint))
        how = "export it again (GenWarpPipeline.save_pretrained) or copy the whole folder again"
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.suffix.lower() in (*WEIGHT_SUFFIXES, ".json"):
                check_weight_file(path, how)


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

    check_model_source(release_dir=release_dir, variant=variant, checkpoint=checkpoint, tiny_random=tiny_random)
    if release_dir is not None:
        try:
            return GenWarpPipeline.from_release(release_dir, variant=variant, torch_dtype=dtype, device=device)
        except OSError as e:  # a missing file (named, with where it is published) or an unreadable one
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
