"""The sample contract: what every dataset returns and every consumer reads.

One pair of views (a *source* that is given and a *target* to synthesise) is a plain ``dict``
with the keys below (:class:`Sample` is its :class:`typing.TypedDict`). Every value is a tensor,
a ``str`` or an ``int``, so ``torch.utils.data.default_collate`` batches samples without a custom
collate function (tensors gain a leading batch axis ``B``; strings become lists; ints tensors).

===================  ================  =========================================================
key                  type / shape      meaning
===================  ================  =========================================================
``src_image``        float32 (3,H,W)   source RGB in [0, 1]
``tgt_image``        float32 (3,H,W)   target RGB in [0, 1]
``src_intrinsics``   float32 (3,3)     *normalised* intrinsics (fx/W, fy/H, cx/W, cy/H; pixel
                                       (x, y) has its centre at ((x+0.5)/W, (y+0.5)/H))
``tgt_intrinsics``   float32 (3,3)     same, for the target view
``src_c2w``          float32 (4,4)     camera-to-world, OpenCV axes (x right, y down, z forward)
``tgt_c2w``          float32 (4,4)     same, for the target view; translations in the units of
                                       the dataset's poses (arbitrary per sequence for RE10K)
``src_depth``        float32 (1,H,W)   z-depth of the source view in the units of the poses;
                                       0 where unknown
``src_depth_valid``  bool (1,H,W)      True where ``src_depth`` holds a value (all False when
                                       the dataset has no depth for this view)
``tgt_depth``        float32 (1,H,W)   z-depth of the target when the dataset knows it exactly
                                       (ScanNet, synthetic), for evaluation masks; else 0
``tgt_depth_valid``  bool (1,H,W)      True where ``tgt_depth`` holds a value
``depth_source``     str               where ``src_depth`` came from: ``"gt"`` (dataset ground
                                       truth), ``"cache:<name>"``, ``"estimator:<name>"``,
                                       ``"corrupted:<strength>"`` or ``"none"``
``dataset``          str               dataset name (``"re10k"``, ``"acid"``, ``"scannet"``,
                                       ``"synthetic"``)
``scene``            str               scene / sequence identifier within the dataset
``src_index``        int               frame index of the source within its scene (the row of
                                       the RealEstate10K camera file, the ScanNet file number,
                                       the synthetic path step)
``tgt_index``        int               frame index of the target
===================  ================  =========================================================

Both views of a pair always have the same (H, W). ``get_pair(scene, src_index, tgt_index)`` on
every dataset returns one such sample, which is what frozen evaluation indices rely on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypedDict

import torch
from jaxtyping import Bool, Float
from torch import Tensor

__all__ = [
    "SAMPLE_KEYS",
    "Sample",
    "View",
    "make_sample",
    "validate_sample",
]


class Sample(TypedDict):
    """One source/target pair; see the module docstring for the meaning of every key."""

    src_image: Float[Tensor, "3 H W"]
    tgt_image: Float[Tensor, "3 H W"]
    src_intrinsics: Float[Tensor, "3 3"]
    tgt_intrinsics: Float[Tensor, "3 3"]
    src_c2w: Float[Tensor, "4 4"]
    tgt_c2w: Float[Tensor, "4 4"]
    src_depth: Float[Tensor, "1 H W"]
    src_depth_valid: Bool[Tensor, "1 H W"]
    tgt_depth: Float[Tensor, "1 H W"]
    tgt_depth_valid: Bool[Tensor, "1 H W"]
    depth_source: str
    dataset: str
    scene: str
    src_index: int
    tgt_index: int


SAMPLE_KEYS: tuple[str, ...] = tuple(Sample.__annotations__)


@dataclass
class View:
    """One frame of a scene before it is paired (what loaders produce and shims transform).

    ``depth``/``depth_valid`` are ``None`` when the view has no depth. ``image`` and ``depth`` may
    have different sizes when a depth map comes from a cache or a sensor at another resolution:
    :meth:`aligned_depth` brings the depth onto the image grid (nearest neighbour).
    """

    image: Float[Tensor, "3 H W"]
    intrinsics: Float[Tensor, "3 3"]
    c2w: Float[Tensor, "4 4"]
    depth: Float[Tensor, "1 h w"] | None = None
    depth_valid: Bool[Tensor, "1 h w"] | None = None
    depth_source: str = "none"
    index: int = -1
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> tuple[int, int]:
        return int(self.image.shape[-2]), int(self.image.shape[-1])

    def aligned_depth(self) -> View:
        """Return a view whose depth has the image's size (nearest-neighbour resampling)."""
        if self.depth is None or tuple(self.depth.shape[-2:]) == self.size:
            return self
        h, w = self.size
        depth = torch.nn.functional.interpolate(self.depth[None], size=(h, w), mode="nearest")[0]
        valid = self.depth_valid
        if valid is None:
            valid = torch.isfinite(self.depth) & (self.depth > 0)
        valid = torch.nn.functional.interpolate(valid[None].float(), size=(h, w), mode="nearest")[0] > 0.5
        return View(self.image, self.intrinsics, self.c2w, depth, valid, self.depth_source, self.index, self.extras)


def _depth_or_empty(view: View) -> tuple[Tensor, Tensor]:
    h, w = view.size
    if view.depth is None:
        return torch.zeros(1, h, w, dtype=torch.float32), torch.zeros(1, h, w, dtype=torch.bool)
    view = view.aligned_depth()
    depth = view.depth.to(torch.float32)
    valid = view.depth_valid if view.depth_valid is not None else torch.ones_like(depth, dtype=torch.bool)
    valid = valid.to(torch.bool) & torch.isfinite(depth) & (depth > 0)
    return torch.where(valid, depth, torch.zeros((), dtype=depth.dtype)), valid


def make_sample(
    src: View,
    tgt: View,
    *,
    dataset: str,
    scene: str,
    src_index: int | None = None,
    tgt_index: int | None = None,
    keep_tgt_depth: bool = True,
) -> Sample:
    """Assemble a :class:`Sample` from two (already shimmed) views."""
    if src.size != tgt.size:
        raise ValueError(f"source and target of a pair must have one size, got {src.size} and {tgt.size}")
    src_depth, src_valid = _depth_or_empty(src)
    if keep_tgt_depth:
        tgt_depth, tgt_valid = _depth_or_empty(tgt)
    else:
        tgt_depth, tgt_valid = _depth_or_empty(View(tgt.image, tgt.intrinsics, tgt.c2w))
    return Sample(
        src_image=src.image.to(torch.float32).clamp(0, 1).contiguous(),
        tgt_image=tgt.image.to(torch.float32).clamp(0, 1).contiguous(),
        src_intrinsics=src.intrinsics.to(torch.float32),
        tgt_intrinsics=tgt.intrinsics.to(torch.float32),
        src_c2w=src.c2w.to(torch.float32),
        tgt_c2w=tgt.c2w.to(torch.float32),
        src_depth=src_depth.contiguous(),
        src_depth_valid=src_valid.contiguous(),
        tgt_depth=tgt_depth.contiguous(),
        tgt_depth_valid=tgt_valid.contiguous(),
        depth_source=src.depth_source if src.depth is not None else "none",
        dataset=str(dataset),
        scene=str(scene),
        src_index=int(src.index if src_index is None else src_index),
        tgt_index=int(tgt.index if tgt_index is None else tgt_index),
    )


def validate_sample(sample: dict[str, Any], *, batched: bool = False) -> None:
    """Raise ``ValueError`` naming the first key that breaks the contract.

    With ``batched=True`` the checks expect a leading batch axis on tensors (after collation).
    """
    missing = [k for k in SAMPLE_KEYS if k not in sample]
    if missing:
        raise ValueError(f"sample is missing keys {missing}")
    lead = 1 if batched else 0

    def shape(key: str) -> tuple[int, ...]:
        v = sample[key]
        if not isinstance(v, Tensor):
            raise ValueError(f"sample[{key!r}] must be a tensor, got {type(v).__name__}")
        return tuple(v.shape[lead:])

    h, w = shape("src_image")[-2:]
    expected = {
        "src_image": (3, h, w),
        "tgt_image": (3, h, w),
        "src_intrinsics": (3, 3),
        "tgt_intrinsics": (3, 3),
        "src_c2w": (4, 4),
        "tgt_c2w": (4, 4),
        "src_depth": (1, h, w),
        "src_depth_valid": (1, h, w),
        "tgt_depth": (1, h, w),
        "tgt_depth_valid": (1, h, w),
    }
    for key, shp in expected.items():
        if shape(key) != shp:
            raise ValueError(f"sample[{key!r}] has shape {shape(key)}, expected {shp}")
        dtype = sample[key].dtype
        want = torch.bool if key.endswith("_valid") else torch.float32
        if dtype != want:
            raise ValueError(f"sample[{key!r}] has dtype {dtype}, expected {want}")
    for key in ("src_image", "tgt_image"):
        v = sample[key]
        if v.numel() and (v.min() < 0 or v.max() > 1):
            raise ValueError(f"sample[{key!r}] has values outside [0, 1]")
    for key in ("dataset", "scene", "depth_source"):
        v = sample[key]
        ok = isinstance(v, str) if not batched else isinstance(v, (list, tuple))
        if not ok:
            raise ValueError(f"sample[{key!r}] must be a str (a list of str when batched), got {type(v).__name__}")
