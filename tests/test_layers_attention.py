"""Tests of `SelfAttention2D` and `SparseAttention2D` against an independent NumPy computation."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from absl.testing import parameterized
from keras_test_case import TestCase, overflowing_attention_inputs, to_numpy

from ylg_tf.layers import SelfAttention2D, SparseAttention2D
from ylg_tf.layers._common import masked_softmax
from ylg_tf.masks import head_masks

# Query grid 8x8 -> key grid 4x4 (16 keys, ESA block size 4): the smallest grid on which the
# YLG patterns are non-trivial. 64 channels give 8 query/key and 32 value channels: 8 heads of
# width 1 and 4.
SHAPE = (2, 8, 8, 64)


def _inputs(shape=SHAPE, seed=0, scale=1.0):
    return (scale * np.random.default_rng(seed).normal(size=shape)).astype("float32")


def _build(layer, x, gamma=0.7):
    """Builds `layer` for `x` and gives gamma a nonzero value so the attention path counts."""
    layer.build(x.shape)
    layer.gamma.assign(gamma)
    return layer


def _kernel(sn_layer):
    """The 1x1 kernel `[C_in, C_out]` of an SN-wrapped convolution, as float64."""
    kernel = to_numpy(sn_layer.normalized_kernel()).astype("float64")
    return kernel.reshape(kernel.shape[-2], kernel.shape[-1])


def _max_pool_2x2(x):
    b, h, w, c = x.shape
    return x.reshape(b, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


def reference_attention(layer, x, masks, widths):
    """Masked multi-head SAGAN attention in float64, head by head, from the layer's weights.

    Args:
        layer: a built attention layer (its kernels and gamma are read).
        x: `[B, H, W, C]` inputs.
        masks: boolean `[heads, nq, nk]`, or None for no mask.
        widths: query/key channels of each head.

    Returns:
        `(outputs [B, H, W, C], probs [B, heads, nq, nk])`.
    """
    x = x.astype("float64")
    b, h, w, c = x.shape
    q = (x @ _kernel(layer.query_conv)).reshape(b, h * w, -1)
    k = _max_pool_2x2(x @ _kernel(layer.key_conv)).reshape(b, (h // 2) * (w // 2), -1)
    v = _max_pool_2x2(x @ _kernel(layer.value_conv)).reshape(b, (h // 2) * (w // 2), -1)
    heads = len(widths)
    v_width = v.shape[-1] // heads
    bounds = np.cumsum([0, *widths])
    outs, all_probs = [], []
    for head in range(heads):
        qh = q[..., bounds[head] : bounds[head + 1]]
        kh = k[..., bounds[head] : bounds[head + 1]]
        logits = np.einsum("bqd,bkd->bqk", qh, kh)
        allowed = np.ones(logits.shape[1:], bool) if masks is None else masks[head]
        logits = np.where(allowed, logits, -np.inf)
        row_max = np.max(logits, axis=-1, keepdims=True)
        row_max = np.where(np.isfinite(row_max), row_max, 0.0)
        e = np.exp(logits - row_max)
        total = e.sum(axis=-1, keepdims=True)
        probs = np.divide(e, total, out=np.zeros_like(e), where=total > 0)
        all_probs.append(probs)
        outs.append(probs @ v[..., head * v_width : (head + 1) * v_width])
    attended = np.concatenate(outs, axis=-1).reshape(b, h, w, -1)
    gamma = float(to_numpy(layer.gamma))
    return x + gamma * (attended @ _kernel(layer.output_conv)), np.stack(all_probs, axis=1)


class SparseAttention2DTest(TestCase):
    @parameterized.named_parameters(
        ("ylg", dict(layout="ylg"), [1] * 8),
        ("ylg_strided", dict(layout="ylg_strided"), [1] * 8),
        ("dense_sparse", dict(layout="dense_sparse"), [1] * 8),
        ("ylg_hilbert", dict(layout="ylg", curve="hilbert"), [1] * 8),
        ("dense_2_heads", dict(layout="dense", heads=2), [4, 4]),
        ("dense_key_widths", dict(layout="dense", heads=4, key_widths=[1, 1, 3, 3]), [1, 1, 3, 3]),
    )
    def test_matches_numpy_reference(self, kwargs, widths):
        x = _inputs()
        layer = _build(SparseAttention2D(**kwargs), x)
        masks = head_masks(
            kwargs["layout"], SHAPE[1:3], (4, 4), kwargs.get("curve", "manhattan"), len(widths)
        )
        expected, expected_probs = reference_attention(layer, x, masks, widths)
        outputs, probs = layer(x, return_attention_scores=True)
        self.assertAllClose(probs, expected_probs, atol=1e-6, rtol=1e-5)
        self.assertAllClose(outputs, expected, atol=1e-5, rtol=1e-5)
        # The attention path must matter, or the comparison above proves little.
        self.assertGreater(np.abs(expected - x).max(), 1e-2)

    def test_mixed_resolution_heads_at_paper_width(self):
        # The paper's mixed-resolution ablation: C // 8 = 32 split as [2, 2, 2, 2, 6, 6, 6, 6].
        widths = [2, 2, 2, 2, 6, 6, 6, 6]
        x = _inputs((1, 4, 4, 256))
        layer = _build(SparseAttention2D("dense", heads=8, key_widths=widths), x)
        expected, expected_probs = reference_attention(layer, x, None, widths)
        outputs, probs = layer(x, return_attention_scores=True)
        self.assertAllClose(probs, expected_probs, atol=1e-6, rtol=1e-5)
        self.assertAllClose(outputs, expected, atol=1e-5, rtol=1e-5)

    def test_masked_probabilities_are_exactly_zero_and_rows_sum_to_one(self):
        x = _inputs()
        layer = _build(SparseAttention2D("ylg"), x)
        _, probs = layer(x, return_attention_scores=True)
        probs = to_numpy(probs)
        masks = np.broadcast_to(head_masks("ylg", (8, 8), (4, 4)), probs.shape)
        self.assertFalse(np.all(masks), "the YLG masks must mask something")
        self.assertTrue(np.all(probs[~masks] == 0.0))
        self.assertTrue(np.all(probs[masks] > 0.0))  # moderate logits: nothing underflows
        self.assertAllClose(probs.sum(axis=-1), np.ones(probs.shape[:-1]), atol=1e-6)

    @parameterized.named_parameters(("float16", "mixed_float16"), ("bfloat16", "mixed_bfloat16"))
    def test_mixed_precision_no_nan_and_exact_zeros(self, policy):
        previous = keras.config.dtype_policy()
        keras.mixed_precision.set_global_policy(policy)
        try:
            # The scores are computed in float32, so logits beyond float16's range are fine.
            layer = _build(SparseAttention2D("ylg"), _inputs())
            x = overflowing_attention_inputs(layer, lambda scale: _inputs(scale=scale))
            outputs, probs = layer(x, training=False, return_attention_scores=True)
        finally:
            keras.mixed_precision.set_global_policy(previous)
        self.assertEqual(keras.backend.standardize_dtype(outputs.dtype), policy.split("_")[1])
        probs = to_numpy(probs).astype("float32")
        masks = np.broadcast_to(head_masks("ylg", (8, 8), (4, 4)), probs.shape)
        self.assertFalse(np.any(np.isnan(probs)))
        self.assertAllFinite(outputs)
        self.assertTrue(np.all(probs[~masks] == 0.0))
        self.assertAllClose(probs.sum(axis=-1), np.ones(probs.shape[:-1]), atol=1e-2)

    def test_dense_one_head_equals_self_attention(self):
        x = _inputs()
        dense = _build(SparseAttention2D("dense"), x)
        sagan = _build(SelfAttention2D(), x, gamma=-0.3)
        for name in ("query_conv", "key_conv", "value_conv", "output_conv"):
            getattr(dense, name).set_weights(getattr(sagan, name).get_weights())
        dense.gamma.assign(sagan.gamma)
        for training in (False, True):  # training runs (and compares) the SN power iteration
            expected, expected_probs = sagan(x, training=training, return_attention_scores=True)
            outputs, probs = dense(x, training=training, return_attention_scores=True)
            self.assertAllClose(probs, expected_probs, atol=1e-7, rtol=1e-6)
            self.assertAllClose(outputs, expected, atol=1e-6, rtol=1e-6)
        self.assertGreater(np.abs(to_numpy(expected) - x).max(), 1e-2)

    @parameterized.named_parameters(
        ("ylg", SparseAttention2D, dict(layout="ylg")),
        ("key_widths", SparseAttention2D, dict(layout="dense", heads=4, key_widths=[1, 1, 3, 3])),
        ("sagan", SelfAttention2D, {}),
    )
    def test_gradients_are_finite(self, cls, kwargs):
        x = tf.constant(_inputs(scale=3.0))
        layer = _build(cls(**kwargs), x)
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            loss = tf.reduce_sum(tf.square(layer(x, training=True)))
        grad_x = tape.gradient(loss, x)
        grads = tape.gradient(loss, layer.trainable_weights)
        self.assertAllFinite(grad_x)
        self.assertAllFinite(grads)
        # With gamma != 0 every projection (and gamma) receives a nonzero gradient.
        self.assertLen(grads, 5)
        for weight, grad in zip(layer.trainable_weights, grads, strict=True):
            self.assertTrue(np.any(to_numpy(grad) != 0), weight.path)

    def test_layer_basics(self):
        self.run_layer_test(
            SparseAttention2D,
            dict(layout="ylg"),
            _inputs(),
            expected_output_shape=SHAPE,
            expected_num_trainable_weights=5,  # 4 kernels + gamma
            expected_num_non_trainable_weights=4,  # SN's power-iteration vectors
        )

    def test_layer_basics_key_widths(self):
        self.run_layer_test(
            SparseAttention2D,
            dict(layout="dense", heads=4, key_widths=[1, 1, 3, 3]),
            _inputs(),
            expected_output_shape=SHAPE,
            run_precision_checks=False,
        )

    @parameterized.named_parameters(
        ("ylg", dict(layout="ylg")),
        ("ylg_strided_row_major", dict(layout="ylg_strided", curve="row_major")),
        ("key_widths", dict(layout="dense", heads=4, key_widths=[1, 1, 3, 3])),
        ("no_spectral_norm", dict(layout="ylg", spectral_norm=False)),
    )
    def test_saving(self, kwargs):
        self.run_model_saving_test(SparseAttention2D, kwargs, _inputs())

    def test_symbolic_attention_scores(self):
        outputs, probs = SparseAttention2D("ylg")(
            keras.KerasTensor((None, 8, 8, 64)), return_attention_scores=True
        )
        self.assertEqual((None, 8, 8, 64), tuple(outputs.shape))
        self.assertEqual((None, 8, 64, 16), tuple(probs.shape))

    @parameterized.named_parameters(
        ("layout", dict(layout="checkerboard"), "checkerboard"),
        ("curve", dict(curve="zigzag"), "zigzag"),
        ("implementation", dict(implementation="sparse"), "sparse"),
        ("heads_zero", dict(layout="dense", heads=0), "heads=0"),
        ("heads_for_fixed_layout", dict(layout="ylg", heads=4), "heads=4"),
        ("key_widths_length", dict(layout="dense", heads=2, key_widths=[4, 2, 2]), "[4, 2, 2]"),
        ("key_widths_entry", dict(layout="dense", heads=2, key_widths=[8, 0]), "[8, 0]"),
        ("spectral_norm", dict(spectral_norm=1), "spectral_norm=1"),
    )
    def test_invalid_arguments(self, kwargs, named):
        with self.assertRaisesRegex(ValueError, named.replace("[", r"\[")):
            SparseAttention2D(**kwargs)

    @parameterized.named_parameters(
        ("odd_width", dict(layout="ylg"), (1, 8, 7, 64), "width=7"),
        ("channels_not_multiple_of_8", dict(layout="dense"), (1, 8, 8, 60), "channels=60"),
        ("key_channels_over_heads", dict(layout="ylg"), (1, 8, 8, 32), "channels=32"),
        (
            "value_channels_over_heads",
            dict(layout="dense", heads=3, key_widths=[1, 2, 2]),
            (1, 4, 4, 40),
            "20 value channels",
        ),
        ("key_widths_sum", dict(layout="dense", heads=2, key_widths=[3, 3]), SHAPE, r"\[3, 3\]"),
        ("unknown_height", dict(layout="ylg"), (1, None, 8, 64), "height and width"),
    )
    def test_invalid_input_shapes(self, kwargs, shape, named):
        with self.assertRaisesRegex(ValueError, named):
            SparseAttention2D(**kwargs).build(shape)


class SelfAttention2DTest(TestCase):
    def test_matches_numpy_reference(self):
        x = _inputs((2, 6, 4, 32))  # non-square, 6x4 queries -> 3x2 keys
        layer = _build(SelfAttention2D(), x)
        expected, expected_probs = reference_attention(layer, x, None, [4])
        outputs, probs = layer(x, return_attention_scores=True)
        self.assertEqual((2, 1, 24, 6), tuple(probs.shape))
        self.assertAllClose(probs, expected_probs, atol=1e-6, rtol=1e-5)
        self.assertAllClose(outputs, expected, atol=1e-5, rtol=1e-5)

    def test_fresh_layer_is_identity(self):
        x = _inputs()
        self.assertAllClose(SelfAttention2D()(x), x, atol=0, rtol=0)

    def test_layer_basics(self):
        self.run_layer_test(
            SelfAttention2D,
            {},
            _inputs(),
            expected_output_shape=SHAPE,
            expected_num_trainable_weights=5,
            expected_num_non_trainable_weights=4,
        )

    @parameterized.named_parameters(("spectral_norm", {}), ("plain", dict(spectral_norm=False)))
    def test_saving(self, kwargs):
        self.run_model_saving_test(SelfAttention2D, kwargs, _inputs())

    def test_without_spectral_norm_projections_are_plain(self):
        layer = _build(SelfAttention2D(spectral_norm=False), _inputs())
        self.assertEmpty(layer.non_trainable_weights)  # no power-iteration vectors
        for conv in (layer.query_conv, layer.key_conv, layer.value_conv, layer.output_conv):
            self.assertIsInstance(conv, keras.layers.Conv2D)

    def test_unknown_spatial_size(self):
        # SAGAN's layer has no mask, so a model may leave height and width open.
        layer = SelfAttention2D()
        inputs = keras.Input((None, None, 16))
        model = keras.Model(inputs, layer(inputs, return_attention_scores=True))
        outputs, probs = model(_inputs((1, 4, 6, 16)))
        self.assertEqual((1, 4, 6, 16), tuple(outputs.shape))
        self.assertEqual((1, 1, 24, 6), tuple(probs.shape))

    @parameterized.named_parameters(
        ("odd_height", (1, 5, 8, 64), "height=5"),
        ("channels", (1, 8, 8, 12), "channels=12"),
        ("rank", (1, 8, 64), "rank 4"),
    )
    def test_invalid_input_shapes(self, shape, named):
        with self.assertRaisesRegex(ValueError, named):
            SelfAttention2D().build(shape)


class MaskedSoftmaxTest(TestCase):
    def test_all_masked_row_is_zero_not_nan(self):
        for dtype in ("float32", "float16", "bfloat16"):
            logits = keras.ops.cast(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), dtype)
            mask = np.array([[True, False, True], [False, False, False]])
            probs = to_numpy(masked_softmax(logits, mask)).astype("float64")
            self.assertTrue(np.all(probs[1] == 0.0), dtype)
            self.assertEqual(0.0, probs[0, 1])
            e = np.exp([1.0, 3.0])
            self.assertAllClose(probs[0, [0, 2]], e / e.sum(), atol=1e-2, rtol=1e-2)
