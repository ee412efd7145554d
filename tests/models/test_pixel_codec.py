"""The pixel-unshuffle codec: lossless in both colour bases, and the opponent basis does what it says."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from genwarp.models.codecs import (
    PixelUnshuffleCodec,
    decode_latents,
    encode_images,
    opponent_basis,
)
from genwarp.training.build import build_codec
from genwarp.training.config import ModelConfig


@pytest.mark.parametrize("kwargs", [{}, {"colour_basis": "opponent"},
                                    {"colour_basis": "opponent", "chroma_gain": 2.0, "luminance_offset": -0.76}])
def test_round_trip_is_lossless(kwargs):
    codec = PixelUnshuffleCodec(2, **kwargs)
    images = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    latents = encode_images(codec, images, 2.0)
    assert latents.shape == (2, 12, 4, 4)
    torch.testing.assert_close(decode_latents(codec, latents, 2.0), images, atol=1e-6, rtol=0)


def test_opponent_latents_are_luminance_and_scaled_chroma():
    grey = torch.full((1, 3, 2, 2), 0.25)
    codec = PixelUnshuffleCodec(1, colour_basis="opponent", chroma_gain=2.0, luminance_offset=-0.5)
    lat = codec.encode(grey)
    # 2x − 1 = −0.5 in every channel: luminance −0.5·√3, less the offset; no chroma
    torch.testing.assert_close(lat[:, 0], torch.full((1, 2, 2), -0.5 * 3**0.5 + 0.5))
    torch.testing.assert_close(lat[:, 1:], torch.zeros(1, 2, 2, 2), atol=1e-6, rtol=0)
    red = torch.zeros(1, 3, 1, 1)
    red[:, 0] = 1.0
    chroma = codec.encode(red)[0, 1:, 0, 0]
    expected = 2.0 * opponent_basis()[1:] @ (red[0, :, 0, 0] * 2 - 1)
    torch.testing.assert_close(chroma, expected)
    assert torch.allclose(opponent_basis() @ opponent_basis().T, torch.eye(3), atol=1e-6)


def test_rgb_refuses_opponent_settings_and_the_config_reaches_the_codec():
    with pytest.raises(ValueError, match="opponent"):
        PixelUnshuffleCodec(2, chroma_gain=2.0)
    with pytest.raises(ValueError, match="colour_basis"):
        PixelUnshuffleCodec(2, colour_basis="lab")
    cfg = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(ModelConfig), {
        "codec": "pixel", "pixel_factor": 2, "pixel_colour_basis": "opponent", "pixel_chroma_gain": 2.0,
        "pixel_luminance_offset": -0.76}))
    codec = build_codec(cfg)
    assert (codec.config.colour_basis, codec.config.chroma_gain, codec.config.luminance_offset) == ("opponent", 2.0, -0.76)
    vae_cfg = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(ModelConfig), {"pixel_chroma_gain": 2.0}))
    with pytest.raises(ValueError, match="model.codec=pixel"):
        build_codec(vae_cfg)


def test_the_colour_basis_survives_save_and_load(tmp_path):
    codec = PixelUnshuffleCodec(2, colour_basis="opponent", chroma_gain=2.0, luminance_offset=-0.76)
    codec.save_pretrained(tmp_path)
    loaded = PixelUnshuffleCodec.from_pretrained(tmp_path)
    images = torch.rand(1, 3, 4, 4, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(loaded.encode(images), codec.encode(images))
