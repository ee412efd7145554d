"""The condition encoder ("pose guider" in the release, release-spec §8).

A small strided conv stack that turns a per-pixel condition map (e.g. the 11-channel warped
coordinate embedding + hole mask) into features at latent resolution, which are added to a U-Net's
``conv_in`` output. Parameter names (``conv_in``, ``blocks.N``, ``conv_out``) match the release's
``pose_guider.pth`` so its weights load with a strict ``load_state_dict``.
"""

from __future__ import annotations

from collections.abc import Sequence

from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from jaxtyping import Float
from torch import Tensor, nn
from torch.nn import functional as F


class ConditionEncoder(ModelMixin, ConfigMixin):
    """Conv stack: ``conv_in`` → pairs of (stride-1, stride-2) convs → zero-initialised ``conv_out``.

    With the default ``block_out_channels=(16, 32, 64, 128)`` this is exactly the release's
    PoseGuider: 11→16 (conv_in), 16→16, 16→32 (stride 2), 32→32, 32→64 (stride 2), 64→64,
    64→128 (stride 2), 128→out (conv_out); SiLU after every conv but the last. The spatial
    downsampling factor is ``2 ** (len(block_out_channels) - 1)`` (8 by default), which must equal
    the latent codec's factor.

    Args:
        in_channels: channels of the condition map (11 for warped coordinates + hole mask).
        out_channels: width of the features added after the U-Net's ``conv_in`` (its
            ``block_out_channels[0]``; 320 for Stable Diffusion 1.x).
        block_out_channels: widths of the internal stages.
    """

    @register_to_config
    def __init__(
        self,
        in_channels: int = 11,
        out_channels: int = 320,
        block_out_channels: Sequence[int] = (16, 32, 64, 128),
    ):
        super().__init__()
        if len(block_out_channels) < 1:
            raise ValueError(f"block_out_channels must name at least one stage, got {block_out_channels!r}")
        self.conv_in = nn.Conv2d(in_channels, block_out_channels[0], kernel_size=3, padding=1)
        blocks = []
        for c_in, c_out in zip(block_out_channels[:-1], block_out_channels[1:]):
            blocks.append(nn.Conv2d(c_in, c_in, kernel_size=3, padding=1))
            blocks.append(nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, stride=2))
        self.blocks = nn.ModuleList(blocks)
        self.conv_out = nn.Conv2d(block_out_channels[-1], out_channels, kernel_size=3, padding=1)
        self.zero_output()

    @property
    def downsampling_factor(self) -> int:
        return 2 ** (len(self.config.block_out_channels) - 1)

    def zero_output(self) -> None:
        """Zero ``conv_out`` so a freshly initialised encoder leaves the U-Net unchanged."""
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, condition: Float[Tensor, "b c h w"]) -> Float[Tensor, "b d h/f w/f"]:
        x = F.silu(self.conv_in(condition))
        for block in self.blocks:
            x = F.silu(block(x))
        return self.conv_out(x)


def condition_encoder_from_state_dict(
    state_dict: dict[str, Tensor], strict: bool = True
) -> ConditionEncoder:
    """Build a :class:`ConditionEncoder` whose widths are read off a (release) state dict.

    The release hard-codes the output width to 320; reading it from ``conv_out.weight`` lets the
    same code load SD-sized and tiny checkpoints.
    """
    try:
        in_channels = state_dict["conv_in.weight"].shape[1]
        out_channels = state_dict["conv_out.weight"].shape[0]
        n_blocks = len({k.split(".")[1] for k in state_dict if k.startswith("blocks.")})
    except KeyError as err:
        raise ValueError(f"not a condition-encoder (pose guider) state dict: missing {err}") from err
    widths = [state_dict["conv_in.weight"].shape[0]]
    for i in range(1, n_blocks, 2):
        widths.append(state_dict[f"blocks.{i}.weight"].shape[0])
    encoder = ConditionEncoder(in_channels=in_channels, out_channels=out_channels, block_out_channels=tuple(widths))
    missing, unexpected = encoder.load_state_dict(state_dict, strict=False)
    if strict and (missing or unexpected):
        raise ValueError(
            f"condition encoder state dict does not match: missing keys {sorted(missing)}, "
            f"unexpected keys {sorted(unexpected)}"
        )
    return encoder


__all__ = ["ConditionEncoder", "condition_encoder_from_state_dict"]
