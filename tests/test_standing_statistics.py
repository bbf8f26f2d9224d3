"""Standing batch-norm statistics: a float64 NumPy reference on a two-BN model; the generator."""

import keras
import numpy as np
import pytest

from ylg_tf.models import Generator
from ylg_tf.training.standing_statistics import standing_statistics


class _TwoNorms(keras.Model):
    """z -> Dense -> BN -> Dense -> BN, taking `(z, labels)` like a generator (labels unused)."""

    def __init__(self):
        super().__init__()
        self.dense_1 = keras.layers.Dense(5, kernel_initializer="glorot_normal")
        self.norm_1 = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-3)
        self.dense_2 = keras.layers.Dense(3, kernel_initializer="glorot_normal")
        self.norm_2 = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-3)

    def call(self, inputs, training=None):
        z, _ = inputs
        h = self.norm_1(self.dense_1(z), training=training)
        return self.norm_2(self.dense_2(h), training=training)


def _reference(model, batches, batch_size, z_dim, seed):
    """The average over batches of each BN's batch mean and (biased) variance, in float64."""
    w1, b1 = (np.asarray(v, np.float64) for v in model.dense_1.weights)
    w2, b2 = (np.asarray(v, np.float64) for v in model.dense_2.weights)
    gamma, beta = (np.asarray(v, np.float64) for v in model.norm_1.weights[:2])
    rng = np.random.default_rng(seed)
    stats = {"m1": [], "v1": [], "m2": [], "v2": []}
    for _ in range(batches):
        z = rng.standard_normal((batch_size, z_dim)).astype(np.float32).astype(np.float64)
        rng.integers(0, 1, batch_size)  # the labels drawn in between
        h1 = z @ w1 + b1
        m1, v1 = h1.mean(0), h1.var(0)
        h2 = ((h1 - m1) / np.sqrt(v1 + 1e-3) * gamma + beta) @ w2 + b2
        for key, value in zip(
            ("m1", "v1", "m2", "v2"), (m1, v1, h2.mean(0), h2.var(0)), strict=True
        ):
            stats[key].append(value)
    return {key: np.mean(values, axis=0) for key, values in stats.items()}


def test_moving_statistics_are_the_average_of_batch_statistics():
    model = _TwoNorms()
    model((np.zeros((2, 4), "float32"), np.zeros((2,), "int32")))
    assert standing_statistics(model, 1, 4, batches=5, batch_size=7, seed=3) == 2
    expected = _reference(model, 5, 7, 4, seed=3)
    np.testing.assert_allclose(model.norm_1.moving_mean, expected["m1"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.norm_1.moving_variance, expected["v1"], rtol=1e-4)
    np.testing.assert_allclose(model.norm_2.moving_mean, expected["m2"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(model.norm_2.moving_variance, expected["v2"], rtol=1e-4)
    assert model.norm_1.momentum == 0.9 and model.norm_2.momentum == 0.9  # restored


def test_generator_gets_its_own_statistics_deterministically():
    def generator():
        keras.utils.set_random_seed(1)
        g = Generator(resolution=32, num_classes=3, z_dim=8, base_channels=8, variant="sagan")
        g((np.zeros((2, 8), "float32"), np.zeros((2,), "int32")))
        return g

    first, second = generator(), generator()
    moving = [w for w in first.weights if "moving_mean" in w.path]
    assert len(moving) >= 4  # conditional BNs of every block and the output BN
    before = [np.asarray(w).copy() for w in moving]
    count = standing_statistics(first, 3, 8, batches=3, batch_size=4, seed=5)
    assert count == len(moving)
    assert all(not np.allclose(b, np.asarray(w)) for b, w in zip(before, moving, strict=True))
    standing_statistics(second, 3, 8, batches=3, batch_size=4, seed=5)
    for a, b in zip(first.weights, second.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_rejects_empty_runs():
    with pytest.raises(ValueError, match="batches=0"):
        standing_statistics(_TwoNorms(), 1, 4, batches=0)
