"""Exponential moving average of the generator's weights (evaluated and exported instead of G)."""

from __future__ import annotations

import tensorflow as tf


def update_ema(model, ema_model, decay) -> None:
    """`ema = decay * ema + (1 - decay) * w` for trainable weights; other state is copied.

    Batch-norm statistics and spectral-norm vectors are copied rather than averaged: they are
    estimates for the current weights, not parameters.
    """
    decay = tf.cast(decay, tf.float32)
    for weight, average in zip(model.weights, ema_model.weights, strict=True):
        if weight.trainable:
            average.assign(decay * average + (1.0 - decay) * weight)
        else:
            average.assign(weight)


def ema_decay(step, decay: float, start: int):
    """`decay` from step `start` on; 0 before it (the average just follows the weights)."""
    return tf.where(tf.cast(step, tf.int64) >= start, decay, 0.0)
