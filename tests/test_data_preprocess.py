"""Preprocessing against hand-built images and an independent Pillow reference."""

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from ylg_tf.data import center_square_crop, preprocess_image, to_rgb


def _pillow_reference(image: np.ndarray, resolution: int) -> np.ndarray:
    """Central square crop in NumPy, then Pillow's bilinear resize per channel in float mode
    (Pillow widens its triangle filter when shrinking, i.e. it antialiases), scaled to [-1, 1]."""
    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    crop = image[top : top + side, left : left + side].astype(np.float32)
    channels = [
        np.asarray(
            Image.fromarray(crop[..., c], "F").resize((resolution, resolution), Image.BILINEAR)
        )
        for c in range(crop.shape[-1])
    ]
    return np.stack(channels, axis=-1) / 127.5 - 1.0


@pytest.mark.parametrize("shape", [(6, 10), (10, 6)])
def test_central_square_is_kept_and_sides_dropped(shape):
    height, width = shape
    image = np.zeros((height, width, 3), np.uint8)  # sides 0 -> -1
    side = min(shape)
    top, left = (height - side) // 2, (width - side) // 2
    image[top : top + side, left : left + side] = 255  # centre square 255 -> 1
    out = preprocess_image(tf.constant(image), 4).numpy()
    assert out.shape == (4, 4, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out, 1.0, atol=1e-6)

    inverted = preprocess_image(tf.constant(255 - image), 4).numpy()
    np.testing.assert_allclose(inverted, -1.0, atol=1e-6)


def test_odd_margin_drops_the_extra_column_on_the_right():
    image = np.arange(5 * 8, dtype=np.int32).reshape(5, 8, 1)
    crop = center_square_crop(tf.constant(image)).numpy()
    np.testing.assert_array_equal(crop, image[:, 1:6])


def test_uint8_extremes_map_to_minus_one_and_one():
    image = np.array([[[0, 255, 0]]], np.uint8)
    out = preprocess_image(tf.constant(image), 1).numpy()
    np.testing.assert_array_equal(out, [[[-1.0, 1.0, -1.0]]])


@pytest.mark.parametrize("resolution", [5, 16, 37, 64])  # shrink, identity, enlarge
def test_matches_pillow_bilinear_reference(resolution):
    image = np.random.default_rng(resolution).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    out = preprocess_image(tf.constant(image), resolution).numpy()
    np.testing.assert_allclose(out, _pillow_reference(image, resolution), atol=1e-4)
    assert -1.0 <= out.min() and out.max() <= 1.0


def test_max_value_sets_the_scale():
    image = np.full((3, 3, 1), 8, np.uint8)
    out = preprocess_image(tf.constant(image), 2, max_value=16.0).numpy()
    np.testing.assert_allclose(out, 0.0, atol=1e-6)


@pytest.mark.parametrize("dynamic", [False, True])
def test_channels_become_rgb(dynamic):
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, (4, 4, 1), dtype=np.uint8)
    gray_alpha = np.concatenate([gray, np.zeros_like(gray)], axis=-1)
    rgba = rng.integers(0, 256, (4, 4, 4), dtype=np.uint8)
    fn = to_rgb
    if dynamic:  # channels unknown until run time, as for decoded files
        fn = tf.function(to_rgb, input_signature=[tf.TensorSpec([None, None, None], tf.uint8)])
    np.testing.assert_array_equal(fn(tf.constant(gray)).numpy(), np.repeat(gray, 3, axis=-1))
    np.testing.assert_array_equal(fn(tf.constant(gray_alpha)).numpy(), np.repeat(gray, 3, axis=-1))
    np.testing.assert_array_equal(fn(tf.constant(rgba)).numpy(), rgba[..., :3])
    np.testing.assert_array_equal(fn(tf.constant(rgba[..., :3])).numpy(), rgba[..., :3])


def test_bad_resolution_is_rejected():
    with pytest.raises(ValueError, match="resolution"):
        preprocess_image(tf.zeros([4, 4, 3], tf.uint8), 0)
