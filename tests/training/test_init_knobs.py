"""From-scratch initialisation knobs (model.*_init) and the training-timestep bias."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from genwarp.models.objective import timestep_probabilities
from genwarp.training.build import build_components
from genwarp.training.config import ModelConfig

TINY_PIXEL = dict(architecture="tiny", init="random", codec="pixel", pixel_factor=2, image_prompt="none")


def _cfg(**over) -> ModelConfig:
    return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(ModelConfig), TINY_PIXEL, over))


def _condition_rms(model, channels: int) -> float:
    cond = torch.rand(2, channels, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        return float(model.encode_condition(cond).pow(2).mean().sqrt())


def test_kaiming_condition_encoder_is_far_stronger_than_the_zeroed_default():
    torch.manual_seed(0)
    zero = build_components(_cfg()).model
    torch.manual_seed(0)
    kaiming = build_components(_cfg(condition_encoder_init="kaiming")).model
    torch.manual_seed(0)
    loud = build_components(_cfg(condition_encoder_init="kaiming", condition_encoder_gain=4.0)).model
    c = zero.config.condition_channels
    assert _condition_rms(zero, c) == 0.0  # the release's zeroed output conv
    assert _condition_rms(kaiming, c) > 0.1
    assert _condition_rms(loud, c) == pytest.approx(4 * _condition_rms(kaiming, c), rel=1e-4)


def test_preserver_copy_and_similarity_attention():
    torch.manual_seed(0)
    model = build_components(_cfg(preserver_from_denoiser=True, attention_init="similarity",
                                  attention_init_scale=2.0)).model
    den, pre = model.denoiser.state_dict(), model.preserver.state_dict()
    assert all(torch.equal(den[k], pre[k]) for k in den)
    attn = [m for n, m in model.denoiser.named_modules() if n.endswith(".attn1")]
    assert attn and all(torch.equal(a.to_q.weight, a.to_k.weight) for a in attn)
    torch.manual_seed(0)
    plain = build_components(_cfg()).model  # independent draws: the streams differ
    assert not all(torch.equal(plain.denoiser.state_dict()[k], plain.preserver.state_dict()[k]) for k in den)
    q_plain = [m for n, m in plain.denoiser.named_modules() if n.endswith(".attn1")][0].to_q.weight
    torch.testing.assert_close(attn[0].to_q.weight, 2.0 * q_plain)


@pytest.mark.parametrize("over, match", [
    (dict(condition_encoder_gain=2.0), "condition_encoder_gain"),
    (dict(attention_init_scale=2.0), "attention_init_scale"),
    (dict(condition_encoder_init="xavier"), "condition_encoder_init"),
    (dict(attention_init="orthogonal"), "attention_init"),
    (dict(condition_block_channels=[16, 32, 64]), "condition_block_channels"),
])
def test_ignored_or_bad_init_overrides_are_refused(over, match):
    with pytest.raises(ValueError, match=match):
        build_components(_cfg(**over))


def test_init_knobs_are_announced_as_unused_for_checkpoint_inits(caplog, tmp_path):
    with pytest.raises(FileNotFoundError), caplog.at_level("WARNING"):
        build_components(_cfg(init="pretrained", pretrained=str(tmp_path / "none"), condition_encoder_init="kaiming"))
    assert "model.condition_encoder_init=kaiming" in caplog.text and "not used" in caplog.text


def test_timestep_bias_later_moves_the_draws_up():
    probs = timestep_probabilities(1000, "later", 30.0, 0.2)
    assert probs.shape == (1000,) and abs(float(probs.sum()) - 1) < 1e-6
    assert float(probs[800:].sum()) == pytest.approx(30 * 200 / (30 * 200 + 800))
    assert timestep_probabilities(1000, "none") is None
    assert float(timestep_probabilities(1000, "earlier", 5.0, 0.5)[:500].sum()) == pytest.approx(5 / 6)
    with pytest.raises(ValueError, match="timestep_bias_strategy"):
        timestep_probabilities(1000, "middle")


def test_list_valued_unet_overrides_export(tmp_path):
    """``+model.unet_overrides.up_block_types=[...]`` reaches the U-Nets as a plain list, so the export's
    config.json can be written (a ListConfig there made ``save_pretrained`` fail after training)."""
    from genwarp.training.build import make_pipeline

    up = ["UpBlock2D"] * 4
    # as scripts/train.py hands it over: a DictConfig, not converted to dataclasses
    cfg = OmegaConf.merge(OmegaConf.structured(ModelConfig), TINY_PIXEL,
                          OmegaConf.from_dotlist([f"unet_overrides.up_block_types=[{','.join(up)}]"]))
    parts = build_components(cfg)
    assert list(parts.model.denoiser.config.up_block_types) == up
    make_pipeline(parts.model, parts.codec, parts.image_encoder).save_pretrained(tmp_path / "export")
    assert (tmp_path / "export" / "model_index.json").is_file()
