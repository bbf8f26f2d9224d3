"""Truncated latents against SciPy's truncated normal, and the sample grids of a run."""

import numpy as np
import pytest
import scipy.stats
import tensorflow as tf

from ylg_tf.sampling import (
    parse_truncations,
    sample_grid_images,
    sample_run,
    truncated_normal,
    truncation_label,
)


@pytest.mark.parametrize("threshold", [0.5, 1.0, 2.0])
def test_truncated_normal_follows_scipy_truncnorm(threshold):
    z = truncated_normal((200, 100), threshold, seed=7).numpy()
    assert z.dtype == np.float32 and z.shape == (200, 100)
    assert np.abs(z).max() <= threshold
    reference = scipy.stats.truncnorm(-threshold, threshold)
    assert scipy.stats.kstest(z.ravel(), reference.cdf).pvalue > 1e-3
    assert z.var() == pytest.approx(reference.var(), rel=0.03)


def test_truncation_resamples_only_what_it_rejects():
    plain = truncated_normal((64, 32), None, seed=3).numpy()
    np.testing.assert_array_equal(plain, tf.random.stateless_normal((64, 32), [3, 0]).numpy())
    truncated = truncated_normal((64, 32), 1.0, seed=3).numpy()
    kept = np.abs(plain) <= 1.0
    np.testing.assert_array_equal(truncated[kept], plain[kept])
    assert not np.array_equal(truncated[~kept], plain[~kept])
    np.testing.assert_array_equal(truncated, truncated_normal((64, 32), 1.0, seed=3).numpy())


def test_truncated_normal_in_a_graph_with_a_tensor_threshold():
    @tf.function(input_signature=[tf.TensorSpec([], tf.float32), tf.TensorSpec([], tf.int64)])
    def draw(threshold, seed):
        return truncated_normal(tf.stack([8, 16]), threshold, seed=seed)

    np.testing.assert_array_equal(
        draw(tf.constant(0.7), tf.constant(5, tf.int64)), truncated_normal((8, 16), 0.7, seed=5)
    )
    # In graphs a threshold <= 0 means untruncated (the exported `sample` signature's convention).
    np.testing.assert_array_equal(
        draw(tf.constant(0.0), tf.constant(5, tf.int64)), truncated_normal((8, 16), None, seed=5)
    )


def test_truncation_arguments_are_checked():
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="threshold"):
            truncated_normal((2, 2), bad)
    assert parse_truncations("0.5, 1,none") == [0.5, 1.0, None]
    assert parse_truncations(["2", None]) == [2.0, None]
    with pytest.raises(ValueError, match="'-1'"):
        parse_truncations("0.5,-1")
    with pytest.raises(ValueError, match="'x'"):
        parse_truncations("x")
    assert [truncation_label(t) for t in (0.5, 2.0, None)] == ["0.5", "2", "none"]


def test_grid_columns_share_latents():
    seen = []

    def generator(inputs, training=False):
        z, labels = inputs
        seen.append((np.asarray(z), np.asarray(labels)))
        images = tf.reshape(tf.tile(z[:, :3], [1, 16]), [-1, 4, 4, 3])
        return images + tf.cast(labels, tf.float32)[:, None, None, None]

    images = sample_grid_images(generator, [2, 5], [0.5, None], per_class=3, seed=1, z_dim=6)
    assert images.shape == (2, 2, 3, 4, 4, 3)  # truncations, classes, per class, H, W, C
    z_truncated, labels = seen[0]
    assert labels.tolist() == [2, 2, 2, 5, 5, 5]
    np.testing.assert_array_equal(z_truncated[:3], z_truncated[3:])  # same z for every class
    assert np.abs(z_truncated).max() <= 0.5
    z_plain = seen[1][0][:3]
    kept = np.abs(z_plain) <= 0.5
    np.testing.assert_array_equal(z_truncated[:3][kept], z_plain[kept])


def test_sample_run_writes_class_and_truncation_grids(tiny_run):
    written = sample_run(tiny_run, "0.5,none", classes=[0, 3], per_class=4)
    names = sorted(path.name for path in written)
    assert names == [
        "step_0000002_class_0.png",
        "step_0000002_class_3.png",
        "step_0000002_truncation_0.5.png",
        "step_0000002_truncation_none.png",
    ]
    grid = tf.io.decode_png(tf.io.read_file(str(tiny_run / "samples" / names[0])))
    assert grid.shape == (2 * 65 - 1, 4 * 65 - 1, 3)  # 2 thresholds x 4 samples of 64px
    with pytest.raises(ValueError, match="classes \\[10\\]"):
        sample_run(tiny_run, "1.0", classes=[10])
