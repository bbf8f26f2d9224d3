"""The constant-time truncated normal against the exact truncated normal (SciPy, closed form)."""

import numpy as np
import pytest
import scipy.stats
import tensorflow as tf

from ylg_tf.sampling.truncation import truncated_normal

THRESHOLDS = [0.05, 0.5, 2.0]


def _closed_form_variance(t: float) -> float:
    """Variance of N(0, 1) restricted to [-t, t]: 1 - 2 t phi(t) / (2 Phi(t) - 1)."""
    phi = np.exp(-(t**2) / 2) / np.sqrt(2 * np.pi)
    mass = 2 * scipy.stats.norm.cdf(t) - 1
    return 1 - 2 * t * phi / mass


@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_moments_match_the_truncated_normal(threshold):
    n = 200_000
    z = truncated_normal((n // 100, 100), threshold, seed=11).numpy().astype(np.float64)
    variance = _closed_form_variance(threshold)
    assert variance == pytest.approx(scipy.stats.truncnorm(-threshold, threshold).var())
    assert abs(z.mean()) < 5 * np.sqrt(variance / n)
    # The kurtosis of a truncated normal is at most 3, so the sample variance's standard error
    # is at most variance * sqrt(2 / n).
    assert z.var() == pytest.approx(variance, rel=5 * np.sqrt(2 / n))


@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_kolmogorov_smirnov_against_the_exact_cdf(threshold):
    z = truncated_normal((300, 100), threshold, seed=7).numpy()
    assert z.dtype == np.float32 and z.shape == (300, 100)
    assert np.abs(z).max() <= np.float32(threshold)
    exact = scipy.stats.truncnorm(-threshold, threshold)
    assert scipy.stats.kstest(z.ravel(), exact.cdf).pvalue > 1e-3
    # The check has power: at t = 2 a uniform on the same interval is told apart.
    if threshold == 2.0:
        uniform = scipy.stats.uniform(-threshold, 2 * threshold)
        assert scipy.stats.kstest(z.ravel(), uniform.cdf).pvalue < 1e-6


def test_tiny_threshold_completes_within_bounds():
    threshold = 1e-6
    z = truncated_normal((1000, 128), threshold, seed=3).numpy()
    assert np.abs(z).max() <= np.float32(threshold)
    # Nearly uniform on [-t, t]: standard deviation t / sqrt(3), and values are not all equal.
    assert z.std() == pytest.approx(threshold / np.sqrt(3), rel=0.02)


def test_same_seed_same_values_and_only_values_beyond_the_threshold_change():
    plain = truncated_normal((64, 32), None, seed=3).numpy()
    np.testing.assert_array_equal(plain, tf.random.stateless_normal((64, 32), [3, 0]).numpy())
    truncated = truncated_normal((64, 32), 1.0, seed=3).numpy()
    np.testing.assert_array_equal(truncated, truncated_normal((64, 32), 1.0, seed=3).numpy())
    np.testing.assert_array_equal(truncated, truncated_normal((64, 32), 1.0, seed=[3, 0]).numpy())
    kept = np.abs(plain) <= 1.0
    np.testing.assert_array_equal(truncated[kept], plain[kept])
    assert not np.any(truncated[~kept] == plain[~kept])
    other = truncated_normal((64, 32), 1.0, seed=4).numpy()
    assert not np.any(other == truncated)


def test_graph_with_tensor_threshold_matches_eager():
    @tf.function(input_signature=[tf.TensorSpec([], tf.float32), tf.TensorSpec([], tf.int64)])
    def draw(threshold, seed):
        return truncated_normal(tf.stack([8, 16]), threshold, seed=seed)

    seed = tf.constant(5, tf.int64)
    np.testing.assert_array_equal(
        draw(tf.constant(0.7), seed), truncated_normal((8, 16), 0.7, seed=5)
    )
    np.testing.assert_array_equal(draw(tf.constant(1e-6), seed), truncated_normal((8, 16), 1e-6, 5))
    # A tensor threshold of 0 means untruncated (the exported `sample` signature's "none").
    np.testing.assert_array_equal(draw(tf.constant(0.0), seed), truncated_normal((8, 16), None, 5))
    for bad in (-1.0, float("nan"), float("inf"), -float("inf")):
        with pytest.raises(tf.errors.InvalidArgumentError, match="finite and > 0"):
            draw(tf.constant(bad), seed)


def test_python_thresholds_must_be_finite_and_positive():
    for bad in (0.0, -1.0, float("nan"), float("inf"), True, "0.5"):
        with pytest.raises(ValueError, match="threshold"):
            truncated_normal((2, 2), bad)
    with pytest.raises(tf.errors.InvalidArgumentError, match="finite and > 0"):
        truncated_normal((2, 2), tf.constant(float("nan")))
    assert truncated_normal((2, 2), 2, seed=0).shape == (2, 2)
    assert truncated_normal((2, 2), np.float32(0.5), seed=0).shape == (2, 2)
