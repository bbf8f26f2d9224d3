"""The augmentation pipeline of adaptive discriminator augmentation (ADA).

Karras et al. 2020 ("Training Generative Adversarial Networks with Limited Data") show D every
image, real or generated, through a pipeline in which each transform is applied to each image
with one probability p, which training tunes so that D does not overfit. Because each transform
is drawn from a distribution that contains the identity, G cannot learn the augmented images
instead of the real ones as long as p stays below about 0.8 (the paper's "non-leaking" condition).

Transforms, in the paper's order, each applied to an image with probability p:

- `xflip`: a left-right mirror with probability 1/2 (uniform over the identity and the mirror);
- `rotate90`: a rotation by k * 90 degrees, k uniform in {0, 1, 2, 3};
- `translate`: an integer shift by round(t * size) per axis, t ~ U(-1/8, 1/8), with the
  uncovered pixels filled by reflection (the paper's padding, so no flat border betrays it);
- `brightness`: b ~ N(0, 0.2) added;
- `contrast`: values scaled by c ~ lognormal(0, (0.5 ln 2)^2) about 0, the middle of [-1, 1];
- `saturation`: each pixel's deviation from its grey (the mean over channels) scaled by
  s ~ lognormal(0, (ln 2)^2).

These are what 32x32 digits support without resampling. Left out: the paper's scaling,
arbitrary rotation and fractional translation (they resample through a filter, and blur an
8-pixel-wide digit), and its luma flip and hue rotation (colour-matrix transforms whose effect
on the grey-on-black digits is a brightness inversion or nothing).

Every transform is differentiable in the images, so G's gradient passes through it. Randomness
comes only from the stateless `seed`, as in `ylg_tf.training.augment`.
"""

from __future__ import annotations

import math

import tensorflow as tf

__all__ = ["ada_augment", "color", "geometric"]

BRIGHTNESS_STD = 0.2
CONTRAST_LOG2_STD = 0.5
SATURATION_LOG2_STD = 1.0
TRANSLATION = 0.125


def geometric(images, flip, quarter_turns, shift_rows, shift_cols):
    """Images mirrored (`flip`, bool `[batch]`), then turned `quarter_turns` (int `[batch]`,
    counter-clockwise) and shifted by integer `shift_rows`, `shift_cols` (`[batch]`; output pixel
    (i, j) is input pixel (i - dy, j - dx), reflected at the borders). Square images."""
    images = tf.where(flip[:, None, None, None], tf.reverse(images, [2]), images)
    turned = tf.stack([tf.image.rot90(images, k) for k in range(4)], axis=1)  # [b, 4, h, w, c]
    images = tf.gather(turned, quarter_turns, axis=1, batch_dims=1)
    for axis, shift in ((1, shift_rows), (2, shift_cols)):
        size = tf.shape(images)[axis]
        period = 2 * (size - 1)
        source = tf.math.floormod(tf.range(size)[None, :] - shift[:, None], period)
        source = tf.where(source >= size, period - source, source)  # reflect, edge not repeated
        images = tf.gather(images, source, axis=axis, batch_dims=1)
    return images


def color(images, brightness, contrast, saturation):
    """`images + brightness`, times `contrast` (about 0), then each pixel's deviation from its
    channel mean times `saturation`; each parameter one value per image (`[batch]`)."""
    images = images + brightness[:, None, None, None]
    images = images * contrast[:, None, None, None]
    grey = tf.reduce_mean(images, axis=3, keepdims=True)
    saturation = saturation[:, None, None, None]
    return images * saturation + grey * (1 - saturation)  # exactly `images` at saturation 1


def ada_augment(images, p, seed):
    """Applies the pipeline with probability `p` per transform and image.

    Args:
      images: `[batch, size, size, channels]` floats in [-1, 1].
      p: the augmentation probability, a float (tensor) in [0, 1]; 0 returns the images as
        they are.
      seed: int `[2]` stateless seed; give every call its own (real and fake, D and G step).

    Returns:
      The augmented images, same shape and dtype.
    """
    images = tf.convert_to_tensor(images)
    if images.shape.rank != 4 or (images.shape[1] != images.shape[2]):
        raise ValueError(
            f"ada_augment needs square [batch, size, size, c] images, got {images.shape}."
        )
    seeds = tf.unstack(tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 14))
    batch = tf.shape(images)[:1]
    size = tf.cast(tf.shape(images)[1], tf.float32)
    p = tf.cast(p, tf.float32)

    def applied(index: int):
        return tf.random.stateless_uniform(batch, seeds[index]) < p

    def uniform(index: int, low: float, high: float):
        return tf.random.stateless_uniform(batch, seeds[index], low, high)

    def shift(index: int):
        steps = tf.cast(tf.round(uniform(index, -TRANSLATION, TRANSLATION) * size), tf.int32)
        return tf.where(applied(index + 1), steps, 0)

    flip = applied(0) & (uniform(1, 0.0, 1.0) < 0.5)
    turns = tf.where(
        applied(2), tf.random.stateless_uniform(batch, seeds[3], 0, 4, dtype=tf.int32), 0
    )
    images = geometric(images, flip, turns, shift(4), shift(6))

    def normal(index: int, std: float, neutral: float, transform=lambda x: x):
        value = transform(tf.random.stateless_normal(batch, seeds[index]) * std)
        return tf.cast(tf.where(applied(index + 1), value, neutral), images.dtype)

    return color(
        images,
        normal(8, BRIGHTNESS_STD, 0.0),
        normal(10, CONTRAST_LOG2_STD, 1.0, _power_of_two),
        normal(12, SATURATION_LOG2_STD, 1.0, _power_of_two),
    )


def _power_of_two(x):
    """2 ** x: a log2-normal draw from a normal one."""
    return tf.exp(x * math.log(2.0))
