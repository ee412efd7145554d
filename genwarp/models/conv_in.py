"""The one place where condition features enter a U-Net: added to the output of its ``conv_in``.

The release adds the condition-encoder ("pose guider") features right after ``conv_in`` of both
U-Nets, before the first skip connection is stored (release-spec §9). Stock
``UNet2DConditionModel`` has no input for that, so we attach a forward hook to ``unet.conv_in``
for the duration of one call and remove it on every exit path. Nothing else in the code base
changes what a U-Net computes outside attention processors.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from diffusers import UNet2DConditionModel
from jaxtyping import Float
from torch import Tensor


@contextlib.contextmanager
def conv_in_residual(
    unet: UNet2DConditionModel, features: Float[Tensor, "b c h w"] | None
) -> Iterator[None]:
    """Within the block, ``unet.conv_in(x)`` returns ``conv_in(x) + features``.

    ``features`` must have ``conv_in``'s output shape (batch, ``block_out_channels[0]``, h, w).
    ``None`` leaves the U-Net unchanged.
    """
    if features is None:
        yield
        return

    def add_features(module, inputs, output):
        if output.shape != features.shape:
            raise ValueError(
                f"condition features of shape {tuple(features.shape)} cannot be added to conv_in "
                f"output of shape {tuple(output.shape)}: check the condition encoder's out_channels "
                "and downsampling factor against the U-Net and latent codec"
            )
        return output + features.to(output.dtype)

    handle = unet.conv_in.register_forward_hook(add_features)
    try:
        yield
    finally:
        handle.remove()


__all__ = ["conv_in_residual"]
