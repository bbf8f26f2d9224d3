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

`AdaptiveAugmentation` holds p and tunes it during training (the paper's adaptive part): the
train step adds up sign(D(x)) over the real images D sees; every `ada_interval` steps
r_t = E[sign(D(real))] of that interval moves p by sign(r_t - target) * batch * interval /
`ada_speed_images`, clipped to [0, 1]. D overfitting the real images pushes r_t towards 1.
"""

from __future__ import annotations

import math

import tensorflow as tf

__all__ = ["AdaptiveAugmentation", "ada_augment", "adjusted_probability", "color", "geometric"]

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


def adjusted_probability(p, r, target, batch_size: int, interval: int, speed_images: int):
    """p after one adjustment: moved by sign(r - target) * batch * interval / speed_images
    towards more augmentation when D overfits (r above target), clipped to [0, 1]."""
    step = batch_size * interval / speed_images
    return tf.clip_by_value(p + tf.sign(r - target) * step, 0.0, 1.0)


class AdaptiveAugmentation(tf.Module):
    """The state of ADA in a run: p, and sign(D(real)) summed over the current interval.

    Its variables (`p`; `signs` and `count`, the interval's sum and number of real images;
    `r`, the last interval's r_t) are part of the run's checkpoint, so a resumed run continues
    with the same p and the same half-finished interval. Create it under the strategy's scope;
    `update` runs in the step's cross-replica context.
    """

    def __init__(self, train) -> None:
        super().__init__(name="ada")
        self.target, self.interval = float(train.ada_target), int(train.ada_interval)
        self.batch_size, self.speed_images = int(train.batch_size), int(train.ada_speed_images)
        self.p, self.signs, self.count, self.r = (
            tf.Variable(0.0, trainable=False, name=name) for name in ("p", "signs", "count", "r")
        )

    def update(self, signs, count, step) -> None:
        """Adds one step's sum of sign(D(real)) over `count` real images; after the step that
        ends an interval (`step`, the steps taken, a multiple of `interval`), adjusts p."""
        total, images = self.signs + signs, self.count + count
        done = tf.equal(tf.math.floormod(step, self.interval), 0)
        r = total / tf.maximum(images, 1.0)
        adjusted = adjusted_probability(
            self.p, r, self.target, self.batch_size, self.interval, self.speed_images
        )
        self.p.assign(tf.where(done, adjusted, self.p))
        self.r.assign(tf.where(done, r, self.r))
        self.signs.assign(tf.where(done, 0.0, total))
        self.count.assign(tf.where(done, 0.0, images))
