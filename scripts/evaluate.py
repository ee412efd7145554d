#!/usr/bin/env python
"""Evaluate a novel-view method on a frozen evaluation index (see configs/evaluate.yaml).

    python scripts/evaluate.py method=warp_only data=synthetic output_dir=outputs/eval/warp_only
    python scripts/evaluate.py method=genwarp checkpoint=<export> data=synthetic output_dir=<dir>
    python scripts/evaluate.py method=none stage=prepare data=re10k index=<json> dataset.root=<dir> output_dir=<dir>
    python scripts/evaluate.py stage=score output_dir=<dir> predictions=<folder of <id>.png> [name=<label>]
    python scripts/evaluate.py ... overwrite=true     # regenerate a folder made with other settings
    accelerate launch scripts/evaluate.py ...        # several GPUs
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import hydra

from omegaconf import DictConfig

from genwarp.evaluation.config import register_schema
from genwarp.utils.hydra_help import register_help_resolver

register_schema()
register_help_resolver(Path(__file__).resolve().parents[1] / "configs")  # ${genwarp_help_groups:...} in the root config's hydra.help.template


@hydra.main(config_path="../configs", config_name="evaluate", version_base="1.3")
def main(cfg: DictConfig) -> None:
    from genwarp.data import DataError
    from genwarp.evaluation.run import run_evaluation

    try:
        results = run_evaluation(cfg)
    except (ValueError, FileNotFoundError, DataError) as err:  # configuration / data / weights: one clear line
        print(f"evaluate.py: error: {err}", file=sys.stderr)
        sys.exit(2)
    if "generate" in results:
        print("generate:", json.dumps(results["generate"]))
    if "score" in results:
        print(json.dumps(results["score"]["summary"], indent=2))
        print(f"results: {results['score']['results_md']}")  # where these scores were written


if __name__ == "__main__":
    main()
