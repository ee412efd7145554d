"""Hugging Face transformers depth models behind ``estimate(images)``.

Loaded with ``AutoModelForDepthEstimation`` + ``AutoImageProcessor`` (so any transformers depth
model works, from the hub or a local folder); presets name the ones this project uses:

=============================================  ==============================================
preset                                         hub id
=============================================  ==============================================
``zoedepth-nyu`` (the release's choice)        ``Intel/zoedepth-nyu``
``zoedepth-nyu-kitti``                         ``Intel/zoedepth-nyu-kitti``
``depth-anything-v2-metric-indoor-{s,b,l}``    ``depth-anything/Depth-Anything-V2-Metric-Indoor-{Small,Base,Large}-hf``
``depth-anything-v2-metric-outdoor-{s,b,l}``   ``depth-anything/Depth-Anything-V2-Metric-Outdoor-{Small,Base,Large}-hf``
=============================================  ==============================================

Post-processing back to the input resolution is done here in torch, following transformers'
``post_process_depth_estimation`` (which needs torchvision, an optional dependency):

* **ZoeDepth**: the processor reflect-pads each image by ``int(√(h/2)·3)`` rows and
  ``int(√(w/2)·3)`` columns before resizing, so the prediction is resized (bicubic) to the padded
  source size ``(h + 2·pad_h, w + 2·pad_w)`` and the padding is cropped away — the ``source_sizes``
  step; skipping it shifts and shrinks the depth map. With ``flip_tta`` (default for ZoeDepth, as
  its reference ``infer`` does) the prediction of the mirrored image is flipped back and averaged.
* **DPT / Depth Anything**: the prediction is resized (bicubic) to the input size. Metric Depth
  Anything V2 heads already output metres (``max_depth · sigmoid``); a *relative* model (disparity)
  is refused unless ``allow_relative=True``.

Depth is clamped to be positive. A model that is neither cached nor downloadable raises
:class:`DepthModelNotFoundError` naming the hub id and how to get it onto an offline machine.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor

from genwarp.depth.base import DepthEstimator

__all__ = ["HF_DEPTH_PRESETS", "DepthModelNotFoundError", "HFDepthEstimator", "require_depth_model", "zoedepth_padding"]

HF_DEPTH_PRESETS: dict[str, str] = {
    "zoedepth-nyu": "Intel/zoedepth-nyu",
    "zoedepth-nyu-kitti": "Intel/zoedepth-nyu-kitti",
    "zoedepth-kitti": "Intel/zoedepth-kitti",
}
for _env in ("indoor", "outdoor"):
    for _short, _size in (("s", "Small"), ("b", "Base"), ("l", "Large")):
        HF_DEPTH_PRESETS[f"depth-anything-v2-metric-{_env}-{_short}"] = (
            f"depth-anything/Depth-Anything-V2-Metric-{_env.capitalize()}-{_size}-hf"
        )
    HF_DEPTH_PRESETS[f"depth-anything-v2-metric-{_env}"] = HF_DEPTH_PRESETS[f"depth-anything-v2-metric-{_env}-l"]


class DepthModelNotFoundError(OSError):
    """A depth model's weights are neither in the local cache nor downloadable."""


def _offline_help(model_id: str) -> str:
    return (
        f"To use it offline: on a machine with internet access run\n"
        f"    hf download {model_id}\n"
        f"(or python -c \"from huggingface_hub import snapshot_download; snapshot_download('{model_id}')\"), "
        f"then copy the Hugging Face cache folder (~/.cache/huggingface/hub, or $HF_HOME/hub) to this machine, "
        f"or download to a folder (hf download {model_id} --local-dir DIR) and pass DIR as the model. "
        f"Set HF_HUB_OFFLINE=1 to stop network attempts."
    )


def require_depth_model(model: str | Path, *, cache_dir: str | Path | None = None,
                        local_files_only: bool | None = None) -> str:
    """Check that depth model ``model`` (preset, hub id or folder) can be loaded, *without loading
    it*: a folder must hold ``config.json``; a hub id must be in the Hugging Face cache or, when
    online, its ``config.json`` downloadable. Returns where it was found; raises
    :class:`DepthModelNotFoundError` naming the model and how to get it onto an offline machine
    (so an evaluation fails before any other model is loaded)."""
    model_str = str(model)
    model_id = HF_DEPTH_PRESETS.get(model_str, model_str)
    if Path(model_id).is_dir():
        if not (Path(model_id) / "config.json").is_file():
            raise DepthModelNotFoundError(f"depth model folder {model_id} has no config.json (expected a transformers "
                                          "depth model saved with save_pretrained)")
        return str(Path(model_id))
    if Path(model_id).suffix or model_id.startswith((".", "/")) or model_id.count("/") != 1:
        raise DepthModelNotFoundError(f"depth model {model_str!r} is neither a folder nor a hub id 'owner/name' "
                                      f"nor a preset ({', '.join(sorted(HF_DEPTH_PRESETS))})")
    from huggingface_hub import hf_hub_download, try_to_load_from_cache

    cached = try_to_load_from_cache(model_id, "config.json", cache_dir=str(cache_dir) if cache_dir else None)
    if isinstance(cached, str):
        return cached
    if local_files_only is None:
        local_files_only = os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")
    why = "not in the Hugging Face cache" + (" and HF_HUB_OFFLINE is set" if local_files_only else "")
    if not local_files_only:
        try:
            return hf_hub_download(model_id, "config.json", cache_dir=str(cache_dir) if cache_dir else None)
        except Exception as e:  # no network, unknown repo, …
            why += f" and not downloadable ({type(e).__name__})"
    raise DepthModelNotFoundError(f"depth model {model_str!r} (hub id {model_id!r}) is {why}.\n" + _offline_help(model_id))


def zoedepth_padding(height: int, width: int) -> tuple[int, int]:
    """The reflect padding (rows, columns on each side) ZoeDepth's processor adds."""
    return int(np.sqrt(height / 2) * 3), int(np.sqrt(width / 2) * 3)


class HFDepthEstimator(DepthEstimator):
    """A transformers depth model as a :class:`DepthEstimator`.

    Args:
        model: a preset name (see :data:`HF_DEPTH_PRESETS`), a hub id or a local folder holding
            ``config.json``, the weights and ``preprocessor_config.json``.
        device, dtype: where / in what precision the model runs.
        local_files_only: never touch the network (default: True when ``HF_HUB_OFFLINE`` is set).
        cache_dir: Hugging Face cache folder.
        flip_tta: average with the horizontally flipped prediction (default: ZoeDepth only).
        allow_relative: accept models that output relative depth / disparity.
        batch_size: images per forward pass (None: all at once).
    """

    def __init__(
        self,
        model: str | Path = "zoedepth-nyu",
        *,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
        local_files_only: bool | None = None,
        cache_dir: str | Path | None = None,
        flip_tta: bool | None = None,
        allow_relative: bool = False,
        batch_size: int | None = None,
    ):
        from transformers import AutoImageProcessor, AutoModelForDepthEstimation
        from transformers.utils import logging as hf_logging

        model_str = str(model)
        self.model_id = HF_DEPTH_PRESETS.get(model_str, model_str)
        self.name = model_str if model_str in HF_DEPTH_PRESETS else Path(model_str).name or model_str
        if local_files_only is None:
            local_files_only = os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")
        is_local = Path(self.model_id).is_dir()
        kwargs: dict[str, Any] = {"cache_dir": str(cache_dir) if cache_dir else None, "local_files_only": bool(local_files_only)}
        verbosity = hf_logging.get_verbosity()
        try:
            hf_logging.set_verbosity_error()
            self.model = AutoModelForDepthEstimation.from_pretrained(self.model_id, **kwargs)
            self.processor = AutoImageProcessor.from_pretrained(self.model_id, **kwargs)
        except (OSError, ValueError) as e:
            where = f"local folder {self.model_id}" if is_local else f"hub id {self.model_id!r}"
            raise DepthModelNotFoundError(
                f"depth model {where} could not be loaded"
                + (" (offline: local files only)" if local_files_only else "")
                + f": {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}\n"
                + ("" if is_local else _offline_help(self.model_id))
            ) from e
        finally:
            hf_logging.set_verbosity(verbosity)
        self.model.to(device=device, dtype=dtype).eval()
        self.device = torch.device(device)
        self.dtype = dtype
        self.model_type = getattr(self.model.config, "model_type", "")
        self.is_zoedepth = self.model_type == "zoedepth"
        self.flip_tta = self.is_zoedepth if flip_tta is None else bool(flip_tta)
        self.batch_size = batch_size
        est_type = getattr(self.model.config, "depth_estimation_type", "metric" if self.is_zoedepth else "relative")
        if self.model_type in ("depth_anything", "dpt") and est_type != "metric" and not allow_relative:
            raise ValueError(
                f"{self.model_id} predicts relative depth (depth_estimation_type={est_type!r}); use a metric model "
                "(e.g. depth-anything-v2-metric-indoor) or pass allow_relative=True"
            )
        self.units = "metric" if (self.is_zoedepth or est_type == "metric") else "relative"

    # ------------------------------------------------------------------------------------------
    def _preprocess(self, images: Tensor) -> Tensor:
        arrays = [img.permute(1, 2, 0).float().cpu().numpy() for img in images]
        inputs = self.processor(images=arrays, do_rescale=False, return_tensors="pt", input_data_format="channels_last")
        return inputs["pixel_values"].to(self.device, self.dtype)

    def _forward(self, pixel_values: Tensor) -> Tensor:
        out = self.model(pixel_values=pixel_values).predicted_depth
        if self.flip_tta:
            flipped = self.model(pixel_values=torch.flip(pixel_values, dims=[-1])).predicted_depth
            out = 0.5 * (out + torch.flip(flipped, dims=[-1]))
        return out.float()

    def postprocess(self, predicted: Float[Tensor, "B h w"], height: int, width: int) -> Float[Tensor, "B 1 H W"]:
        """Raw predictions → (B, 1, height, width) depth (see the module docstring)."""
        d = predicted[:, None] if predicted.ndim == 3 else predicted
        if self.is_zoedepth and getattr(self.processor, "do_pad", True):
            ph, pw = zoedepth_padding(height, width)
            d = F.interpolate(d, size=(height + 2 * ph, width + 2 * pw), mode="bicubic", align_corners=False)
            d = d[..., ph : ph + height, pw : pw + width]
        if tuple(d.shape[-2:]) != (height, width):
            d = F.interpolate(d, size=(height, width), mode="bicubic", align_corners=False)
        return d

    @torch.no_grad()
    def estimate(self, images: Float[Tensor, "B 3 H W"], *, batch: dict[str, Any] | None = None) -> Float[Tensor, "B 1 H W"]:
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"images must be (B, 3, H, W) in [0, 1], got {tuple(images.shape)}")
        H, W = images.shape[-2:]
        outs = []
        step = self.batch_size or images.shape[0]
        for i in range(0, images.shape[0], step):
            chunk = images[i : i + step].clamp(0, 1)
            pred = self._forward(self._preprocess(chunk))
            outs.append(self.postprocess(pred, H, W))
        depth = torch.cat(outs).to(images.device)
        return depth.clamp(min=1e-3)

    def __repr__(self) -> str:
        return f"HFDepthEstimator({self.model_id!r}, type={self.model_type!r}, units={self.units!r}, flip_tta={self.flip_tta})"
