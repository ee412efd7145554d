"""Import of the release checkpoint layout, with a tiny random model written by the test."""

from __future__ import annotations

import json

import pytest
import torch

from genwarp.models import RELEASE_MODEL_CONFIG, load_release, load_release_model
from genwarp.models.presets import TINY_UNET, build_clip, build_vae, randomize_weights
from genwarp.models.release import PRESERVER_HEAD_KEYS
from genwarp.pipelines.factory import random_model


def write_release_layout(root, variant="multi1", seed=0, denoiser_extra=None, drop=None):
    """A tiny random GenWarp in the release's on-disk layout; returns the source model."""
    model = random_model(seed=seed)
    folder = root / variant
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"_class_name": "UNet2DConditionModel", **TINY_UNET}))
    ref = {k: v for k, v in model.preserver.state_dict().items() if k not in PRESERVER_HEAD_KEYS}
    den = dict(model.denoiser.state_dict())
    if denoiser_extra:
        den.update(denoiser_extra)
    if drop:
        den.pop(drop)
    torch.save(ref, folder / "reference_unet.pth")
    torch.save(den, folder / "denoising_unet.pth")
    torch.save(model.condition_encoder.state_dict(), folder / "pose_guider.pth")
    randomize_weights(build_vae("tiny"), seed + 1).save_pretrained(root / "sd-vae-ft-mse")
    randomize_weights(build_clip("tiny"), seed + 2).save_pretrained(root / "image_encoder")
    return model


def test_release_layout_loads_every_tensor(tmp_path):
    source = write_release_layout(tmp_path)
    parts = load_release(tmp_path, "multi1")
    loaded = parts.model
    for name, value in source.state_dict().items():
        if name.startswith("preserver.") and name.removeprefix("preserver.") in PRESERVER_HEAD_KEYS:
            continue
        assert torch.equal(loaded.state_dict()[name], value), name
    for key, value in RELEASE_MODEL_CONFIG.items():
        assert loaded.config[key] == value, key
    assert parts.scheduler.config.prediction_type == "v_prediction"
    assert parts.scheduler.config.rescale_betas_zero_snr and parts.scheduler.config.timestep_spacing == "trailing"
    assert parts.image_encoder.config.projection_dim == 24


def test_missing_denoiser_key_is_an_error_naming_it(tmp_path):
    write_release_layout(tmp_path, drop="mid_block.attentions.0.proj_in.weight")
    with pytest.raises(ValueError, match="mid_block.attentions.0.proj_in.weight"):
        load_release_model(tmp_path, "multi1")


def test_unexpected_denoiser_key_is_an_error_unless_not_strict(tmp_path):
    write_release_layout(tmp_path, denoiser_extra={"motion_module.weight": torch.zeros(2)})
    with pytest.raises(ValueError, match="motion_module.weight"):
        load_release_model(tmp_path, "multi1")
    assert load_release_model(tmp_path, "multi1", strict=False) is not None


def test_missing_file_names_the_file_and_where_it_is_published(tmp_path):
    write_release_layout(tmp_path)
    (tmp_path / "multi1" / "pose_guider.pth").unlink()
    with pytest.raises(FileNotFoundError, match=r"pose_guider\.pth.*Sony/genwarp"):
        load_release_model(tmp_path, "multi1")
    with pytest.raises(FileNotFoundError, match="multi2"):
        load_release_model(tmp_path, "multi2")
    with pytest.raises(FileNotFoundError, match="sd-image-variations"):
        load_release(tmp_path / "absent", "multi1")


def test_pose_guider_width_is_read_from_the_checkpoint(tmp_path):
    write_release_layout(tmp_path)
    model = load_release_model(tmp_path, "multi1")
    assert model.condition_encoder.config.out_channels == 32  # not the release's hard-coded 320
