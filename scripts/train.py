#!/usr/bin/env python
"""Train GenWarp (Hydra-configured, Accelerate-launched).

    python scripts/train.py                                  # experiment=synthetic_tiny (CPU, minutes)
    python scripts/train.py experiment=paper_re10k output_dir=runs/paper
    accelerate launch --config_file configs/accelerate/ddp.yaml scripts/train.py experiment=paper_re10k
    python scripts/train.py ... resume=latest                # continue a run exactly

Overrides use Hydra syntax (`trainer.max_steps=100`, `model.condition_kind=depth`, ...). The
config schema is checked before anything is built: a misspelt key fails naming it, and a bad
value (``trainer.batch_size=0``), a folder holding another run or in use by another training, or an
unusable checkpoint is one ``error:`` line and exit code 2.
With `evaluate_after=true` (the default of the synthetic_tiny preset run by the Quickstart), the
trained model is then evaluated on the frozen synthetic index against the warp-only baseline.
"""

from __future__ import annotations

import sys
from pathlib import Path

import hydra

from genwarp.training.config import TrainConfig, register_schema

register_schema()
CONFIG_DIR = str(Path(__file__).resolve().parents[1] / "configs")


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def main(cfg: TrainConfig) -> None:
    from genwarp.training.checkpoint import CheckpointError
    from genwarp.training.loop import train
    from genwarp.training.run_folder import RunFolderError
    from genwarp.training.validate import ConfigError

    try:
        result = train(cfg)
    except (ConfigError, RunFolderError, CheckpointError) as err:  # bad input: one line, exit 2
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    if result is None:
        return
    from accelerate import PartialState

    if PartialState().is_main_process:
        print(f"run folder: {result.output_dir}\nexported model: {result.export_dir}")
    if cfg.evaluate_after:
        from genwarp.training.main_job import evaluate_trained

        evaluate_trained(cfg, result, limit=cfg.evaluate_limit)
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


if __name__ == "__main__":
    sys.exit(main())
