"""GenWarpModel: construction, config validation, checkpoints, initialisation from a U-Net."""

from __future__ import annotations

import pytest
import torch
from diffusers import UNet2DConditionModel

from genwarp.models import ConditionEncoder, GenWarpModel, condition_encoder_from_state_dict, conv_in_residual
from genwarp.models.presets import TINY_UNET, randomize_weights
from genwarp.pipelines.factory import random_model


def _inputs(b=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(b, 4, 8, 8, generator=g), torch.tensor([5, 800][:b]), torch.randn(b, 4, 8, 8, generator=g),
            torch.rand(b, 11, 64, 64, generator=g), torch.rand(b, 11, 64, 64, generator=g),
            torch.randn(b, 1, 24, generator=g))


def test_condition_encoder_is_the_release_pose_guider_by_default():
    enc = ConditionEncoder(in_channels=11, out_channels=320)
    shapes = {k: tuple(v.shape) for k, v in enc.state_dict().items()}
    assert shapes["conv_in.weight"] == (16, 11, 3, 3)
    assert [shapes[f"blocks.{i}.weight"] for i in range(6)] == [
        (16, 16, 3, 3), (32, 16, 3, 3), (32, 32, 3, 3), (64, 32, 3, 3), (64, 64, 3, 3), (128, 64, 3, 3)]
    assert shapes["conv_out.weight"] == (320, 128, 3, 3)
    assert enc.downsampling_factor == 8
    out = enc(torch.rand(2, 11, 64, 48))
    assert out.shape == (2, 320, 8, 6) and not out.any()  # zero-initialised output
    rebuilt = condition_encoder_from_state_dict(randomize_weights(enc).state_dict())
    assert rebuilt.config.out_channels == 320 and tuple(rebuilt.config.block_out_channels) == (16, 32, 64, 128)


def test_conv_in_residual_adds_features_only_inside_the_block():
    unet = UNet2DConditionModel(**TINY_UNET)
    x = torch.randn(1, 4, 8, 8)
    feats = torch.randn(1, 32, 8, 8)
    plain = unet.conv_in(x)
    with conv_in_residual(unet, feats):
        torch.testing.assert_close(unet.conv_in(x), plain + feats)
        with pytest.raises(ValueError, match="cannot be added to conv_in"):
            unet.conv_in(torch.randn(1, 4, 16, 16))
    torch.testing.assert_close(unet.conv_in(x), plain)


def test_zero_condition_encoder_leaves_pretrained_unet_unchanged():
    unet = randomize_weights(UNet2DConditionModel(**TINY_UNET), seed=4).eval()
    model = GenWarpModel.from_unet(unet).eval()
    for a, b in ((model.denoiser, unet), (model.preserver, unet)):
        for (n, p), (_, q) in zip(a.state_dict().items(), b.state_dict().items()):
            assert torch.equal(p, q), n
    x, t, _, c, _, p = _inputs()
    with torch.no_grad():
        feats = model.encode_condition(c)
        assert not feats.any()
        plain = unet(x, t, encoder_hidden_states=p).sample
        out = model.predict(x, t, feats, p, reference=None)
    torch.testing.assert_close(out, plain, atol=1e-5, rtol=1e-5)


def test_save_and_load_round_trip(tmp_path):
    model = random_model(seed=5, condition_kind="image").eval()
    model.save_pretrained(tmp_path)
    assert (tmp_path / "config.json").exists() and (tmp_path / "diffusion_pytorch_model.safetensors").exists()
    loaded = GenWarpModel.from_pretrained(tmp_path).eval()
    assert loaded.config.condition_kind == "image" and loaded.config.condition_channels == 4
    b = 2
    args = (torch.randn(b, 4, 8, 8), torch.tensor([3, 600]), torch.randn(b, 4, 8, 8), torch.rand(b, 4, 64, 64),
            torch.rand(b, 4, 64, 64), torch.randn(b, 1, 24))
    with torch.no_grad():
        # Same weights bit for bit; CPU kernels may still round differently on other buffers.
        torch.testing.assert_close(model(*args), loaded(*args), atol=1e-5, rtol=1e-5)
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), name


def test_bad_config_values_name_the_field():
    with pytest.raises(ValueError, match="condition_kind"):
        GenWarpModel(unet=TINY_UNET, condition_kind="warped_rgb")
    with pytest.raises(ValueError, match="condition_channels"):
        GenWarpModel(unet=TINY_UNET, condition_kind="coords", condition_channels=4)
    with pytest.raises(ValueError, match="unet"):
        GenWarpModel()
    with pytest.raises(ValueError, match="pair by module path"):
        GenWarpModel(unet=TINY_UNET, preserver_unet=dict(TINY_UNET, layers_per_block=1))


def test_condition_dropout_item_equals_no_reference_and_zero_prompt():
    model = random_model(seed=6).eval()
    x, t, ref, cs, ct, p = _inputs()
    with torch.no_grad():
        dropped = model(x, t, ref, cs, ct, p, ref_index=torch.tensor([0, -1]))
        kept = model(x, t, ref, cs, ct, p, ref_index=torch.tensor([0, 1]))
        feats = model.encode_condition(ct)
        plain = model.predict(x, t, feats, torch.zeros_like(p), reference=None)
    torch.testing.assert_close(dropped[0], kept[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(dropped[1], plain[1], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(kept[1], plain[1], atol=1e-3)


UP_WITHOUT_ATTENTION = ["UpBlock2D"] * 4  # the main job's layout: reader attention in down and mid blocks only


@pytest.mark.parametrize("layout", ["sd", "up_without_attention"])
def test_exactly_the_preserver_parameters_without_gradient_are_frozen(layout):
    over = {} if layout == "sd" else {"up_block_types": UP_WITHOUT_ATTENTION}

    def build():
        if not over:
            return random_model(seed=9)
        torch.manual_seed(9)
        return randomize_weights(GenWarpModel(unet=dict(TINY_UNET, **over)), 9)

    model = build()
    for p in model.parameters():
        p.requires_grad_(True)
    x, t, ref, cs, ct, p = _inputs()
    model(x, t, ref, cs, ct, p).square().mean().backward()
    no_grad = {n for n, q in model.named_parameters() if q.grad is None or not q.grad.abs().sum()}
    frozen = {n for n, q in build().named_parameters() if not q.requires_grad}
    assert no_grad == frozen
    assert "preserver.conv_out.weight" in frozen
    assert not any(n.startswith("denoiser.") for n in frozen)
    if layout == "sd":
        assert "preserver.up_blocks.3.attentions.2.transformer_blocks.0.ff.net.2.weight" in frozen
        assert "preserver.up_blocks.3.attentions.2.transformer_blocks.0.norm1.weight" not in frozen
    else:  # the last banked layer is the mid block's: its second resnet and all up blocks are dead
        assert "preserver.mid_block.resnets.1.conv1.weight" in frozen
        assert "preserver.up_blocks.0.resnets.0.conv1.weight" in frozen
        assert "preserver.mid_block.attentions.0.transformer_blocks.0.norm1.weight" not in frozen


def test_an_all_dropped_batch_still_gives_the_preserver_zero_gradients():
    model = random_model(seed=10)
    x, t, ref, cs, ct, p = _inputs()
    model(x, t, ref, cs, ct, p, ref_index=torch.tensor([-1, -1])).square().mean().backward()
    grads = [q.grad for n, q in model.named_parameters() if n.startswith("preserver.") and q.requires_grad]
    assert all(g is not None and not g.any() for g in grads)


def test_from_stable_diffusion_loads_a_local_unet_and_names_missing_ones(tmp_path):
    unet = randomize_weights(UNet2DConditionModel(**TINY_UNET), seed=7)
    unet.save_pretrained(tmp_path / "sd" / "unet")
    model = GenWarpModel.from_stable_diffusion(str(tmp_path / "sd"))
    assert torch.equal(model.denoiser.conv_in.weight, unet.conv_in.weight)
    assert torch.equal(model.preserver.conv_in.weight, unet.conv_in.weight)
    with pytest.raises(FileNotFoundError, match="sd-image-variations"):
        GenWarpModel.from_stable_diffusion(str(tmp_path / "nowhere"))


def test_reference_attention_off_skips_and_freezes_the_preserver():
    model = random_model(seed=8, reference_attention=False).eval()
    assert not any(p.requires_grad for p in model.preserver.parameters())
    calls = []
    handle = model.preserver.register_forward_pre_hook(lambda m, a: calls.append(1))
    x, t, ref, cs, ct, p = _inputs()
    with torch.no_grad():
        out = model(x, t, ref, cs, ct, p)
        plain = model.predict(x, t, model.encode_condition(ct), p, reference=None)
    handle.remove()
    assert not calls
    torch.testing.assert_close(out, plain)
