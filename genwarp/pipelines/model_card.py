"""What ``GenWarpPipeline.save_pretrained`` writes next to the weights: a model card (``README.md``
with YAML front matter). No code goes into an export (exports are data): diffusers'
``DiffusionPipeline.from_pretrained`` reaches :class:`~genwarp.pipelines.GenWarpPipeline` through
``custom_pipeline=genwarp.pipelines.CUSTOM_PIPELINE``, a file inside the installed package.

Training data and metrics: taken from explicit arguments, else from the training run the export
sits in (``<run>/model``: ``<run>/config.yaml``'s ``data`` group, ``<run>/results.json`` /
``results.md`` / ``final_metrics.json`` when present at export time).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CARD_FILE = "README.md"
METRICS_FILES = ("results.json", "results.md", "final_metrics.json")

# What diffusers 0.42 raises for DiffusionPipeline.from_pretrained(<export>) without custom_pipeline
# (tests/pipelines/test_diffusers_conventions.py checks that it still does, and that the card and the
# README quote it).
PLAIN_LOAD_ERROR = "AttributeError: module diffusers has no attribute GenWarpPipeline"
PLAIN_LOAD_EXPLANATION = (
    "Plain `DiffusionPipeline.from_pretrained(\"<this folder>\")` (without `custom_pipeline`) fails with "
    f"`{PLAIN_LOAD_ERROR}`. diffusers (0.42) resolves `model_index.json`'s `_class_name` in two ways only: "
    "as an attribute of the `diffusers` module (`getattr(diffusers, \"GenWarpPipeline\")`, which does not "
    "exist: GenWarp is not part of diffusers), or, when `_class_name` is a `[file, class]` pair, from a "
    "`file.py` inside this folder, which it runs only with `trust_remote_code=True`. This export holds "
    "no code (exports are data), so neither applies; the components themselves "
    "(`genwarp.models.genwarp_model.GenWarpModel` and the diffusers/transformers parts) load from the "
    "installed packages. Load it with `GenWarpPipeline.from_pretrained(\"<this folder>\")`, or through "
    "diffusers with `custom_pipeline=genwarp.pipelines.CUSTOM_PIPELINE, trust_remote_code=True` (that "
    "file is inside the installed genwarp package and only imports `GenWarpPipeline`; nothing is "
    "downloaded)."
)



def _yaml_list(items: list[str]) -> str:
    return "\n".join(f"  - {i}" for i in items)


def _training_data(save_directory: Path, training_data: Any) -> tuple[str, str | None]:
    """(markdown section body, data name for the front matter)."""
    if training_data is None:
        config = save_directory.parent / "config.yaml"
        if config.is_file():
            try:
                from omegaconf import OmegaConf

                data = OmegaConf.to_container(OmegaConf.load(config).get("data"), resolve=False)
            except Exception as err:  # a card must never fail an export
                return f"Could not read the training config {config}: {err}.", None
            if data is not None:
                training_data = data
                source = f"From the training run's `{config.name}` (`data` group):"
            else:
                return f"The training config {config} has no `data` group.", None
        else:
            return ("Not recorded: this export was not written into a training run folder and no "
                    "`training_data` was given to `save_pretrained`."), None
    else:
        source = "As given to `save_pretrained(training_data=...)`:"
    if isinstance(training_data, str):
        return f"{source} {training_data}", training_data
    name = training_data.get("name") if isinstance(training_data, dict) else None
    body = json.dumps(training_data, indent=2, sort_keys=True, default=str)
    return f"{source}\n\n```json\n{body}\n```", name


def _metrics(save_directory: Path, metrics_file: str | Path | None) -> str:
    if metrics_file is not None:
        return f"See [`{metrics_file}`]({metrics_file})."
    for folder, prefix in ((save_directory, ""), (save_directory.parent, "../")):
        for name in METRICS_FILES:
            if (folder / name).is_file():
                return f"See [`{prefix}{name}`]({prefix}{name}) (written by the evaluation)."
    return ("No metrics file was present at export time. A training run writes `../final_metrics.json` "
            "(validation) and `../results.json` / `../results.md` (evaluation) next to this folder; "
            "`scripts/evaluate.py` produces them for any export.")


def model_card(pipe, save_directory: str | Path, training_data: Any = None,
               metrics_file: str | Path | None = None) -> str:
    """The model card text for ``pipe`` saved in ``save_directory``."""
    save_directory = Path(save_directory)
    model_cfg = {k: v for k, v in dict(pipe.model.config).items() if not k.startswith("_")}
    sched = pipe.scheduler
    sched_keys = ("num_train_timesteps", "beta_schedule", "beta_start", "beta_end", "prediction_type",
                  "timestep_spacing", "steps_offset", "rescale_betas_zero_snr", "clip_sample", "set_alpha_to_one")
    sched_cfg = {k: sched.config[k] for k in sched_keys if k in sched.config}
    data_body, data_name = _training_data(save_directory, training_data)
    components = {name: type(getattr(pipe, name)).__name__ if getattr(pipe, name) is not None else None
                  for name in ("model", "codec", "scheduler", "image_encoder")}
    tags = ["genwarp", "diffusers", "novel-view-synthesis", "image-to-image"]
    front = [
        "---",
        "library_name: genwarp",
        "pipeline_tag: image-to-image",
        "tags:",
        _yaml_list(tags),
    ]
    if data_name:
        front += ["datasets:", _yaml_list([str(data_name)])]
    front += ["---", ""]
    usage = (
        "```python\n"
        "from genwarp import GenWarpPipeline\n\n"
        'pipe = GenWarpPipeline.from_pretrained("<this folder>")\n'
        "# or with diffusers' entry point (genwarp installed; the custom pipeline file is genwarp's own):\n"
        "# from diffusers import DiffusionPipeline\n"
        "# from genwarp.pipelines import CUSTOM_PIPELINE\n"
        '# pipe = DiffusionPipeline.from_pretrained("<this folder>", custom_pipeline=CUSTOM_PIPELINE,\n'
        "#                                          trust_remote_code=True)\n"
        "out = pipe(image, depth, src_intrinsics, tgt_intrinsics, src_to_tgt, num_inference_steps=20, "
        "guidance_scale=3.5)\n"
        "```\n"
    )
    body = [
        "# GenWarp novel-view synthesis pipeline",
        "",
        "A `genwarp.GenWarpPipeline` exported with `save_pretrained`: single image + z-depth + camera motion "
        "→ novel views (two stock diffusers `UNet2DConditionModel` streams joined by reference attention, "
        "DDIM with classifier-free guidance).",
        "",
        "## Usage",
        "",
        usage,
        "### Loading with diffusers",
        "",
        PLAIN_LOAD_EXPLANATION,
        "",
        "## Pipeline configuration",
        "",
        "Components: " + ", ".join(f"`{k}`: {v}" for k, v in components.items()) + ".",
        "",
        f"Model (`model/config.json`), dtype {pipe.model.dtype}:",
        "",
        "```json\n" + json.dumps(model_cfg, indent=2, sort_keys=True, default=str) + "\n```",
        "",
        f"Scheduler ({type(sched).__name__}, `scheduler/scheduler_config.json`):",
        "",
        "```json\n" + json.dumps(sched_cfg, indent=2, sort_keys=True, default=str) + "\n```",
        "",
        "## Training data",
        "",
        data_body,
        "",
        "## Metrics",
        "",
        _metrics(save_directory, metrics_file),
        "",
    ]
    return "\n".join(front + body)


def write_export_extras(pipe, save_directory: str | Path, training_data: Any = None,
                        metrics_file: str | Path | None = None) -> None:
    """Write ``README.md`` (the model card) into the export."""
    save_directory = Path(save_directory)
    (save_directory / CARD_FILE).write_text(model_card(pipe, save_directory, training_data, metrics_file))


__all__ = ["CARD_FILE", "PLAIN_LOAD_ERROR", "PLAIN_LOAD_EXPLANATION", "model_card", "write_export_extras"]
