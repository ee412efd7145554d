"""Where the metric backbones' weights come from (offline-first).

Every metric backbone is a standard public file. It is looked up, in order, at

1. an explicit path (a file, or a folder holding the file under its standard name),
2. ``$GENWARP_WEIGHTS_DIR/<file>``,
3. torch hub's checkpoint folder, ``$TORCH_HOME/hub/checkpoints/<file>`` (default
   ``~/.cache/torch/hub/checkpoints``) — where torchvision / torch-fidelity put them when they
   download.

Nothing is downloaded at run time. A missing file raises :class:`MissingWeightsError`, which names
the file, its public URL, where it was looked for, and the ``metrics=`` override that runs without it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

__all__ = ["BACKBONE_WEIGHTS", "BackboneWeights", "MissingWeightsError", "check_weights", "resolve_weights",
           "search_dirs"]


@dataclass(frozen=True)
class BackboneWeights:
    """One standard weights file: its name, public URL and the metric that needs it."""

    key: str
    filename: str
    url: str
    metric: str


BACKBONE_WEIGHTS: dict[str, BackboneWeights] = {
    # torchvision's ImageNet AlexNet / VGG-16: the backbones of LPIPS (the linear heads ship inside
    # the `lpips` package).
    "alex": BackboneWeights("alex", "alexnet-owt-7be5be79.pth",
                            "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth", "lpips"),
    "vgg": BackboneWeights("vgg", "vgg16-397923af.pth",
                           "https://download.pytorch.org/models/vgg16-397923af.pth", "lpips_vgg"),
    # The TF-ported FID Inception used by torch-fidelity, pytorch-fid and torchmetrics.
    "inception": BackboneWeights(
        "inception", "weights-inception-2015-12-05-6726825d.pth",
        "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth",
        "fid"),
}


class MissingWeightsError(FileNotFoundError):
    """A metric backbone's weights file is not on disk (and will not be downloaded)."""


def search_dirs(weights_dir: str | os.PathLike | None = None) -> list[Path]:
    """The folders searched for a standard weights file, in order."""
    dirs: list[Path] = []
    if weights_dir:
        dirs.append(Path(weights_dir).expanduser())
    env = os.environ.get("GENWARP_WEIGHTS_DIR")
    if env:
        dirs.append(Path(env).expanduser())
    dirs.append(Path(torch.hub.get_dir()) / "checkpoints")
    return dirs


def resolve_weights(key: str, path: str | os.PathLike | None = None, *, metrics: list[str] | None = None) -> Path:
    """Path of backbone ``key`` (``"alex"``, ``"vgg"`` or ``"inception"``) on disk.

    Args:
        key: which backbone.
        path: an explicit file, or a folder holding the file under its standard name.
        metrics: the metrics being computed, to suggest the override that drops this one.
    Raises:
        MissingWeightsError: the file is nowhere to be found.
    """
    if key not in BACKBONE_WEIGHTS:
        raise ValueError(f"unknown backbone {key!r}; known: {sorted(BACKBONE_WEIGHTS)}")
    spec = BACKBONE_WEIGHTS[key]
    if path is not None and Path(path).expanduser().is_file():
        return Path(path).expanduser()
    looked = [d / spec.filename for d in search_dirs(path)]
    for candidate in looked:
        if candidate.is_file():
            return candidate
    rest = [m for m in (metrics or ["psnr", "ssim", "lpips", "fid"]) if m != spec.metric]
    override = "metrics=[" + ",".join(rest) + "]"
    raise MissingWeightsError(
        f"metric {spec.metric!r} needs the weights file {spec.filename} (public URL: {spec.url}), which is not on "
        f"disk and is never downloaded at run time. Looked at: {', '.join(str(p) for p in looked)}. Put the file in "
        f"one of these folders ($TORCH_HOME/hub/checkpoints, $GENWARP_WEIGHTS_DIR or weights_dir=<dir>), or run "
        f"without this metric: {override}"
    )


def check_weights(keys: list[str], weights_dir: str | os.PathLike | None = None, *,
                  metrics: list[str] | None = None) -> None:
    """Raise one :class:`MissingWeightsError` naming every absent file among ``keys`` (with the
    single ``metrics=`` override that runs without all of them)."""
    missing = []
    for key in keys:
        try:
            resolve_weights(key, weights_dir, metrics=metrics)
        except MissingWeightsError:
            missing.append(BACKBONE_WEIGHTS[key])
    if len(missing) == 1:
        resolve_weights(missing[0].key, weights_dir, metrics=metrics)  # its own message
    if missing:
        dropped = {spec.metric for spec in missing}
        rest = [m for m in (metrics or []) if m not in dropped]
        files = "; ".join(f"{spec.filename} for {spec.metric!r} (public URL: {spec.url})" for spec in missing)
        raise MissingWeightsError(
            f"missing metric weights, never downloaded at run time: {files}. Looked in: "
            f"{', '.join(str(d) for d in search_dirs(weights_dir))} ($TORCH_HOME/hub/checkpoints, "
            f"$GENWARP_WEIGHTS_DIR or weights_dir=<dir>). Or run without them: metrics=[{','.join(rest)}]"
        )
