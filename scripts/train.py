#!/usr/bin/env python
"""Train GenWarp (Hydra-configured, Accelerate-launched).

    python scripts/train.py                                  # experiment=synthetic_tiny (CPU, minutes)
    python scripts/train.py experiment=paper_re10k output_dir=runs/paper
    accelerate launch --config_file configs/accelerate/ddp.yaml scripts/train.py experiment=paper_re10k
    python scripts/train.py ... resume=latest                # continue a run exactly
    python scripts/train.py -m experiment=ablation_embed_warped_coords,ablation_embed_plucker
                                                             # a sweep: runs/multirun/<time>/<job number>/

Overrides use Hydra syntax (`trainer.max_steps=100`, `model.condition_kind=depth`, ...). The
config schema is checked before anything is built: a misspelt key fails naming it, and a bad
value (``trainer.batch_size=0``), a folder holding another run or in use by another training, or an
unusable checkpoint is one ``error:`` line and exit code 2.
With `evaluate_after=true` (the default of the synthetic_tiny preset run by the Quickstart), the
trained model is then evaluated on the frozen synthetic index against the warp-only baseline.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import hydra

from genwarp.training.config import TrainConfig, register_schema
from genwarp.utils.hydra_help import register_help_resolver

register_schema()
CONFIG_DIR = str(Path(__file__).resolve().parents[1] / "configs")
register_help_resolver(CONFIG_DIR)  # ${genwarp_help_groups:...} in the root config's hydra.help.template


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def main(cfg: TrainConfig) -> None:
    from genwarp.training.checkpoint import CheckpointError
    from genwarp.training.loop import train
    from genwarp.training.run_folder import RunFolderError
    from genwarp.training.validate import ConfigError

    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    hydra_cfg = HydraConfig.get()
    overrides = list(hydra_cfg.overrides.task)
    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    if multirun:
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            print("error: a Hydra sweep (-m) runs its jobs one after another in one process; launch each job "
                  "with its own `accelerate launch` instead", file=sys.stderr)
            sys.exit(2)
        if not any(o.split("=", 1)[0].lstrip("+~") == "output_dir" for o in overrides):
            cfg.output_dir = hydra_cfg.runtime.output_dir  # each job its own folder: <sweep dir>/<job number>
    if cfg.baseline == "inpaint":  # the SD-inpainting baseline (experiment=baseline_inpaint_*); other values: refused by train
        from genwarp.training.inpaint_baseline import train_inpaint_baseline as train
    try:
        result = train(cfg, overrides=overrides, finish_trackers=not cfg.evaluate_after)
    except (ConfigError, RunFolderError, CheckpointError) as err:  # bad input: one line, exit 2
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    if result is None:
        return
    from accelerate import PartialState

    if PartialState().is_main_process:
        print(f"run folder: {result.output_dir}\nexported model: {result.export_dir}")
    if cfg.evaluate_after:
        if cfg.baseline == "inpaint":
            from genwarp.training.inpaint_baseline import evaluate_inpaint_baseline as evaluate_trained
        else:
            from genwarp.training.main_job import evaluate_trained

        evaluate_trained(cfg, result, limit=cfg.evaluate_limit)
        if result.trackers:  # main process: the evaluation table to the trackers, then they close
            import json

            from genwarp.training.logging import log_evaluation

            out = Path(result.output_dir)
            if (out / "results.json").is_file():
                log_evaluation(result.trackers, json.loads((out / "results.json").read_text()),
                               (out / "results.md").read_text(), result.step)
            for tracker in result.trackers:
                tracker.finish()
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
    if multirun:  # the next job of the sweep builds its own Accelerator (other precision, other settings)
        from accelerate.state import AcceleratorState, GradientState

        AcceleratorState._reset_state(reset_partial_state=True)
        GradientState._reset_state()


def refuse_launch_config_group(argv: list[str]) -> None:
    """``accelerate=<name>`` names a launch config (configs/accelerate/), which Hydra cannot compose."""
    for arg in argv:
        key, _, value = arg.partition("=")
        if value and key.lstrip("+~") == "accelerate":
            print(f"error: {arg!r}: configs/accelerate/{value}.yaml is an Accelerate launch config, not a config "
                  f"group: accelerate launch --config_file configs/accelerate/{value}.yaml scripts/train.py ...",
                  file=sys.stderr)
            sys.exit(2)


if __name__ == "__main__":
    refuse_launch_config_group(sys.argv[1:])
    sys.exit(main())
