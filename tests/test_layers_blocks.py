"""Tests of `ConditionalBatchNorm` and the residual blocks (spectral norm: its own test file)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from absl.testing import parameterized
from distribute_util import two_cpu_strategy
from keras_test_case import TestCase, perturb_weights, to_numpy

from ylg_tf.layers import (
    ConditionalBatchNorm,
    ResidualBlockDown,
    ResidualBlockUp,
    SpectralNormalization,
)

EPSILON = 1e-5


def _inputs(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def _labels(*values):
    return np.array(values, dtype="int32")


# ---- NumPy references (float64) ----


def np_cbn(x, labels, gain, bias, mean=None, var=None, epsilon=EPSILON):
    """Conditional BN; batch statistics over all but the last axis unless `mean`/`var` given."""
    axes = tuple(range(x.ndim - 1))
    mean = x.mean(axis=axes) if mean is None else mean
    var = x.var(axis=axes) if var is None else var
    shape = (len(labels),) + (1,) * (x.ndim - 2) + (x.shape[-1],)
    normalized = (x - mean) / np.sqrt(var + epsilon)
    return normalized * (1.0 + gain[labels].reshape(shape)) + bias[labels].reshape(shape)


def np_conv_same(x, sn_layer):
    """'same' convolution with stride 1, with a Conv2D's kernel and bias; for an SN-wrapped one
    the normalized kernel W / sigma(W, u) that a call from the current u computes with."""
    conv = getattr(sn_layer, "layer", sn_layer)
    kernel = sn_layer.normalized_kernel() if conv is not sn_layer else conv.kernel
    kernel = to_numpy(kernel).astype("float64")
    kh, kw = kernel.shape[:2]
    _, h, w, _ = x.shape
    padded = np.pad(x, ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
    out = sum(
        padded[:, i : i + h, j : j + w, :] @ kernel[i, j] for i in range(kh) for j in range(kw)
    )
    if conv.use_bias:
        out = out + to_numpy(conv.bias).astype("float64")
    return out


def np_avg_pool(x):
    b, h, w, c = x.shape
    return x.reshape(b, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))


def np_upsample(x):
    return x.repeat(2, axis=1).repeat(2, axis=2)


def np_relu(x):
    return np.maximum(x, 0.0)


def _embeddings(cbn):
    return (
        to_numpy(cbn.gain.embeddings).astype("float64"),
        to_numpy(cbn.bias.embeddings).astype("float64"),
    )


def _set_random_embeddings(cbn, seed=1):
    rng = np.random.default_rng(seed)
    for table in (cbn.gain.embeddings, cbn.bias.embeddings):
        table.assign(rng.normal(scale=0.5, size=table.shape).astype("float32"))


class ConditionalBatchNormTest(TestCase):
    def test_training_matches_numpy_and_updates_moving_statistics(self):
        x, labels = _inputs((4, 3, 3, 5)), _labels(0, 2, 1, 2)
        cbn = ConditionalBatchNorm(num_classes=3, momentum=0.9)
        cbn.build(x.shape, labels.shape)
        _set_random_embeddings(cbn)
        outputs = cbn(x, labels, training=True)
        gain, bias = _embeddings(cbn)
        x64 = x.astype("float64")
        self.assertAllClose(outputs, np_cbn(x64, labels, gain, bias), atol=1e-5, rtol=1e-5)
        mean, var = x64.mean(axis=(0, 1, 2)), x64.var(axis=(0, 1, 2))
        moving_mean = to_numpy(cbn.batch_norm.moving_mean)
        moving_var = to_numpy(cbn.batch_norm.moving_variance)
        self.assertAllClose(moving_mean, 0.1 * mean, atol=1e-6, rtol=1e-5)
        self.assertAllClose(moving_var, 0.9 + 0.1 * var, atol=1e-6, rtol=1e-5)
        # Inference uses the moving statistics.
        expected = np_cbn(x64, labels, gain, bias, mean=moving_mean, var=moving_var)
        self.assertAllClose(cbn(x, labels, training=False), expected, atol=1e-5, rtol=1e-5)

    def test_fresh_layer_is_plain_batch_norm(self):
        x, labels = _inputs((4, 2, 2, 3)), _labels(0, 1, 0, 1)
        outputs = ConditionalBatchNorm(num_classes=2)(x, labels, training=True)
        zeros = np.zeros((2, 3))
        self.assertAllClose(outputs, np_cbn(x.astype("float64"), labels, zeros, zeros), atol=1e-5)

    def test_labels_select_gain_and_bias(self):
        x = np.repeat(_inputs((1, 3, 3, 4)), 2, axis=0)  # two identical images
        cbn = ConditionalBatchNorm(num_classes=3)
        cbn.build(x.shape, (2,))
        _set_random_embeddings(cbn)
        same = to_numpy(cbn(x, _labels(1, 1), training=True))
        different = to_numpy(cbn(x, _labels(0, 2), training=True))
        self.assertAllClose(same[0], same[1], atol=0, rtol=0)
        self.assertGreater(np.abs(different[0] - different[1]).max(), 1e-2)

    def test_rank_2_features(self):
        x, labels = _inputs((6, 4)), _labels(0, 1, 2, 0, 1, 2)
        cbn = ConditionalBatchNorm(num_classes=3)
        cbn.build(x.shape, labels.shape)
        _set_random_embeddings(cbn)
        gain, bias = _embeddings(cbn)
        expected = np_cbn(x.astype("float64"), labels, gain, bias)
        self.assertAllClose(cbn(x, labels, training=True), expected, atol=1e-5, rtol=1e-5)

    @parameterized.named_parameters(("synchronized", True), ("per_replica", False))
    def test_mirrored_strategy_statistics(self, synchronized):
        # conftest.py splits the CPU in two logical devices: two replicas of two examples each.
        strategy = two_cpu_strategy()
        x, labels = _inputs((4, 3, 3, 2)), _labels(0, 1, 2, 1)
        with strategy.scope():
            cbn = ConditionalBatchNorm(num_classes=3, synchronized=synchronized)
            cbn.build(x.shape, labels.shape)
        _set_random_embeddings(cbn)

        def replica_slice(context):
            start = 2 * context.replica_id_in_sync_group
            return x[start : start + 2], labels[start : start + 2]

        per_replica = strategy.experimental_distribute_values_from_function(replica_slice)

        @tf.function
        def step(inputs):
            return strategy.run(lambda xs, ys: cbn(xs, ys, training=True), args=inputs)

        outputs = np.concatenate(
            [to_numpy(t) for t in strategy.experimental_local_results(step(per_replica))]
        )
        gain, bias = _embeddings(cbn)
        x64 = x.astype("float64")
        if synchronized:  # statistics of the global batch
            expected = np_cbn(x64, labels, gain, bias)
        else:  # each replica normalizes its own half
            expected = np.concatenate(
                [np_cbn(x64[i : i + 2], labels[i : i + 2], gain, bias) for i in (0, 2)]
            )
        self.assertAllClose(outputs, expected, atol=1e-5, rtol=1e-5)

    def test_layer_basics(self):
        self.run_layer_test(
            ConditionalBatchNorm,
            dict(num_classes=3),
            {"x": _inputs((4, 2, 2, 3)), "labels": _labels(0, 1, 2, 0)},
            expected_output_shape=(4, 2, 2, 3),
            expected_num_trainable_weights=2,
            expected_num_non_trainable_weights=2,
        )

    def test_saving(self):
        self.run_model_saving_test(
            ConditionalBatchNorm,
            dict(num_classes=3, momentum=0.9, epsilon=1e-3),
            {"x": _inputs((4, 2, 2, 3)), "labels": _labels(0, 1, 2, 0)},
        )

    @parameterized.named_parameters(
        ("num_classes", dict(num_classes=0), "num_classes=0"),
        ("num_classes_float", dict(num_classes=2.5), "num_classes=2.5"),
        ("momentum", dict(num_classes=2, momentum=1.5), "momentum=1.5"),
        ("epsilon", dict(num_classes=2, epsilon=0.0), "epsilon=0.0"),
        ("synchronized", dict(num_classes=2, synchronized="yes"), "'yes'"),
    )
    def test_invalid_arguments(self, kwargs, named):
        with self.assertRaisesRegex(ValueError, named):
            ConditionalBatchNorm(**kwargs)

    def test_labels_must_be_a_vector(self):
        with self.assertRaisesRegex(ValueError, r"labels shape \(4, 1\)"):
            ConditionalBatchNorm(num_classes=2).build((4, 2, 2, 3), (4, 1))


class ResidualBlockUpTest(TestCase):
    @parameterized.named_parameters(
        ("upsample", dict(filters=4), (3, 8, 8, 4)),
        ("no_spectral_norm", dict(filters=4, spectral_norm=False), (3, 8, 8, 4)),
        ("same_resolution_projection", dict(filters=4, upsample=False), (3, 4, 4, 4)),
        ("identity_shortcut", dict(filters=6, upsample=False), (3, 4, 4, 6)),
    )
    def test_matches_numpy_reference(self, kwargs, output_shape):
        x, labels = _inputs((3, 4, 4, 6)), _labels(0, 1, 1)
        block = ResidualBlockUp(num_classes=2, **kwargs)
        block.build(x.shape, labels.shape)
        for cbn in (block.norm_1, block.norm_2):
            _set_random_embeddings(cbn)
        perturb_weights(block)
        # The reference reads the normalized kernels before the training call advances u.
        resample = np_upsample if kwargs.get("upsample", True) else lambda t: t
        h = np_relu(np_cbn(x.astype("float64"), labels, *_embeddings(block.norm_1)))
        h = np_conv_same(resample(h), block.conv_1)
        h = np_relu(np_cbn(h, labels, *_embeddings(block.norm_2)))
        h = np_conv_same(h, block.conv_2)
        shortcut = resample(x.astype("float64"))
        if output_shape[-1] == 6:
            self.assertFalse(hasattr(block, "shortcut_conv"))
        else:
            shortcut = np_conv_same(shortcut, block.shortcut_conv)
        outputs = block(x, labels, training=True)
        self.assertEqual(output_shape, tuple(outputs.shape))
        self.assertAllClose(outputs, h + shortcut, atol=1e-5, rtol=1e-4)
        sn_wrapped = isinstance(block.conv_1, SpectralNormalization)
        self.assertEqual(kwargs.get("spectral_norm", True), sn_wrapped)

    def test_layer_basics(self):
        self.run_layer_test(
            ResidualBlockUp,
            dict(filters=4, num_classes=3),
            {"x": _inputs((2, 4, 4, 8)), "labels": _labels(2, 0)},
            expected_output_shape=(2, 8, 8, 4),
            expected_num_trainable_weights=10,  # 3 SN convs (kernel, bias) + 2 x 2 embeddings
            expected_num_non_trainable_weights=7,  # 3 SN vectors + 2 x 2 moving statistics
        )

    def test_layer_basics_same_resolution_without_spectral_norm(self):
        self.run_layer_test(
            ResidualBlockUp,
            dict(filters=8, num_classes=3, upsample=False, spectral_norm=False),
            {"x": _inputs((2, 4, 4, 8)), "labels": _labels(2, 0)},
            expected_output_shape=(2, 4, 4, 8),
            expected_num_trainable_weights=8,  # 2 convs (kernel, bias) + 2 x 2 embeddings
            expected_num_non_trainable_weights=4,  # 2 x 2 moving statistics, no SN vectors
        )

    def test_saving(self):
        self.run_model_saving_test(
            ResidualBlockUp,
            dict(filters=4, num_classes=3, momentum=0.9),
            {"x": _inputs((2, 4, 4, 8)), "labels": _labels(2, 0)},
        )

    @parameterized.named_parameters(
        ("filters", dict(filters=0, num_classes=2), "filters=0"),
        ("num_classes", dict(filters=4, num_classes=-1), "num_classes=-1"),
        ("momentum", dict(filters=4, num_classes=2, momentum=-0.1), "momentum=-0.1"),
        ("synchronized", dict(filters=4, num_classes=2, synchronized=None), "None"),
        ("upsample", dict(filters=4, num_classes=2, upsample=0), "upsample=0"),
        ("spectral_norm", dict(filters=4, num_classes=2, spectral_norm="no"), "'no'"),
    )
    def test_invalid_arguments(self, kwargs, named):
        with self.assertRaisesRegex(ValueError, named):
            ResidualBlockUp(**kwargs)


class ResidualBlockDownTest(TestCase):
    @parameterized.named_parameters(
        ("optimized_first_block", dict(filters=4, preactivation=False), (2, 4, 4, 3)),
        ("downsample", dict(filters=4), (2, 4, 4, 3)),
        ("same_resolution_projection", dict(filters=4, downsample=False), (2, 4, 4, 3)),
        ("identity_shortcut", dict(filters=3, downsample=False), (2, 4, 4, 3)),
    )
    def test_matches_numpy_reference(self, kwargs, shape):
        x = _inputs(shape)
        block = ResidualBlockDown(**kwargs)
        block.build(x.shape)
        perturb_weights(block)
        outputs = block(x, training=False)
        x64 = x.astype("float64")
        h = np_relu(x64) if block.preactivation else x64
        h = np_conv_same(np_relu(np_conv_same(h, block.conv_1)), block.conv_2)
        shortcut = x64
        if not block.preactivation:
            shortcut = np_conv_same(np_avg_pool(shortcut), block.shortcut_conv)
        elif kwargs.get("downsample", True) or shape[-1] != kwargs["filters"]:
            shortcut = np_conv_same(shortcut, block.shortcut_conv)
            if block.downsample:
                shortcut = np_avg_pool(shortcut)
        else:
            self.assertFalse(hasattr(block, "shortcut_conv"))
        expected = (np_avg_pool(h) if block.downsample else h) + shortcut
        self.assertAllClose(outputs, expected, atol=1e-5, rtol=1e-5)

    @parameterized.named_parameters(
        ("optimized", dict(filters=4, preactivation=False), (2, 4, 4, 4), 6),
        ("identity_shortcut", dict(filters=8, downsample=False), (2, 4, 4, 8), 4),
    )
    def test_layer_basics(self, kwargs, output_shape, num_trainable):
        self.run_layer_test(
            ResidualBlockDown,
            kwargs,
            _inputs((2, 8, 8, 8) if kwargs.get("downsample", True) else (2, 4, 4, 8)),
            expected_output_shape=output_shape,
            expected_num_trainable_weights=num_trainable,
        )

    @parameterized.named_parameters(
        ("spectral_norm", dict(filters=4)), ("plain", dict(filters=4, spectral_norm=False))
    )
    def test_saving(self, kwargs):
        self.run_model_saving_test(ResidualBlockDown, kwargs, _inputs((2, 4, 4, 3)))

    @parameterized.named_parameters(
        ("filters", dict(filters=2.5), "filters=2.5"),
        ("downsample", dict(filters=4, downsample="no"), "downsample='no'"),
        ("preactivation", dict(filters=4, preactivation=1), "preactivation=1"),
        ("spectral_norm", dict(filters=4, spectral_norm=None), "spectral_norm=None"),
    )
    def test_invalid_arguments(self, kwargs, named):
        with self.assertRaisesRegex(ValueError, named):
            ResidualBlockDown(**kwargs)

    def test_odd_input_with_downsample(self):
        with self.assertRaisesRegex(ValueError, "height=5"):
            ResidualBlockDown(filters=4).build((1, 5, 4, 3))
