"""Training: typed config, component builders, resumable data stream, checkpoints, the loop."""

from genwarp.training.config import (
    DataConfig,
    DebugConfig,
    DepthConfig,
    LoggerConfig,
    ModelConfig,
    TrainConfig,
    TrainerConfig,
    register_schema,
)

__all__ = [
    "DataConfig",
    "DebugConfig",
    "DepthConfig",
    "LoggerConfig",
    "ModelConfig",
    "TrainConfig",
    "TrainerConfig",
    "register_schema",
    "train",
]


def __getattr__(name):
    if name == "train":  # the loop pulls in accelerate, datasets and models: import on use
        from genwarp.training.loop import train

        return train
    raise AttributeError(name)
