"""Distributed GAN training: strategies, hinge losses, EMA, the replicated step and the trainer.

The run config lives in `ylg_tf.runs.config`; `default_config` and `validate` are re-exported
here for the callers that train.
"""

from ylg_tf.runs.config import default_config
from ylg_tf.training.loop import NonFiniteLossError, TrainingLoop
from ylg_tf.training.losses import discriminator_hinge_loss, generator_hinge_loss
from ylg_tf.training.signals import TrainingInterrupted
from ylg_tf.training.strategy import STRATEGIES, make_strategy
from ylg_tf.training.trainer import GANTrainer
from ylg_tf.training.validation import validate

__all__ = [
    "STRATEGIES",
    "GANTrainer",
    "NonFiniteLossError",
    "TrainingInterrupted",
    "TrainingLoop",
    "default_config",
    "discriminator_hinge_loss",
    "generator_hinge_loss",
    "make_strategy",
    "validate",
]
