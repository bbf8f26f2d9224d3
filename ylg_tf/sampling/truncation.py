"""The truncation trick (BigGAN): latents from a normal truncated at |threshold| by resampling.

Values beyond the threshold are drawn again (not clipped) until none is left, so every kept value
follows the normal restricted to `[-threshold, threshold]`. Lower thresholds trade variety for
fidelity (`../shared/REFERENCE.md` §3). Random numbers are stateless: the same seed gives the same
latents in eager code, inside `tf.function` and in an exported SavedModel, and for one seed a
smaller threshold changes only the values it rejects.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

__all__ = ["parse_truncations", "truncated_normal", "truncation_label"]


def _seed_pair(seed) -> tf.Tensor:
    """An int, a `[2]` seed or None (a fresh random seed) -> a `[2]` int64 stateless seed."""
    if seed is None:
        seed = int(np.random.default_rng().integers(2**31))
    seed = tf.cast(tf.convert_to_tensor(seed), tf.int64)
    if seed.shape.rank == 0:
        return tf.stack([seed, tf.constant(0, tf.int64)])
    if seed.shape.as_list() != [2]:
        raise ValueError(f"seed must be an integer or a [2] seed, got shape {seed.shape}.")
    return seed


def truncated_normal(shape: Sequence[int], threshold=None, seed=None) -> tf.Tensor:
    """Standard normal float32 samples with every value in `[-threshold, threshold]`.

    Args:
      shape: output shape, e.g. `(num_samples, z_dim)`; a tensor inside `tf.function`.
      threshold: truncation threshold t > 0 (a Python number), or None for no truncation. Inside
        graphs a float tensor may be passed instead; there a value <= 0 means no truncation
        (that is what the exported `sample` signature does).
      seed: an integer, a `[2]` stateless seed, or None for a random one.

    Returns:
      A float32 tensor of `shape`.

    Example:
      >>> z = truncated_normal((4, 128), threshold=0.5, seed=0)
      >>> bool(tf.reduce_all(tf.abs(z) <= 0.5))
      True
    """
    if threshold is not None and not tf.is_tensor(threshold):
        if isinstance(threshold, bool) or not np.isfinite(threshold) or threshold <= 0:
            raise ValueError(f"threshold={threshold!r}; expected a number > 0 or None.")
    seed = _seed_pair(seed)
    z = tf.random.stateless_normal(shape, seed, dtype=tf.float32)
    if threshold is None:
        return z
    threshold = tf.cast(threshold, tf.float32)
    limit = tf.where(threshold > 0, threshold, tf.constant(np.inf, tf.float32))

    def outside(values):
        return tf.abs(values) > limit

    def resample(draw, values):
        fresh = tf.random.stateless_normal(
            tf.shape(values),
            tf.random.experimental.stateless_fold_in(seed, draw),
            dtype=tf.float32,
        )
        return draw + 1, tf.where(outside(values), fresh, values)

    _, z = tf.while_loop(
        lambda draw, values: tf.reduce_any(outside(values)),
        resample,
        (tf.constant(1, tf.int64), z),
    )
    return z


def parse_truncations(values: Sequence[str | float | None] | str) -> list[float | None]:
    """`"0.5,1.0,none"` (or a list of such items) -> `[0.5, 1.0, None]`; None = untruncated."""
    if isinstance(values, str):
        values = [v for v in values.split(",") if v.strip()]
    parsed: list[float | None] = []
    for value in values:
        if value is None or (isinstance(value, str) and value.strip().lower() == "none"):
            parsed.append(None)
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = float("nan")
        if not np.isfinite(number) or number <= 0:
            raise ValueError(f"truncation {value!r}; expected a number > 0 or 'none'.")
        parsed.append(number)
    if not parsed:
        raise ValueError("No truncation given; expected e.g. '0.5,1.0,none'.")
    return parsed


def truncation_label(threshold: float | None) -> str:
    """The name of a threshold in file names and JSON: `"0.5"`, `"2"`, or `"none"`."""
    return "none" if threshold is None else f"{threshold:g}"
