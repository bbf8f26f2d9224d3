"""Image preprocessing shared by every source: one definition of the training image.

The papers train on the largest central square crop scaled to [-1, 1]; the project fixes images
as float32 NHWC with 3 channels. One definition keeps tfds datasets, image folders and the embedded
digits from drifting apart (FID compares real and generated images, so they must agree).
"""

from __future__ import annotations

import tensorflow as tf

__all__ = ["center_square_crop", "decode_image", "preprocess_image", "to_rgb"]


def center_square_crop(image: tf.Tensor) -> tf.Tensor:
    """Returns the largest square centred in a `[H, W, C]` image (side `min(H, W)`).

    When `H - W` is odd the extra row or column is dropped from the bottom / right, like
    `tf.image.crop_to_bounding_box` with offset `(H - side) // 2`.
    """
    shape = tf.shape(image)
    height, width = shape[0], shape[1]
    side = tf.minimum(height, width)
    top = (height - side) // 2
    left = (width - side) // 2
    return image[top : top + side, left : left + side, :]


def to_rgb(image: tf.Tensor) -> tf.Tensor:
    """Makes a `[H, W, C]` image 3-channel: gray (C=1) and gray+alpha (C=2) are replicated, alpha
    (C=2 or 4) is dropped. Works when C is only known at run time (decoded files)."""
    channels = image.shape[-1]
    if channels is not None:  # static: no graph branch needed
        if channels >= 3:
            return image[..., :3]
        return tf.repeat(image[..., :1], 3, axis=-1)
    rgb = tf.cond(
        tf.shape(image)[-1] >= 3,
        lambda: image[..., :3],
        lambda: tf.repeat(image[..., :1], 3, axis=-1),
    )
    return tf.ensure_shape(rgb, [None, None, 3])


def preprocess_image(image: tf.Tensor, resolution: int, max_value: float = 255.0) -> tf.Tensor:
    """Turns one image into a training image: RGB, central square crop, resize, scale to [-1, 1].

    Args:
      image: `[H, W, C]` tensor, C in 1..4, any real dtype, values in `[0, max_value]`.
      resolution: side of the output square.
      max_value: the value that maps to 1 (255 for uint8; 0 maps to -1).

    Returns:
      float32 `[resolution, resolution, 3]` in [-1, 1]. The resize is bilinear with antialiasing,
      so downsampling averages (no aliasing) and upsampling is plain bilinear (no overshoot).
    """
    if resolution < 1:
        raise ValueError(f"resolution must be a positive integer, got {resolution!r}")
    image = center_square_crop(to_rgb(image))
    image = tf.cast(image, tf.float32)
    image = tf.image.resize(image, [resolution, resolution], method="bilinear", antialias=True)
    image = image * (2.0 / max_value) - 1.0
    image = tf.clip_by_value(image, -1.0, 1.0)  # float rounding only; bilinear cannot overshoot
    return tf.ensure_shape(image, [resolution, resolution, 3])


def decode_image(encoded: tf.Tensor) -> tf.Tensor:
    """Decodes JPEG / PNG / GIF (first frame) / BMP / WebP bytes to a uint8 `[H, W, C]` tensor.

    Channels are left as stored (WebP refuses a channel count that differs from the file's);
    `to_rgb` fixes them afterwards. 16-bit PNGs are scaled to uint8.
    """
    image = tf.io.decode_image(encoded, channels=0, dtype=tf.uint8, expand_animations=False)
    return tf.ensure_shape(image, [None, None, None])
