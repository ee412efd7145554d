"""Which source depth an evaluation warps with, resolved from the ``depth`` config group, every key
either used or refused.

``depth.source``:

* ``auto`` (the evaluation default, ``configs/depth/auto.yaml``) — the depth the method uses
  where the dataset gives it: ``synthetic`` → ``gt`` (exact depth; ``depth=corrupted_gt`` is
  its MDE stand-in), ``scannet`` → ``estimator`` ZoeDepth NYU (``Intel/zoedepth-nyu``, metric,
  like the poses; ``scale_alignment=none``), ``re10k`` / ``acid`` → ``cache`` of ZoeDepth NYU
  depth with the per-sequence photometric scale (``scripts/precompute_depth.py --align-pairs``;
  the poses have an arbitrary scale per sequence). Ground-truth depth, where the dataset has it,
  still makes the visible / invisible masks.
* ``gt`` / ``corrupted_gt`` / ``none`` — dataset depth, exact or corrupted, or none.
* ``estimator`` — ``depth.estimator`` (a preset, hub id or folder) run on the fly.
* ``cache`` — ``depth.cache_root`` written by ``scripts/precompute_depth.py``.

``depth.scale_alignment`` (what turns estimated depth into pose units):

* with ``cache``: ``photometric`` applies each scene's ``scale.json`` (the cache's alignment),
  ``none`` reads the raw cached depth;
* with ``estimator``: ``none`` uses the estimator's metric depth as is (ScanNet's poses are
  metric; on RealEstate10K / ACID this is announced as inconsistent with the poses),
  ``gt_least_squares`` rescales each source depth to the sensor depth (ScanNet only; an explicit
  oracle alignment: per-image geometric-mean ratio, :func:`~genwarp.depth.align.least_squares_scale`);
  ``photometric`` is refused (it needs other frames of the sequence: precompute a cache);
* with ``gt`` / ``corrupted_gt`` / ``none``: must be unset or ``none`` (there is nothing to align).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["AUTO_DEPTH", "DepthSpec", "resolve_depth_spec"]

SOURCES = ("auto", "gt", "corrupted_gt", "cache", "estimator", "none")
ALIGNMENTS = {"cache": ("photometric", "none"), "estimator": ("none", "gt_least_squares")}
GT_DATASETS = ("synthetic", "scannet")

# depth.source=auto per dataset (see the module docstring)
AUTO_DEPTH: dict[str, dict[str, Any]] = {
    "synthetic": {"source": "gt"},
    "scannet": {"source": "estimator", "estimator": "zoedepth-nyu", "scale_alignment": "none"},
    "re10k": {"source": "cache", "cache_root": "cache/depth/zoedepth-nyu", "estimator": "zoedepth-nyu",
              "scale_alignment": "photometric"},
    "acid": {"source": "cache", "cache_root": "cache/depth/zoedepth-nyu", "estimator": "zoedepth-nyu",
             "scale_alignment": "photometric"},
}
_KEYS = ("source", "corruption", "cache_root", "estimator", "scale_alignment")


@dataclass
class DepthSpec:
    """The effective depth of an evaluation (``notes``: what the user should be told)."""

    source: str
    corruption: float = 0.0
    cache_root: str | None = None
    estimator: str | None = None
    scale_alignment: str | None = None
    auto: bool = False
    notes: list[str] = field(default_factory=list)

    def to_config(self) -> dict[str, Any]:
        """The ``depth`` config group it stands for (``auto`` resolved; unused keys dropped)."""
        d = {k: v for k, v in asdict(self).items() if k in _KEYS and v is not None}
        if self.source != "corrupted_gt":
            d.pop("corruption", None)
        return d


def resolve_depth_spec(data_name: str, depth: Any) -> DepthSpec:
    """The :class:`DepthSpec` of ``depth`` (a mapping: the ``depth`` config group) for
    ``data_name``. Raises ``ValueError`` for a key that would be ignored or a combination that
    cannot be honoured, naming the key and the way on."""
    d = {k: depth.get(k) for k in depth} if depth is not None else {}
    unknown = sorted(set(d) - set(_KEYS))
    if unknown:
        raise ValueError(f"depth.{unknown[0]} is not a depth setting (known: {', '.join(_KEYS)})")
    source = d.get("source") or "gt"
    if source not in SOURCES:
        raise ValueError(f"depth.source={source!r} is not one of {list(SOURCES)}")
    auto = source == "auto"
    if auto:
        if data_name not in AUTO_DEPTH:
            raise ValueError(f"depth.source=auto has no default for data={data_name}")
        chosen = dict(AUTO_DEPTH[data_name])
        for k, v in d.items():  # explicit keys of the group win where they apply to the chosen source
            if k != "source" and v is not None and k in chosen:
                chosen[k] = v
        d = chosen
        source = d["source"]
    corruption = float(d.get("corruption") or 0.0)
    align = d.get("scale_alignment")
    spec = DepthSpec(source=source, corruption=corruption, auto=auto)
    if source in ("gt", "corrupted_gt", "none"):
        if align not in (None, "none"):
            raise ValueError(f"depth.scale_alignment={align} applies to estimated depth (depth.source=cache|estimator), "
                             f"not to depth.source={source}: drop it")
        if source != "none" and data_name not in GT_DATASETS:
            raise ValueError(f"depth.source={source} needs ground-truth depth, which {data_name} does not have: use "
                             "depth=auto (ZoeDepth cache), depth=zoedepth_cache or depth=zoedepth")
        if source == "corrupted_gt" and data_name != "synthetic":
            raise ValueError("depth.source=corrupted_gt is evaluated on data=synthetic only (the corruptor needs the "
                             f"exact depth at load time), got data={data_name}")
        if source != "corrupted_gt" and corruption:
            raise ValueError(f"depth.corruption={corruption:g} is only used with depth.source=corrupted_gt, not {source}")
        if auto:
            spec.notes.append(f"depth=auto on data={data_name}: exact ground-truth depth")
        return spec
    if corruption:
        raise ValueError(f"depth.corruption={corruption:g} is only used with depth.source=corrupted_gt, not {source}")
    allowed = ALIGNMENTS[source]
    align = align or allowed[0]
    if align not in allowed:
        how = ("; photometric alignment needs other frames of the sequence: precompute an aligned cache "
               "(scripts/precompute_depth.py --align-pairs 8) and use depth=zoedepth_cache") if align == "photometric" else ""
        raise ValueError(f"depth.scale_alignment={align} is not available with depth.source={source} "
                         f"(choose one of {list(allowed)}){how}")
    spec.scale_alignment = align
    if source == "cache":
        spec.cache_root = d.get("cache_root")
        spec.estimator = d.get("estimator")
        if not spec.cache_root:
            raise ValueError("depth.source=cache needs depth.cache_root=<folder written by scripts/precompute_depth.py>")
    else:
        spec.estimator = d.get("estimator") or "zoedepth-nyu"
        if align == "gt_least_squares" and data_name != "scannet":
            raise ValueError(f"depth.scale_alignment=gt_least_squares rescales to sensor depth: data=scannet only, "
                             f"not {data_name}")
        if d.get("cache_root"):
            raise ValueError("depth.cache_root is only used with depth.source=cache (the estimator runs on the fly)")
    masks = "the sensor depth" if data_name in GT_DATASETS else "this estimated depth (the dataset has none)"
    what = (f"cached depth {spec.cache_root} ({'per-scene photometric scale' if align == 'photometric' else 'no rescaling'})"
            if source == "cache" else f"estimated depth {spec.estimator} on the fly "
            f"({'rescaled to the sensor depth per image' if align == 'gt_least_squares' else 'metric, no rescaling'})")
    spec.notes.append(f"depth{'=auto' if auto else ''} on data={data_name}: {what}; visibility masks from {masks}"
                      + ("; depth=gt warps with ground truth" if data_name in GT_DATASETS else ""))
    if source == "estimator" and align == "none" and data_name in ("re10k", "acid"):
        spec.notes.append(f"warning: {data_name} poses have an arbitrary scale per sequence, and metric depth is used "
                          "unscaled: warps are inconsistent with the poses (depth=zoedepth_cache holds aligned depth)")
    return spec
