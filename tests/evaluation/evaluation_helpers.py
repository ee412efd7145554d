"""Helpers of the evaluation tests: tiny random metric networks (no download anywhere)."""

from __future__ import annotations

import torch
from torch import nn

from genwarp.evaluation.perceptual import LPIPS, TappedFeatures


class TinyFeatures(nn.Module):
    """A FID-style extractor: uint8 images → (B, 16) pooled features."""

    num_features = 16

    def __init__(self, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.conv = nn.Conv2d(3, 16, 5, stride=2)
        with torch.no_grad():
            self.conv.weight.copy_(torch.randn(self.conv.weight.shape, generator=g) * 0.2)
            self.conv.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float() / 255.0
        return torch.tanh(self.conv(x)).mean(dim=(2, 3))


def tiny_lpips(seed: int = 0, name: str = "lpips") -> LPIPS:
    g = torch.Generator().manual_seed(seed)
    features = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 8, 3, stride=2, padding=1), nn.ReLU())
    with torch.no_grad():
        for p in features.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    linear = [torch.rand(1, 4, 1, 1, generator=g), torch.rand(1, 8, 1, 1, generator=g)]
    return LPIPS(TappedFeatures(features, (2, 4)), (4, 8), linear, name=name)




def tiny_inpaint_pipeline(tmp_dir, seed: int = 0):
    """A tiny random diffusers StableDiffusionInpaintPipeline (9-channel U-Net, 2× VAE, 1-layer CLIP
    text encoder, a 4-token CLIP tokenizer), built without any download."""
    import json
    from pathlib import Path

    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionInpaintPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    tmp = Path(tmp_dir)
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "vocab.json").write_text(json.dumps({"<|startoftext|>": 0, "<|endoftext|>": 1, "a</w>": 2, "!": 3}))
    (tmp / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(str(tmp / "vocab.json"), str(tmp / "merges.txt"), model_max_length=8)
    torch.manual_seed(seed)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=8, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
        max_position_embeddings=8, bos_token_id=0, eos_token_id=1, pad_token_id=1, projection_dim=16))
    unet = UNet2DConditionModel(
        sample_size=16, in_channels=9, out_channels=4, layers_per_block=1, block_out_channels=(16, 32),
        norm_num_groups=8, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=16, attention_head_dim=4)
    vae = AutoencoderKL(block_out_channels=(8, 16), norm_num_groups=8, latent_channels=4, in_channels=3,
                        out_channels=3, down_block_types=("DownEncoderBlock2D",) * 2,
                        up_block_types=("UpDecoderBlock2D",) * 2)
    pipe = StableDiffusionInpaintPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                          scheduler=DDIMScheduler(), safety_checker=None, feature_extractor=None,
                                          requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe
