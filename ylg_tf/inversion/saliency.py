"""Per-head saliency of D's attention layer: how much attention each key position receives.

Supplementary §1: pass the real image through D, take the attention probabilities
`[batch, heads, n_queries, n_keys]`, average over queries (each query's row is a distribution,
so the average is a distribution over the key grid: S_h), then project S_h to the grid of the D0
features (S'_h), which the YLG loss weights.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

__all__ = ["RESIZE_METHOD", "key_saliency", "project_saliency", "saliency_maps"]

#: How S_h is projected from the key grid to D0's grid (and to pixels for "saliency_pixel").
#: Bilinear with half-pixel centres (`tf.image.resize`), renormalized to sum to 1 afterwards.
RESIZE_METHOD = "bilinear"


def key_saliency(probs, d0_hw: tuple[int, int]) -> tf.Tensor:
    """`[batch, heads, n_queries, n_keys]` probabilities -> S `[batch, heads, kh, kw]`.

    The queries are D0's cells (`d0_hw`, row-major); the key grid is D0's grid pooled by the
    same factor in both directions (2x2 in SAGAN and YLG), which is read off `n_queries /
    n_keys`. Each head's map sums to 1 (rows of `probs` do).
    """
    probs = tf.convert_to_tensor(probs, tf.float32)
    if probs.shape.rank != 4:
        raise ValueError(
            f"Attention probabilities must be [batch, heads, nq, nk], got {probs.shape}."
        )
    height, width = d0_hw
    n_queries, n_keys = probs.shape[2], probs.shape[3]
    if n_queries != height * width:
        raise ValueError(
            f"The attention has {n_queries} queries but D0's grid is {height}x{width}; the "
            "saliency needs the attention layer to sit right after D0."
        )
    factor = math.isqrt(n_queries // n_keys) if n_queries % n_keys == 0 else 0
    if factor < 1 or factor * factor * n_keys != n_queries or height % factor or width % factor:
        raise ValueError(
            f"Cannot place {n_keys} keys on a grid pooled from D0's {height}x{width} grid."
        )
    saliency = tf.reduce_mean(probs, axis=2)  # attention each key receives, over all queries
    return tf.reshape(saliency, [-1, probs.shape[1], height // factor, width // factor])


def project_saliency(saliency, size: tuple[int, int]) -> tf.Tensor:
    """Resizes `[batch, heads, kh, kw]` maps to `size` (bilinear) and renormalizes each to sum 1."""
    saliency = tf.convert_to_tensor(saliency, tf.float32)
    batch, heads = tf.shape(saliency)[0], saliency.shape[1]
    maps = tf.transpose(saliency, [0, 2, 3, 1])  # heads as channels
    maps = tf.image.resize(maps, size, method=RESIZE_METHOD)
    maps = tf.transpose(maps, [0, 3, 1, 2])
    maps = tf.reshape(maps, [batch, heads, size[0], size[1]])
    total = tf.reduce_sum(maps, axis=(2, 3), keepdims=True)
    return maps / tf.maximum(total, 1e-12)


def _attention_probs(discriminator, images, labels):
    if getattr(discriminator, "attention", None) is None:
        raise ValueError(
            f"The discriminator (variant {getattr(discriminator, 'variant', '?')!r}) has no "
            "attention layer, so it has no saliency; use a variant with attention in D (e.g. "
            "'ylg' or 'sagan') or a method that needs none ('pixel', 'd_space')."
        )
    images = tf.convert_to_tensor(images, tf.float32)
    labels = tf.convert_to_tensor(labels, tf.int32)
    _, (probs,) = discriminator((images, labels), training=False, return_attention_scores=True)
    return tf.cast(probs, tf.float32)


def saliency_tensor(discriminator, images, labels) -> tf.Tensor:
    """`saliency_maps` as a float32 tensor (usable inside `tf.function`)."""
    probs = _attention_probs(discriminator, images, labels)
    features = discriminator.d0(tf.convert_to_tensor(images, tf.float32), training=False)
    d0_hw = (int(features.shape[1]), int(features.shape[2]))
    return project_saliency(key_saliency(probs, d0_hw), d0_hw)


def saliency_maps(discriminator, images, labels) -> np.ndarray:
    """S'_h of YLG's inversion: per image and head, a distribution over D0's feature grid.

    Args:
      discriminator: a `ylg_tf.models.Discriminator` with an attention layer.
      images: `[batch, R, R, 3]` in [-1, 1].
      labels: `[batch]` class labels.

    Returns:
      float32 `[batch, heads, h0, w0]`, each `[h0, w0]` map summing to 1, where `h0 x w0` is the
      spatial size of `discriminator.d0(images)`; resized from the key grid with
      `RESIZE_METHOD`.

    Raises:
      ValueError: the discriminator has no attention layer.
    """
    return saliency_tensor(discriminator, images, labels).numpy()
