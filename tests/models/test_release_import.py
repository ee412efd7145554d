"""Import of the release checkpoint layout, with a tiny random model written by the test."""

from __future__ import annotations

import pytest
import torch

from genwarp.models import RELEASE_MODEL_CONFIG, load_release, load_release_model
from genwarp.models.release import PRESERVER_HEAD_KEYS
from genwarp.testing import write_tiny_release


def test_release_layout_loads_every_tensor(tmp_path):
    source = write_tiny_release(tmp_path)
    parts = load_release(tmp_path, "multi1")
    loaded = parts.model
    state = loaded.state_dict()  # once: building it per tensor made this test take ~50 s
    for name, value in source.state_dict().items():
        if name.startswith("preserver.") and name.removeprefix("preserver.") in PRESERVER_HEAD_KEYS:
            continue
        assert torch.equal(state[name], value), name
    for key, value in RELEASE_MODEL_CONFIG.items():
        assert loaded.config[key] == value, key
    assert parts.scheduler.config.prediction_type == "v_prediction"
    assert parts.scheduler.config.rescale_betas_zero_snr and parts.scheduler.config.timestep_spacing == "trailing"
    assert parts.image_encoder.config.projection_dim == 24


def test_missing_denoiser_key_is_an_error_naming_it(tmp_path):
    write_tiny_release(tmp_path, drop="mid_block.attentions.0.proj_in.weight")
    with pytest.raises(ValueError, match="mid_block.attentions.0.proj_in.weight"):
        load_release_model(tmp_path, "multi1")


def test_unexpected_denoiser_key_is_an_error_unless_not_strict(tmp_path):
    write_tiny_release(tmp_path, denoiser_extra={"motion_module.weight": torch.zeros(2)})
    with pytest.raises(ValueError, match="motion_module.weight"):
        load_release_model(tmp_path, "multi1")
    assert load_release_model(tmp_path, "multi1", strict=False) is not None


def test_missing_file_names_the_file_and_where_it_is_published(tmp_path):
    write_tiny_release(tmp_path)
    (tmp_path / "multi1" / "pose_guider.pth").unlink()
    with pytest.raises(FileNotFoundError, match=r"pose_guider\.pth.*Sony/genwarp"):
        load_release_model(tmp_path, "multi1")
    with pytest.raises(FileNotFoundError, match="multi2"):
        load_release_model(tmp_path, "multi2")
    with pytest.raises(FileNotFoundError, match="sd-image-variations"):
        load_release(tmp_path / "absent", "multi1")


def test_pose_guider_width_is_read_from_the_checkpoint(tmp_path):
    write_tiny_release(tmp_path)
    model = load_release_model(tmp_path, "multi1")
    assert model.condition_encoder.config.out_channels == 32  # not the release's hard-coded 320
