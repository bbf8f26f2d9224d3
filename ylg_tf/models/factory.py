"""Builds G and D from a run config (`ylg_tf.runs.config`), the same way for every binary.

The SAGAN ablation fields (`*_residual_resolution`, `spectral_norm`) are read with defaults, so
that the `config.json` of runs made before they existed still loads.
"""

from __future__ import annotations

import ml_collections
import numpy as np

from ylg_tf.models.discriminator import Discriminator
from ylg_tf.models.generator import Generator
from ylg_tf.models.seeding import seed_weights

#: `config.model.spectral_norm` -> whether G's layers are spectral-normalized (D's always are).
SPECTRAL_NORM = {"g_and_d": True, "d_only": False}


def generator_spectral_norm(setting: str) -> bool:
    """`config.model.spectral_norm` as the generator's `spectral_norm` argument."""
    if not isinstance(setting, str) or setting not in SPECTRAL_NORM:
        raise ValueError(
            f"config.model.spectral_norm={setting!r}; expected one of {tuple(SPECTRAL_NORM)}."
        )
    return SPECTRAL_NORM[setting]


def build_generator(
    config: ml_collections.ConfigDict, num_classes: int, synchronized_bn: bool = False, name="G"
) -> Generator:
    """The generator of `config`, its weights created (called once on zeros) and seeded per
    weight path from `config.seed` (`seed_weights`: ablation arms share what they have alike;
    an EMA copy starts equal to G)."""
    model = config.model
    generator = Generator(
        resolution=config.data.resolution,
        num_classes=num_classes,
        z_dim=model.z_dim,
        base_channels=model.g_base_channels,
        variant=model.variant,
        attention_resolution=model.g_attention_resolution or None,
        residual_resolution=model.get("g_residual_resolution", 0),
        spectral_norm=generator_spectral_norm(model.get("spectral_norm", "g_and_d")),
        bn_momentum=model.bn_momentum,
        synchronized_bn=synchronized_bn,
        name=name,
    )
    generator((np.zeros((2, model.z_dim), "float32"), np.zeros((2,), "int32")))
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
        base_channels=config.model.d_base_channels,
        variant=config.model.variant,
        attention_resolution=config.model.d_attention_resolution or None,
        residual_resolution=config.model.get("d_residual_resolution", 0),
        name=name,
    )
    discriminator((np.zeros((2, resolution, resolution, 3), "float32"), np.zeros((2,), "int32")))
    seed_weights(discriminator, f"{config.seed}/D")
    return discriminator
