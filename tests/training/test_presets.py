"""Every training preset composes against the schema and builds its objects (tiny stand-in weights)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf
from torch.utils.data import default_collate

from genwarp.data import validate_sample
from genwarp.data.depth_cache import DepthCache
from genwarp.models import GenWarpObjective
from genwarp.testing import write_re10k_chunks, write_tiny_stable_diffusion
from genwarp.training.build import build_components
from genwarp.training.config import register_schema
from genwarp.training.datasets import build_dataset
from genwarp.training.loop import make_optimizer

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
PRESETS = sorted(p.stem for p in (CONFIGS / "experiment").glob("*.yaml"))
register_schema()


def _compose(*overrides: str):
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        return compose("train", overrides=list(overrides))


@pytest.fixture(scope="module")
def stand_ins(tmp_path_factory):
    root = tmp_path_factory.mktemp("stand_ins")
    sd = write_tiny_stable_diffusion(root / "sd")
    cache = DepthCache(root / "depth_cache")
    for split in ("train", "test"):
        keys = write_re10k_chunks(root / "re10k", split=split)["keys"]
        for key in keys:  # cached depth for every stand-in frame (8 frames of 18x32 per example)
            for i in range(8):
                cache.save("re10k", key, i, torch.full((18, 32), 2.0) + 0.1 * i)
    return {"sd": sd, "re10k": root / "re10k", "cache": root / "depth_cache"}


def test_the_expected_presets_exist():
    expected = {"paper_re10k", "synthetic_tiny", "synthetic_gpu", "ablation_attention_augmented",
                "ablation_attention_reference_off"} | {
        f"ablation_embed_{k}" for k in ("warped_coords", "warped_depth", "warped_image", "plucker")}
    assert expected <= set(PRESETS)


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_composes_and_builds(preset, stand_ins, tmp_path):
    cfg = _compose(f"experiment={preset}", f"output_dir={tmp_path}")
    assert cfg.name == preset
    if cfg.model.init == "stable_diffusion":  # swap the hub weights for tiny local stand-ins
        cfg.model.pretrained = str(stand_ins["sd"])
        cfg.model.vae, cfg.model.vae_subfolder = str(stand_ins["sd"] / "vae"), None
        cfg.model.image_encoder, cfg.model.image_encoder_subfolder = str(stand_ins["sd"]), "image_encoder"
    if cfg.data.name in ("re10k", "acid"):
        cfg.data.root = str(stand_ins["re10k"])
        cfg.data.resolution = 64
    if cfg.depth.source == "cache":
        cfg.depth.cache_root = str(stand_ins["cache"])
    OmegaConf.resolve(cfg)

    parts = build_components(cfg.model)
    assert parts.model.config.condition_kind == cfg.model.condition_kind
    assert parts.model.config.reference_attention == cfg.model.reference_attention
    t = cfg.trainer
    objective = GenWarpObjective(parts.model, parts.codec, parts.image_encoder,
                                 condition_dropout=t.condition_dropout, snr_gamma=t.snr_gamma,
                                 noise_offset=t.noise_offset, near=t.near, far=t.far,
                                 timestep_bias_strategy=t.timestep_bias_strategy,
                                 timestep_bias_multiplier=t.timestep_bias_multiplier,
                                 timestep_bias_portion=t.timestep_bias_portion)
    optimizer = make_optimizer(cfg, parts.model.trainable_parameters(), torch.device("cpu"))
    assert optimizer.param_groups[0]["lr"] == cfg.trainer.learning_rate
    dataset = build_dataset(cfg.data, cfg.depth, split=cfg.data.train_split, seed=0, train=True)
    # The preset's data, model and loss fit together: a training sample of the configured resolution
    # goes through one loss evaluation to a finite, positive value.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sample = next(iter(dataset))
    validate_sample(sample)
    res = cfg.data.resolution
    size = (res, res) if isinstance(res, int) else tuple(res)
    assert tuple(sample["src_image"].shape[-2:]) == size and tuple(sample["tgt_image"].shape[-2:]) == size
    with torch.no_grad():
        out = objective(default_collate([sample]), generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(out.loss) and out.loss > 0 and out.loss_per_item.shape == (1,)


def test_misspelt_keys_fail_at_composition_naming_the_key():
    with pytest.raises(ConfigCompositionException, match="max_stpes"):
        _compose("trainer.max_stpes=3")
    with pytest.raises(ConfigCompositionException, match="condtion_kind"):
        _compose("model.condtion_kind=depth")


def test_bad_values_fail_before_training_with_the_allowed_choices(stand_ins):
    cfg = _compose("model.condition_kind=warped_rgb")
    with pytest.raises(ValueError, match="condition_kind must be one of"):
        build_components(cfg.model)
    cfg = _compose("data.name=kitti")
    with pytest.raises(ValueError, match="data.name must be one of"):
        build_dataset(cfg.data, cfg.depth, split="train", seed=0, train=True)
    cfg = _compose("data=re10k", "depth=gt", f"data.root={stand_ins['re10k']}")
    with pytest.raises(ValueError, match="needs ground-truth depth"):
        build_dataset(cfg.data, cfg.depth, split="train", seed=0, train=True)


def test_missing_pretrained_weights_are_one_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cfg = _compose("experiment=paper_re10k", f"model.pretrained={tmp_path / 'no_such_sd'}")
    with pytest.raises(FileNotFoundError, match="(?s)no_such_sd.*sd-image-variations"):
        build_components(cfg.model)
    cfg = _compose("model=release", f"model.pretrained={tmp_path / 'no_release'}")
    with pytest.raises(FileNotFoundError, match="Sony/genwarp"):
        build_components(cfg.model)
