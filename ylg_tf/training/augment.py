"""DiffAugment: differentiable augmentations applied to real and generated images before D.

With little data, D memorises the training set and G stops learning. DiffAugment (Zhao et al.
2020) shows D only augmented images, `D(T(x))` and `D(T(G(z)))` in both the D and the G update,
with augmentations T that are differentiable, so G's gradient passes through them. Policies:

- `color`: per image, brightness `x + b` with b ~ U(-0.5, 0.5), then saturation
  `(x - m_pixel) * s + m_pixel` with s ~ U(0, 2) and m_pixel the mean over channels, then contrast
  `(x - m_image) * c + m_image` with c ~ U(0.5, 1.5) and m_image the mean over the image.
- `translation`: per image, a shift by integers (dy, dx) drawn uniformly within +-1/8 of the
  height and width (rounded), uncovered pixels set to 0.
- `cutout`: per image, a rectangle of half the height by half the width (rounded; a square on
  square images) set to 0, its centre drawn uniformly over the image (so a border may clip it).

Scaling: images are in [-1, 1], and the ops act on those values directly, as the authors' released
code does on its [-1, 1] images: the brightness shift is +-0.5 in these units (a quarter of the
intensity range), and the zero fill of translation and cutout is mid-grey. Saturation and contrast
rescale deviations from a mean, so they act the same way on [0, 1] or [-1, 1] images.

The function is pure: randomness comes only from the stateless `seed`, so the same seed gives the
same augmentation in eager code and inside a replicated `tf.function` (XLA-compiled code draws
other, equally distributed values for the same seed: TensorFlow's stateless float sampling differs
under XLA). Give every call its own
seed: real and fake batches, D and G steps, and replicas (fold the replica id in with
`tf.random.experimental.stateless_fold_in(seed, replica_id)`).

Reference: Zhao et al., Differentiable Augmentation for Data-Efficient GAN Training,
https://arxiv.org/abs/2006.10738
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

from ylg_tf.runs.config import AUGMENT_POLICIES as POLICIES
from ylg_tf.runs.config import parse_augment_policy as parse_policy

__all__ = ["POLICIES", "diff_augment", "parse_policy"]


def _per_image_uniform(images: tf.Tensor, seed: tf.Tensor, low: float, high: float) -> tf.Tensor:
    """One U(low, high) value per image, shaped `[batch, 1, 1, 1]` to broadcast over it."""
    shape = tf.stack([tf.shape(images)[0], 1, 1, 1])
    values = tf.random.stateless_uniform(shape, seed, minval=low, maxval=high)
    return tf.cast(values, images.dtype)


def _per_image_int(images: tf.Tensor, seed: tf.Tensor, low, high) -> tf.Tensor:
    """One integer uniform in [low, high) per image, shaped `[batch]`."""
    return tf.random.stateless_uniform(
        tf.shape(images)[:1], seed, minval=low, maxval=high, dtype=tf.int32
    )


def _color(images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    brightness, saturation, contrast = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
    images = images + _per_image_uniform(images, brightness, -0.5, 0.5)
    pixel_mean = tf.reduce_mean(images, axis=3, keepdims=True)
    images = (images - pixel_mean) * _per_image_uniform(images, saturation, 0.0, 2.0) + pixel_mean
    image_mean = tf.reduce_mean(images, axis=[1, 2, 3], keepdims=True)
    return (images - image_mean) * _per_image_uniform(images, contrast, 0.5, 1.5) + image_mean


def _rounded_fraction(size: tf.Tensor, fraction: float) -> tf.Tensor:
    """`round(size * fraction)` with halves rounded up, as an int32 tensor."""
    return tf.cast(tf.floor(tf.cast(size, tf.float32) * fraction + 0.5), tf.int32)


def _translation(images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Output pixel (i, j) of image b is input pixel (i - dy_b, j - dx_b), or 0 outside."""
    rows_seed, cols_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    height, width = tf.shape(images)[1], tf.shape(images)[2]
    for axis, size, axis_seed in ((1, height, rows_seed), (2, width, cols_seed)):
        reach = _rounded_fraction(size, 1 / 8)
        shift = _per_image_int(images, axis_seed, -reach, reach + 1)
        source = tf.range(size)[None, :] - shift[:, None]  # [batch, size]
        inside = (source >= 0) & (source < size)
        images = tf.gather(images, tf.clip_by_value(source, 0, size - 1), axis=axis, batch_dims=1)
        keep = tf.cast(inside, images.dtype)
        images *= keep[:, :, None, None] if axis == 1 else keep[:, None, :, None]
    return images


def _cutout(images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Zeroes rows [y0, y0 + s_h) x columns [x0, x0 + s_w) of each image, clipped to it."""
    rows_seed, cols_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    kept = []
    for size, axis_seed in ((tf.shape(images)[1], rows_seed), (tf.shape(images)[2], cols_seed)):
        side = _rounded_fraction(size, 1 / 2)
        # Centres 0 .. size - 1, and also size when the side is even, so that the square is as
        # likely to hang over one border as over the other.
        centre = _per_image_int(images, axis_seed, 0, size + 1 - side % 2)
        start = centre - side // 2
        position = tf.range(size)[None, :]
        kept.append((position < start[:, None]) | (position >= (start + side)[:, None]))
    keep = kept[0][:, :, None] | kept[1][:, None, :]  # [batch, height, width]
    return images * tf.cast(keep, images.dtype)[..., None]


_OPS = {"color": _color, "translation": _translation, "cutout": _cutout}


def diff_augment(
    images: tf.Tensor, policy: str | Sequence[str] | None = "color,translation,cutout", seed=None
) -> tf.Tensor:
    """Applies the DiffAugment `policy` to a batch, differentiably, with stateless randomness.

    Args:
      images: `[batch, height, width, channels]` floats in [-1, 1] (any float dtype).
      policy: comma-separated names among `POLICIES`, applied in the order given; None, `""` or
        `"none"` returns `images` unchanged.
      seed: int32 or int64 `[2]` stateless seed (a tensor inside `tf.function`); required when
        the policy is not empty.

    Returns:
      The augmented images, same shape and dtype; each image gets its own random parameters.

    Raises:
      ValueError: an unknown policy name, a missing seed, or images that are not 4-D.

    Example:
      >>> images = tf.zeros([4, 32, 32, 3])
      >>> diff_augment(images, "translation,cutout", seed=tf.constant([1, 2])).shape
      TensorShape([4, 32, 32, 3])
    """
    names = parse_policy(policy)
    if not names:
        return images
    if seed is None:
        raise ValueError("diff_augment needs a [2] stateless seed for a non-empty policy.")
    images = tf.convert_to_tensor(images)
    if images.shape.rank != 4:
        raise ValueError(
            f"images must be 4-D [batch, height, width, channels], got {images.shape}."
        )
    # int32 and int64 seeds of the same values give the same augmentation.
    seed = tf.cast(tf.convert_to_tensor(seed), tf.int64)
    seeds = tf.random.experimental.stateless_split(seed, len(names))
    for index, name in enumerate(names):
        images = _OPS[name](images, seeds[index])
    return images
