"""``scripts/evaluate.py``'s body: config → dataset, method, metrics → generate → score."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import torch

from genwarp.evaluation.config import EvaluateConfig, check_config

__all__ = ["build_method_from_config", "check_depth_available", "dataset_kwargs", "resolve_index", "run_evaluation"]

_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def _as_config(cfg: Any):
    from omegaconf import OmegaConf

    if isinstance(cfg, EvaluateConfig):
        return OmegaConf.structured(cfg)
    schema = OmegaConf.structured(EvaluateConfig)
    return OmegaConf.merge(schema, cfg)  # type-checks every key against the schema


def dataset_kwargs(data: Any, depth: Any) -> dict[str, Any]:
    """Map the shared ``data`` / ``depth`` config groups onto :func:`build_eval_dataset` arguments
    (``depth`` resolved by :func:`genwarp.depth.resolve_depth_spec`: ``auto`` per dataset, a key
    that would be ignored refused)."""
    from genwarp.depth import resolve_depth_spec

    spec = resolve_depth_spec(data.get("name"), depth)
    kw: dict[str, Any] = {"resolution": data.get("resolution"), "root": data.get("root"),
                          "split": data.get("val_split") or "test", "layout": data.get("layout") or "raw",
                          "frames_root": data.get("frames_root"),
                          "depth_noise": 0.0, "depth_alignment": None}
    if spec.source in ("gt", "none"):
        kw["depth"] = spec.source
    elif spec.source == "corrupted_gt":
        kw["depth"], kw["depth_noise"] = "gt", spec.corruption
    elif spec.source == "cache":
        kw["depth"] = spec.cache_root
        kw["depth_alignment"] = spec.scale_alignment  # photometric: the scenes' scale.json; none: raw cached depth
    else:  # estimator
        kw["depth"] = spec.estimator
        kw["depth_alignment"] = spec.scale_alignment
    return kw


def check_depth_available(data: Any, depth: Any) -> None:
    """Before any model loads: the depth model of ``depth.source=estimator`` is loadable
    (:func:`genwarp.depth.require_depth_model`), the cache of ``depth.source=cache`` exists — one
    error naming the model or cache and how to get it."""
    from genwarp.depth import DepthModelNotFoundError, require_depth_model, resolve_depth_spec
    from genwarp.depth.hf import HF_DEPTH_PRESETS

    spec = resolve_depth_spec(data.get("name"), depth)
    if spec.source == "estimator":
        require_depth_model(spec.estimator)
    elif spec.source == "cache" and not Path(str(spec.cache_root)).is_dir():
        model = spec.estimator or "zoedepth-nyu"
        hub = HF_DEPTH_PRESETS.get(model, model)
        raise DepthModelNotFoundError(
            f"depth cache {spec.cache_root} not found (depth.source=cache{', the default depth=auto for data=' + str(data.get('name')) if spec.auto else ''}). "
            f"Build it with the depth model {hub}: hf download {hub} (on a machine with internet; copy the Hugging "
            f"Face cache over), then python scripts/precompute_depth.py --dataset {data.get('name')} --root "
            f"{data.get('root') or '<root>'} --split {data.get('val_split') or 'test'} --estimator {model} --cache "
            f"{spec.cache_root}" + (" --align-pairs 8" if spec.scale_alignment == "photometric" else "")
            + "; or evaluate with another depth (depth=zoedepth: on the fly, unaligned)")


def build_method_from_config(cfg, device: torch.device, **inject: Any):
    """The method named by ``cfg.method`` (``inject`` overrides constructor arguments, e.g. a
    pipeline or inpainter built in a test)."""
    from genwarp.evaluation.methods import build_method

    dtype = _DTYPES[cfg.dtype]
    if cfg.method == "genwarp":
        s = cfg.sampler
        kw = dict(checkpoint=cfg.checkpoint, release_root=cfg.release_root, release_variant=cfg.release_variant,
                  device=device, torch_dtype=dtype, height=s.height, width=s.width,
                  num_inference_steps=s.num_inference_steps, guidance_scale=s.guidance_scale, near=s.near, far=s.far,
                  seed_mode=s.seed_mode, seed=cfg.seed)
    elif cfg.method == "warp_inpaint":
        p = cfg.inpaint
        kw = dict(model=p.model, device=device, torch_dtype=dtype, prompt=p.prompt, negative_prompt=p.negative_prompt,
                  num_inference_steps=p.num_inference_steps, guidance_scale=p.guidance_scale,
                  inpaint_size=p.inpaint_size, mask_dilation=p.mask_dilation,
                  occlusion_tolerance=p.occlusion_tolerance, composite=p.composite, hole_filter=p.hole_filter,
                  hole_max_filter=p.hole_max_filter, hole_min_filter=p.hole_min_filter)
    elif cfg.method == "warp_only":
        kw = dict(device=device)
    else:
        kw = {}
    kw.update(inject)
    return build_method(cfg.method, **kw)


def run_evaluation(cfg: Any, *, accelerator=None, method_kwargs: dict[str, Any] | None = None,
                   suite_kwargs: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run the stages of ``cfg`` (an :class:`EvaluateConfig` or a DictConfig of its keys).

    ``method_kwargs`` / ``suite_kwargs`` inject objects (tests: tiny pipelines and metric networks).
    Returns ``{"generate": stats, "score": {"rows", "summary", "results_dir", "results_md"}}`` for
    the stages run; ``results_md`` is where *these* scores were written (the predictions folder
    when ``predictions`` is a foreign folder, ``results_dir`` when given, else ``output_dir``).
    """
    from omegaconf import OmegaConf

    from genwarp.data import load_eval_index
    from genwarp.evaluation.datasets import build_eval_dataset, default_index_path
    from genwarp.evaluation.evaluator import _accelerator, generate, index_pairs, score
    from genwarp.evaluation.layout import EvalLayout
    from genwarp.evaluation.settings import generation_settings
    from genwarp.evaluation.suite import MetricSuite

    cfg = _as_config(cfg)
    check_config(cfg)
    from genwarp.depth import resolve_depth_spec

    depth_spec = resolve_depth_spec(cfg.data["name"], cfg.depth)  # a key that would be ignored is refused here
    if cfg.stage in ("all", "prepare", "generate"):
        for note in depth_spec.notes:
            print(f"[evaluate] {note}", file=sys.stderr)
        check_depth_available(cfg.data, cfg.depth)  # before any model (metrics, method, depth) loads
        if cfg.method == "warp_inpaint" and cfg.stage != "prepare" and "inpainter" not in (method_kwargs or {}):
            from genwarp.evaluation.methods import require_inpaint_model

            require_inpaint_model(cfg.inpaint.model)
    cfg.depth = depth_spec.to_config()  # recorded resolved (settings.json, config.yaml)
    if accelerator is None and cfg.device == "cpu":
        from accelerate import Accelerator
        from accelerate.utils import DataLoaderConfiguration

        accelerator = Accelerator(cpu=True, dataloader_config=DataLoaderConfiguration(even_batches=False))
    acc = _accelerator(accelerator)
    device = acc.device
    predictions = cfg.predictions
    if predictions and Path(predictions).resolve() == (Path(cfg.output_dir) / "images").resolve():
        predictions = None  # the folder's own images
    layout = EvalLayout(cfg.output_dir, predictions, cfg.results_dir)
    if predictions and layout.results.resolve() == layout.root.resolve():
        raise ValueError(f"results_dir={cfg.results_dir} is the evaluation folder itself, whose results belong to its own "
                         f"images/: score predictions={predictions} into another results_dir (default: the predictions "
                         "folder)")
    results: dict[str, Any] = {}
    command = " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv and sys.argv[0] else None
    data_name = cfg.data["name"]
    meta = {"method": cfg.name or cfg.method, "data": data_name, "command": command}

    suite = None
    if cfg.stage in ("all", "score"):  # built first: a missing metric weight fails before any generation
        suite = MetricSuite.build(list(cfg.metrics), lpips_backbone=cfg.lpips_backbone, weights_dir=cfg.weights_dir,
                                  device=device, **(suite_kwargs or {}))

    if cfg.stage in ("all", "prepare", "generate"):
        index_path = cfg.index or cfg.data.get("val_index") or default_index_path(data_name)
        if index_path is None:
            raise FileNotFoundError(f"data={data_name} has no committed evaluation index: pass index=<json> "
                                    "(scripts/make_eval_index.py builds one)")
        # a relative path: the working directory, else the installed data/; frames by row or by timestamp
        index = load_eval_index(index_path, allow_timestamps=True)
        dkw = dataset_kwargs(cfg.data, cfg.depth)
        dataset, mask_dataset = build_eval_dataset(data_name, index, seed=cfg.seed, **dkw)
        resolved = resolve_index(index, dataset, data_name, index_path)
        pairs = index_pairs({**index, "entries": resolved.entries if resolved else index["entries"]}, cfg.limit)
        method = None
        if cfg.stage != "prepare" and cfg.method != "none":
            method = build_method_from_config(cfg, device, **(method_kwargs or {}))
        exact_masks = mask_dataset is not None or (dkw["depth"] == "gt" and not dkw["depth_noise"])
        settings = generation_settings(cfg, index=index, dataset_kwargs=dkw, exact_masks=exact_masks,
                                       method_info=method.describe() if method is not None else None)
        index_meta = {"path": str(index_path), "dataset": index.get("dataset"), "num_entries": index.get("num_entries"),
                      "depth": dkw["depth"] if isinstance(dkw["depth"], str) else repr(dkw["depth"]),
                      "depth_noise": dkw["depth_noise"], "resolution": dkw["resolution"],
                      "protocol": (index.get("protocol") or {}).get("name")}
        if resolved is not None:
            index_meta["frames_on_disk"] = resolved.to_dict()
        results["generate"] = generate(layout, dataset, pairs, method, mask_dataset=mask_dataset,
                                       batch_size=cfg.batch_size, num_workers=cfg.num_workers, seed=cfg.seed,
                                       save_warped=cfg.save_warped, accelerator=acc, index_meta=index_meta,
                                       progress=cfg.progress, settings=settings, overwrite=cfg.overwrite)
        if acc.is_main_process:  # after the settings check: a refused run leaves the folder as it was
            (layout.root / "config.yaml").write_text(OmegaConf.to_yaml(cfg))

    if suite is not None:
        meta.update(_score_meta(cfg, layout))
        results["score"] = score(layout, suite, batch_size=cfg.score_batch_size, num_workers=cfg.num_workers,
                                 accelerator=acc, meta=meta, progress=cfg.progress)
        results["score"]["results_dir"] = str(layout.results)
        results["score"]["results_md"] = str(layout.results / "results.md")
    return results


def resolve_index(index: dict[str, Any], dataset: Any, data_name: str, where: Any):
    """An imported peer protocol (``index["protocol"]``) or an index naming frames by timestamp:
    the entries with rows, keeping only pairs whose frames are on disk
    (:func:`genwarp.data.eval_index.resolve_entries`) — many of the peers' videos are gone — the
    skipped pairs counted, announced on stderr and recorded in the manifest; none usable is an
    error. ``None`` for our own indices, whose pairs were drawn from the frames on disk: there a
    pair that cannot be loaded stops the evaluation naming the frame, never silently dropped."""
    from genwarp.data.eval_index import resolve_entries

    entries = index["entries"]
    timestamps = any("src_index" not in e or "tgt_index" not in e for e in entries)
    if not timestamps and not index.get("protocol"):
        return None
    resolved = resolve_entries(entries, dataset, probe_frames=True)  # a corrupt frame: skipped and counted, not a crash
    if not resolved.entries:
        raise ValueError(f"{where}: none of the index's {len(entries)} pairs can be evaluated with the frames on "
                         f"disk ({resolved.summary()}): check data.root / data.frames_root / data.layout")
    if resolved.skipped:
        print(f"[evaluate] {where}: {resolved.summary()}", file=sys.stderr)
    return resolved


def _score_meta(cfg: Any, layout) -> dict[str, Any]:
    """What the scored images are (for meta.json / results.md): the folder's own images are
    described by its records (``method.json``, ``settings.json``), not by this command's config;
    foreign predictions by ``name`` (else the method record beside them, else their folder name)."""
    from genwarp.data.eval_index import read_json
    from genwarp.evaluation.settings import read_settings

    settings = read_settings(layout.root) or {}
    refs = settings.get("references") or {}
    out: dict[str, Any] = {}
    if refs.get("data", {}).get("name"):
        out["data"] = refs["data"]["name"]
    if layout.predictions == layout.root / "images":
        method_file = layout.root / "method.json"
        info = read_json(method_file, "the method record") if method_file.is_file() else None
        if info is not None:
            out["method_info"] = info
        out["method"] = cfg.name or (info or {}).get("method") or cfg.method
        if settings:
            out["settings"] = settings.get("images") or {"references": refs}
            if (settings.get("images") or {}).get("depth"):
                out["depth"] = settings["images"]["depth"]
        return out
    pred = layout.predictions
    beside = pred.parent / "method.json" if pred.name == "images" else None
    info = read_json(beside, "the method record") if beside is not None and beside.is_file() else None
    out["method"] = cfg.name or (info or {}).get("method") or pred.name
    if info is not None:
        out["method_info"] = info
    out["predictions"] = str(pred)
    out["references"] = str(layout.root)
    if refs:
        out["settings"] = {"references": refs}
    return out
