"""Builds G and D from a run config (`ylg_tf.runs.config`), the same way for every binary.

`config.model.generator` and `config.model.discriminator` are the constructors' own arguments;
the variant, the resolution and the class count are shared by both.
"""

from __future__ import annotations

import ml_collections
import numpy as np

from ylg_tf.models.discriminator import Discriminator
from ylg_tf.models.generator import Generator
from ylg_tf.models.seeding import seed_weights


def build_generator(
    config: ml_collections.ConfigDict, num_classes: int, synchronized_bn: bool = False, name="G"
) -> Generator:
    """The generator of `config`, its weights created (called once on zeros) and seeded per
    weight path from `config.seed` (`seed_weights`: ablation arms share what they have alike;
    an EMA copy starts equal to G)."""
    generator = Generator(
        resolution=config.data.resolution,
        num_classes=num_classes,
        variant=config.model.variant,
        synchronized_bn=synchronized_bn,
        name=name,
        **config.model.generator,
    )
    generator((np.zeros((2, generator.z_dim), "float32"), np.zeros((2,), "int32")))
    seed_weights(generator, f"{config.seed}/G")
    return generator


def build_discriminator(
    config: ml_collections.ConfigDict, num_classes: int, name="D"
) -> Discriminator:
    """The discriminator of `config`, its weights created and seeded like `build_generator`'s."""
    resolution = config.data.resolution
    discriminator = Discriminator(
        resolution=resolution,
        num_classes=num_classes,
        variant=config.model.variant,
        name=name,
        **config.model.discriminator,
    )
    discriminator((np.zeros((2, resolution, resolution, 3), "float32"), np.zeros((2,), "int32")))
    seed_weights(discriminator, f"{config.seed}/D")
    return discriminator
