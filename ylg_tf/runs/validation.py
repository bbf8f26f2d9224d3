"""Checks a run config's own fields (data, model, train) against the model zoo's rules.

Separate from `ylg_tf.runs.config` because the rules live with the models (Keras): reading a
config file stays free of Keras and TensorFlow, checking it does not. `config.eval` follows the
evaluation package's rules; `ylg_tf.training.validate` checks both, for what trains a config.
"""

from __future__ import annotations

import ml_collections
import tensorflow as tf

from ylg_tf.models.architecture import (
    DEFAULT_ATTENTION_RESOLUTION,
    RESOLUTIONS,
    attention_resolutions,
    discriminator_resolutions,
    generator_resolutions,
    place_blocks,
)
from ylg_tf.models.variants import get_variant
from ylg_tf.runs.config import AUGMENT_POLICIES, parse_augment_policy

MIXED_PRECISION = ("", "bfloat16", "float16")
JIT_COMPILE = ("auto", "on", "off")


def validate(config: ml_collections.ConfigDict) -> None:
    """Rejects a config that cannot run, naming the bad field and its accepted values."""
    get_variant(config.model.variant)
    if config.data.resolution not in RESOLUTIONS:
        raise ValueError(
            f"config.data.resolution={config.data.resolution!r}; expected one of {RESOLUTIONS}."
        )
    _validate_model(config.model, config.data.resolution)
    if config.train.mixed_precision not in MIXED_PRECISION:
        raise ValueError(
            f"config.train.mixed_precision={config.train.mixed_precision!r}; "
            f"expected one of {MIXED_PRECISION}."
        )
    for field in (
        "steps", "batch_size", "d_steps", "steps_per_call", "log_every", "ada_interval",
        "ada_speed_images",
    ):  # fmt: skip
        value = config.train[field]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"config.train.{field}={value!r}; expected an integer >= 1.")
    standing = config.train.ema_standing_batches
    if isinstance(standing, bool) or not isinstance(standing, int) or standing < 0:
        raise ValueError(
            f"config.train.ema_standing_batches={standing!r}; expected an integer >= 0."
        )
    if not 0.0 <= config.train.ema_decay < 1.0:
        raise ValueError(f"config.train.ema_decay={config.train.ema_decay!r}; expected [0, 1).")
    if config.train.jit_compile not in JIT_COMPILE:
        raise ValueError(
            f"config.train.jit_compile={config.train.jit_compile!r}; expected one of {JIT_COMPILE}."
        )
    _validate_augment(config.train.augment)
    _validate_ada(config.train)


def validate_for_strategy(config: ml_collections.ConfigDict, strategy) -> None:
    """The rules that depend on the strategy, checked once it exists (before data and models).

    XLA compiles for static shapes, so every replica must get the same, full batch: the input
    pipeline drops an incomplete last batch (`drop_remainder=True`), and here the global batch
    must split evenly over the replicas. TPUStrategy always compiles with XLA.
    """
    tpu = isinstance(strategy, tf.distribute.TPUStrategy)
    if tpu and config.train.jit_compile == "off":
        raise ValueError(
            "config.train.jit_compile='off' under TPUStrategy, which always compiles the step with "
            "XLA; expected 'auto' or 'on'."
        )
    replicated = isinstance(
        strategy, (tf.distribute.MirroredStrategy, tf.distribute.MultiWorkerMirroredStrategy)
    )
    devices = strategy.extended.worker_devices if replicated else ()
    if config.train.jit_compile == "on" and not all("GPU" in d.upper() for d in devices):
        raise ValueError(
            f"config.train.jit_compile='on' under {type(strategy).__name__} over {devices}: "
            "TensorFlow compiles a replicated step with XLA only when every replica is a GPU "
            "(elsewhere its replicas synchronize through merge_call, which XLA cannot compile); "
            "expected 'auto' or 'off' here, or one device (--strategy=default)."
        )
    replicas = strategy.num_replicas_in_sync
    if config.train.batch_size % replicas:
        raise ValueError(
            f"config.train.batch_size={config.train.batch_size} does not split over the "
            f"{replicas} replicas; expected a multiple of {replicas} (each replica needs a full, "
            "equal batch: XLA and TPUs compile for static shapes)."
        )


def _validate_augment(policy) -> None:
    accepted = f"'' (off) or a comma-separated list of {', '.join(AUGMENT_POLICIES)}"
    if not isinstance(policy, str):
        raise ValueError(f"config.train.augment={policy!r}; expected {accepted}.")
    try:
        parse_augment_policy(policy)
    except ValueError as error:
        raise ValueError(f"config.train.augment={policy!r}; expected {accepted}.") from error


def _validate_model(model: ml_collections.ConfigDict, resolution: int) -> None:
    """Attention and residual-control placement and spectral norm, with the models' own rules."""
    spec = get_variant(model.variant)
    generator, discriminator = model.generator, model.discriminator
    if not isinstance(generator.spectral_norm, bool):
        raise ValueError(
            f"config.model.generator.spectral_norm={generator.spectral_norm!r}; expected True "
            "(SAGAN) or False (SAGAN's baseline: G without spectral norm)."
        )
    g_fields = (
        "config.model.generator.attention_resolution",
        "config.model.generator.residual_resolution",
    )
    place_blocks(
        generator_resolutions(resolution),
        attention_resolutions(generator.attention_resolution, resolution, g_fields[0]),
        generator.residual_resolution,
        has_attention=spec.has_attention,
        fields=g_fields,
    )
    place_blocks(
        discriminator_resolutions(resolution),
        [discriminator.attention_resolution or DEFAULT_ATTENTION_RESOLUTION[resolution]],
        discriminator.residual_resolution,
        has_attention=spec.has_attention and spec.in_discriminator,
        fields=(
            "config.model.discriminator.attention_resolution",
            "config.model.discriminator.residual_resolution",
        ),
    )


def _validate_ada(train: ml_collections.ConfigDict) -> None:
    target = train.ada_target
    if isinstance(target, bool) or not isinstance(target, int | float) or not 0 <= target < 1:
        raise ValueError(
            f"config.train.ada_target={target!r}; expected 0 (no ADA) or a target for "
            "E[sign(D(real))] in (0, 1), e.g. 0.6 (the paper's)."
        )
    if target and parse_augment_policy(train.augment):
        raise ValueError(
            f"config.train.ada_target={target!r} with config.train.augment={train.augment!r}: "
            "ADA and DiffAugment both augment D's inputs; choose one (ada_target=0 or augment='')."
        )
