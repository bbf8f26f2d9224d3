"""ADA's augmentation pipeline: each transform against NumPy, p = 0 is the identity, p = 1 changes
every image, the rates follow p, and gradients pass through."""

import numpy as np
import pytest
import tensorflow as tf

from ylg_tf.training.ada import ada_augment, color, geometric

RNG = np.random.default_rng(0)
IMAGES = RNG.uniform(-1, 1, (6, 8, 8, 3)).astype(np.float32)


def _reflect(image, dy, dx):
    """NumPy: output (i, j) = input (i - dy, j - dx), reflected at the borders (edge once)."""
    size = image.shape[0]
    padded = np.pad(image, ((size, size), (size, size), (0, 0)), mode="reflect")
    return padded[size - dy : 2 * size - dy, size - dx : 2 * size - dx]


def test_geometric_transforms_against_numpy():
    flip = np.array([False, True, False, True, False, True])
    turns = np.array([0, 0, 1, 2, 3, 1])
    rows = np.array([0, 1, -2, 0, 3, -1])
    cols = np.array([0, 0, 1, -3, 2, 2])
    out = geometric(tf.constant(IMAGES), flip, turns, rows, cols).numpy()
    for b in range(len(IMAGES)):
        expected = IMAGES[b][:, ::-1] if flip[b] else IMAGES[b]
        expected = np.rot90(expected, turns[b], axes=(0, 1))  # counter-clockwise
        np.testing.assert_array_equal(out[b], _reflect(expected, rows[b], cols[b]), err_msg=b)


def test_color_against_numpy_float64():
    brightness = np.array([0.0, 0.1, -0.2, 0.0, 0.3, -0.1], np.float32)
    contrast = np.array([1.0, 0.5, 2.0, 1.5, 1.0, 0.8], np.float32)
    saturation = np.array([1.0, 2.0, 0.5, 1.0, 0.0, 1.3], np.float32)
    out = color(tf.constant(IMAGES), brightness, contrast, saturation).numpy()
    x = IMAGES.astype(np.float64) + brightness[:, None, None, None]
    x = x * contrast[:, None, None, None]
    grey = x.mean(axis=3, keepdims=True)
    expected = grey + (x - grey) * saturation[:, None, None, None]
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    assert np.ptp(out[4], axis=2).max() < 1e-6  # saturation 0: grey


def test_p_zero_is_the_identity_and_p_one_changes_every_image():
    images = tf.constant(RNG.uniform(-1, 1, (64, 8, 8, 3)).astype(np.float32))
    np.testing.assert_array_equal(ada_augment(images, 0.0, [1, 2]), images)
    changed = ada_augment(images, 1.0, [1, 2]).numpy() != images.numpy()
    assert changed.reshape(64, -1).any(axis=1).all()


def test_transforms_are_applied_at_rate_p():
    """p = 0.5 over 4000 one-channel 4x4 images with a marked corner (a shift there rounds to 0,
    and the colour transforms keep the largest pixel): mirrored with probability p / 2 and
    turned by k with 1 - p + p / 4 (k = 0) or p / 4, the corner lands at (0, 0) with 1/2, at
    (0, 3) with 1/4 and at (3, 0), (3, 3) with 1/8 each (hand-worked). Constant images show the
    brightness: shifted in a fraction p of them."""
    batch = 4000
    marked = np.zeros((batch, 4, 4, 1), np.float32)
    marked[:, 0, 0] = 1.0
    out = ada_augment(tf.constant(marked), 0.5, [3, 4]).numpy()[..., 0]
    corners = [np.unravel_index(np.argmax(image), image.shape) for image in out]
    for corner, expected in (((0, 0), 1 / 2), ((0, 3), 1 / 4), ((3, 0), 1 / 8), ((3, 3), 1 / 8)):
        rate = sum(tuple(int(i) for i in c) == corner for c in corners) / batch
        assert rate == pytest.approx(expected, abs=0.03), corner
    flat = ada_augment(tf.zeros([batch, 4, 4, 3]), 0.5, [3, 5]).numpy()
    assert np.mean(np.abs(flat).max(axis=(1, 2, 3)) > 0) == pytest.approx(0.5, abs=0.03)


def test_same_seed_same_images_and_gradients_pass_through():
    images = tf.constant(IMAGES)
    first = ada_augment(images, 0.7, [5, 6])
    np.testing.assert_array_equal(first, ada_augment(images, 0.7, [5, 6]))
    assert not np.array_equal(first, ada_augment(images, 0.7, [5, 7]))
    with tf.GradientTape() as tape:
        tape.watch(images)
        loss = tf.reduce_sum(ada_augment(images, 1.0, [5, 6]) ** 2)
    gradient = tape.gradient(loss, images)
    assert gradient is not None and np.abs(gradient.numpy()).sum() > 0


def test_non_square_images_are_refused():
    with pytest.raises(ValueError, match="square"):
        ada_augment(tf.zeros([2, 8, 4, 3]), 0.5, [1, 2])
