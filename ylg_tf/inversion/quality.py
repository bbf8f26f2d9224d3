"""How close an inversion is: pixel PSNR / SSIM and the D0 feature distance, per image."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

__all__ = ["d0_distance", "psnr", "ssim"]


def psnr(images, targets) -> np.ndarray:
    """PSNR in dB per image of `[B, H, W, C]` images in [-1, 1] (`tf.image.psnr`, range 2)."""
    return tf.image.psnr(_unit(images), _unit(targets), max_val=1.0).numpy()


def ssim(images, targets) -> np.ndarray:
    """SSIM per image (`tf.image.ssim`: Wang et al. 2004, 11x11 Gaussian window, sigma 1.5,
    K1 = 0.01, K2 = 0.03) on images mapped to [0, 1]; colour channels are averaged."""
    return tf.image.ssim(_unit(images), _unit(targets), max_val=1.0).numpy()


def d0_distance(discriminator, images, targets) -> np.ndarray:
    """Mean squared difference of D0 features per image (the `"d_space"` loss)."""
    a = discriminator.d0(tf.convert_to_tensor(images, tf.float32), training=False)
    b = discriminator.d0(tf.convert_to_tensor(targets, tf.float32), training=False)
    return tf.reduce_mean(tf.square(a - b), axis=[1, 2, 3]).numpy()


def _unit(images) -> tf.Tensor:
    return (tf.clip_by_value(tf.convert_to_tensor(images, tf.float32), -1.0, 1.0) + 1.0) / 2.0
