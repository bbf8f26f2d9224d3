"""Distributed GAN training: strategies, hinge losses, EMA, the trainer and its run config."""

from ylg_tf.training.config import default_config, validate
from ylg_tf.training.losses import discriminator_hinge_loss, generator_hinge_loss
from ylg_tf.training.strategy import STRATEGIES, make_strategy
from ylg_tf.training.trainer import GANTrainer, NonFiniteLossError

__all__ = [
    "STRATEGIES",
    "GANTrainer",
    "NonFiniteLossError",
    "default_config",
    "discriminator_hinge_loss",
    "generator_hinge_loss",
    "make_strategy",
    "validate",
]
