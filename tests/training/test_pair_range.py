"""The RealEstate10K training presets' frame-gap window reaches every evaluation range of the
index rule that makes RealEstate10K indices (read from that code, not typed here)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from genwarp.data import SyntheticScenesDataset
from genwarp.data.eval_index import DEFAULT_RULES
from genwarp.training.config import register_schema
from genwarp.training.data import TrainPairs

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
register_schema()


def _compose(*overrides: str):
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        return compose("train", overrides=list(overrides))


RE10K_PRESETS = [p.stem for p in sorted((CONFIGS / "experiment").glob("*.yaml"))
                 if _compose(f"experiment={p.stem}").data.name == "re10k"]


def test_paper_preset_is_among_the_re10k_presets():
    assert "paper_re10k" in RE10K_PRESETS


@pytest.mark.parametrize("preset", RE10K_PRESETS)
def test_final_training_gap_window_covers_the_evaluation_ranges(preset):
    cfg = _compose(f"experiment={preset}")
    d, t = cfg.data, cfg.trainer
    # the window the loop trains with at its last item (genwarp/training/loop.py make_loader, 1 process)
    widen = t.max_steps * t.batch_size * t.gradient_accumulation_steps
    pairs = TrainPairs(SyntheticScenesDataset("train", 16), min_gap=d.min_gap, max_gap=d.max_gap,
                       max_gap_final=d.max_gap_final, widen_items=widen if d.max_gap_final else 0)
    lo, hi = pairs.gap_window(widen)
    rule = DEFAULT_RULES["re10k"]
    for name, (r_lo, r_hi) in rule.ranges.items():
        assert lo <= r_lo and r_hi <= hi, (f"{preset}: final training gaps [{lo}, {hi}] miss the evaluation "
                                           f"{name} range [{r_lo}, {r_hi}]")
