"""SAGAN-family generator and discriminator, and the registry of attention variants."""

from ylg_tf.models.discriminator import Discriminator
from ylg_tf.models.factory import build_discriminator, build_generator
from ylg_tf.models.generator import Generator
from ylg_tf.models.variants import (
    ATTENTION_BUILDERS,
    VARIANTS,
    AttentionVariant,
    attention_layer,
    get_variant,
    register_attention_builder,
    register_variant,
)

__all__ = [
    "ATTENTION_BUILDERS",
    "VARIANTS",
    "AttentionVariant",
    "Discriminator",
    "Generator",
    "attention_layer",
    "build_discriminator",
    "build_generator",
    "get_variant",
    "register_attention_builder",
    "register_variant",
]
