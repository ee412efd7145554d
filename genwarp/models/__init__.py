"""The GenWarp model: condition encoder, reference attention, the two-stream model, codecs,
image prompt, schedules, the training objective and checkpoint import."""

from genwarp.models.codecs import (
    PixelUnshuffleCodec,
    codec_downsampling_factor,
    codec_latent_channels,
    decode_latents,
    default_latent_scale,
    encode_images,
)
from genwarp.models.condition_encoder import ConditionEncoder, condition_encoder_from_state_dict
from genwarp.models.conv_in import conv_in_residual
from genwarp.models.genwarp_model import CONDITION_KINDS, GenWarpModel
from genwarp.models.image_prompt import clip_pixel_values, encode_image_prompt
from genwarp.models.reference_attention import (
    ReferenceBank,
    ReferenceRead,
    install_reference_processors,
    reference_bank,
)
from genwarp.models.release import RELEASE_MODEL_CONFIG, load_release, load_release_model
from genwarp.models.objective import GenWarpObjective, ObjectiveOutput
from genwarp.models.schedules import release_ddim_scheduler, training_noise_scheduler

__all__ = [
    "CONDITION_KINDS",
    "ConditionEncoder",
    "GenWarpModel",
    "GenWarpObjective",
    "ObjectiveOutput",
    "PixelUnshuffleCodec",
    "RELEASE_MODEL_CONFIG",
    "ReferenceBank",
    "ReferenceRead",
    "clip_pixel_values",
    "codec_downsampling_factor",
    "codec_latent_channels",
    "condition_encoder_from_state_dict",
    "conv_in_residual",
    "decode_latents",
    "default_latent_scale",
    "encode_image_prompt",
    "encode_images",
    "install_reference_processors",
    "load_release",
    "load_release_model",
    "reference_bank",
    "release_ddim_scheduler",
    "training_noise_scheduler",
]
