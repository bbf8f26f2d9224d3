"""The truncation trick (BigGAN): latents from a standard normal truncated to `[-t, t]`.

Lower thresholds t trade variety for fidelity. A latent is a standard normal draw when that draw
lies within the threshold, and otherwise a fresh draw from the truncated normal itself, taken by
inverting its CDF on a uniform draw: `sqrt(2) * erfinv(u * erf(t / sqrt(2)))` with u uniform in
[-1, 1), in float64. Keeping the in-range value and replacing the rest with a truncated draw is
exactly the truncated normal (it is what rejection sampling converges to, with the loop solved
in one step), so every threshold, however small, costs the same constant time per value.

Thresholds: a Python number must be finite and > 0 (None: no truncation). A scalar tensor, as the
exported `sample` signature's `truncation` input is, reads 0: none; negative, NaN or infinite
are refused (an `InvalidArgumentError` naming the value when the graph runs).

Random numbers are stateless: the same seed gives the same latents in eager code, inside
`tf.function` and in an exported SavedModel, and for one seed a smaller threshold changes only
the values beyond it.
"""

from __future__ import annotations

import math
import numbers
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


def _check_number(threshold) -> None:
    """A Python threshold must be a real number > 0 and finite."""
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, numbers.Real)
        or not math.isfinite(threshold)
        or threshold <= 0
    ):
        raise ValueError(f"threshold={threshold!r}; expected a finite number > 0, or None.")


def _checked_tensor(threshold: tf.Tensor) -> tf.Tensor:
    """A scalar tensor threshold as float32, asserted to be 0 (untruncated) or finite and > 0."""
    threshold = tf.cast(threshold, tf.float32)
    valid = tf.logical_or(
        tf.equal(threshold, 0.0),
        tf.logical_and(threshold > 0, tf.math.is_finite(threshold)),
    )
    check = tf.debugging.Assert(
        valid,
        ["truncation threshold must be finite and > 0, or 0 for none; got", threshold],
    )
    with tf.control_dependencies([check]):
        return tf.identity(threshold)


def _truncated_draws(shape, limit: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Float32 draws of the normal truncated to `[-limit, limit]` by its inverse CDF."""
    limit = tf.cast(limit, tf.float64)
    uniform = tf.random.stateless_uniform(shape, seed, minval=-1.0, maxval=1.0, dtype=tf.float64)
    draws = math.sqrt(2.0) * tf.math.erfinv(uniform * tf.math.erf(limit / math.sqrt(2.0)))
    # Rounding may land a last bit beyond the limit; the clip keeps the bound exact.
    return tf.cast(tf.clip_by_value(draws, -limit, limit), tf.float32)


def truncated_normal(shape: Sequence[int], threshold=None, seed=None) -> tf.Tensor:
    """Standard normal float32 samples with every value in `[-threshold, threshold]`.

    Constant time per value for every threshold (no rejection loop).

    Args:
      shape: output shape, e.g. `(num_samples, z_dim)`; a tensor inside `tf.function`.
      threshold: truncation threshold t, a finite number > 0, or None for no truncation (a
        `ValueError` otherwise). A scalar float tensor may be passed instead (the exported
        `sample` signature does): there 0 means no truncation, and a negative, NaN or infinite
        value raises `tf.errors.InvalidArgumentError` when the value is seen.
      seed: an integer, a `[2]` stateless seed, or None for a random one.

    Returns:
      A float32 tensor of `shape`; for threshold None (or tensor 0) it is
      `tf.random.stateless_normal(shape, [seed, 0])`, and with a threshold it differs from that
      only where that draw lies beyond the threshold.

    Example:
      >>> z = truncated_normal((4, 128), threshold=0.5, seed=0)
      >>> bool(tf.reduce_all(tf.abs(z) <= 0.5))
      True
    """
    if threshold is not None and not tf.is_tensor(threshold):
        _check_number(threshold)
    seed = _seed_pair(seed)
    z = tf.random.stateless_normal(shape, seed, dtype=tf.float32)
    if threshold is None:
        return z
    threshold = _checked_tensor(threshold)
    limit = tf.where(threshold > 0, threshold, tf.constant(np.inf, tf.float32))
    replacement_seed = tf.random.experimental.stateless_fold_in(seed, 1)
    return tf.where(tf.abs(z) <= limit, z, _truncated_draws(tf.shape(z), limit, replacement_seed))


def parse_truncations(values: Sequence[str | float | None] | str) -> list[float | None]:
    """`"0.5,1.0,none"` (or a list of such items) -> `[0.5, 1.0, None]`; None = untruncated.

    Numbers must be finite and > 0 (the same rule as `truncated_normal`).
    """
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
            raise ValueError(f"truncation {value!r}; expected a finite number > 0 or 'none'.")
        parsed.append(number)
    if not parsed:
        raise ValueError("No truncation given; expected e.g. '0.5,1.0,none'.")
    return parsed


def truncation_label(threshold: float | None) -> str:
    """The name of a threshold in file names and JSON: `"0.5"`, `"2"`, or `"none"`."""
    return "none" if threshold is None else f"{threshold:g}"
