"""Tests of `BipartiteAttention` (GANformer simplex / duplex) against NumPy float64 references."""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf
from absl.testing import parameterized
from keras_test_case import TestCase, to_numpy

from ylg_tf.layers import BipartiteAttention
from ylg_tf.layers.bipartite_attention import NORM_EPSILON, sinusoidal_position_encoding_2d

# A non-square 6x8 grid (48 positions) catches height/width mix-ups; 16 channels split over 1 or
# 2 heads; k = 5 latents of size 12 (not 16 or the channel count, to catch axis mix-ups).
X_SHAPE = (2, 6, 8, 16)
LATENT_SHAPE = (2, 5, 12)


def _inputs(seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    x = (scale * rng.normal(size=X_SHAPE) + 0.3).astype("float32")  # nonzero channel means
    latents = (scale * rng.normal(size=LATENT_SHAPE)).astype("float32")
    return x, latents


def _build(layer, x, latents, gate=0.7):
    """Builds `layer`, gives gate a nonzero value and the modulation bias nonzero values."""
    layer.build(x.shape, latents.shape)
    if layer.residual:
        layer.gate.assign(gate)
    bias = layer.modulation.layer.bias
    bias.assign(np.random.default_rng(1).normal(0, 0.3, size=bias.shape).astype("float32"))
    return layer


def _kernel(sn_layer):
    return to_numpy(sn_layer.normalized_kernel()).astype("float64")


def np_position_encoding(height, width, channels):
    """The encoding cell by cell, from its formula (GANformer's `sinus`, 2 directions)."""
    quarter = channels // 4
    out = np.zeros((height, width, channels))
    for r in range(height):
        for c in range(width):
            x = -1.0 + 2.0 * c / (width - 1) if width > 1 else -1.0
            y = -1.0 + 2.0 * r / (height - 1) if height > 1 else -1.0
            for i in range(quarter):
                w = 1.0 / 10000.0 ** (4.0 * i / channels)
                out[r, c, i] = math.sin(x * w)
                out[r, c, quarter + i] = math.cos(x * w)
                out[r, c, 2 * quarter + i] = math.sin(y * w)
                out[r, c, 3 * quarter + i] = math.cos(y * w)
    return out.reshape(height * width, channels)


def _softmax(logits):
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def reference_bipartite(layer, x, latents):
    """Bipartite attention in float64, head by head, from the layer's weights.

    Returns:
        `(outputs [B, H, W, C], probs [B, heads, n, k])`.
    """
    x = x.astype("float64")
    latents = latents.astype("float64")
    b, h, w, c = x.shape
    flat = x.reshape(b, h * w, c)
    queries = (flat + np_position_encoding(h, w, c)) @ _kernel(layer.query)
    embedding = to_numpy(layer.latent_embedding).astype("float64")
    keys = (latents + embedding) @ _kernel(layer.key)
    values = latents @ _kernel(layer.value)
    size = c // layer.heads
    attended, all_probs = [], []
    for head in range(layer.heads):
        part = slice(head * size, (head + 1) * size)
        q, k, v = queries[..., part], keys[..., part], values[..., part]
        if layer.mode == "duplex":
            # Each latent's key becomes the attention-weighted mean of the image queries.
            assignments = _softmax(np.einsum("bkd,bnd->bkn", k, q) / math.sqrt(size))
            k = np.einsum("bkn,bnd->bkd", assignments, q)
        probs = _softmax(np.einsum("bnd,bkd->bnk", q, k) / math.sqrt(size))
        all_probs.append(probs)
        attended.append(probs @ v)
    control = np.concatenate(attended, axis=-1) @ _kernel(layer.modulation)
    control = control + to_numpy(layer.modulation.layer.bias).astype("float64")
    if layer.integration == "film":
        gain, bias = control[..., :c], control[..., c:]
        mean = flat.mean(axis=-1, keepdims=True)
        std = np.sqrt(flat.var(axis=-1, keepdims=True) + NORM_EPSILON)
        updated = (1.0 + gain) * (flat - mean) / std + bias
    else:
        rms = np.sqrt(np.mean(flat**2, axis=-1, keepdims=True) + NORM_EPSILON)
        updated = (1.0 + control) * flat / rms
    if layer.residual:
        updated = flat + float(to_numpy(layer.gate)) * (updated - flat)
    return updated.reshape(b, h, w, c), np.stack(all_probs, axis=1)


class BipartiteAttentionTest(TestCase):
    @parameterized.named_parameters(
        ("simplex", dict(mode="simplex")),
        ("duplex", dict(mode="duplex")),
        ("simplex_2_heads", dict(mode="simplex", heads=2)),
        (
            "duplex_2_heads_multiplicative",
            dict(mode="duplex", heads=2, integration="multiplicative"),
        ),
        ("simplex_multiplicative", dict(mode="simplex", integration="multiplicative")),
        ("duplex_no_residual", dict(mode="duplex", residual=False)),
    )
    def test_matches_numpy_reference(self, kwargs):
        x, latents = _inputs()
        layer = _build(BipartiteAttention(num_latents=5, **kwargs), x, latents)
        expected, expected_probs = reference_bipartite(layer, x, latents)
        outputs, probs = layer(x, latents, return_attention_scores=True)
        self.assertEqual(probs.shape, (2, layer.heads, 48, 5))
        self.assertAllClose(probs, expected_probs, atol=1e-6, rtol=1e-5)
        self.assertAllClose(outputs, expected, atol=1e-5, rtol=1e-5)
        # The attention path must matter, or the comparison above proves little.
        self.assertGreater(np.abs(expected - x).max(), 1e-2)
        self.assertGreater(np.abs(expected_probs - 1 / 5).max(), 1e-2)  # not uniform

    def test_duplex_differs_from_simplex_with_the_same_weights(self):
        x, latents = _inputs()
        simplex = _build(BipartiteAttention("simplex", num_latents=5), x, latents)
        duplex = _build(BipartiteAttention("duplex", num_latents=5), x, latents)
        duplex.set_weights(simplex.get_weights())  # the same weights: duplex adds none
        _, p_simplex = simplex(x, latents, return_attention_scores=True)
        _, p_duplex = duplex(x, latents, return_attention_scores=True)
        self.assertGreater(np.abs(to_numpy(p_simplex) - to_numpy(p_duplex)).max(), 1e-3)

    @parameterized.named_parameters(("simplex", "simplex"), ("duplex", "duplex"))
    def test_rows_sum_to_one_over_latents(self, mode):
        x, latents = _inputs(scale=3.0)
        layer = BipartiteAttention(mode, num_latents=5, heads=4)
        outputs, probs = layer(x, latents, return_attention_scores=True)
        probs = to_numpy(probs)
        self.assertEqual(outputs.shape, X_SHAPE)
        self.assertEqual(probs.shape, (2, 4, 48, 5))
        self.assertTrue(np.all(probs >= 0))
        self.assertAllClose(probs.sum(axis=-1), np.ones((2, 4, 48)), atol=1e-6)

    def test_fresh_layer_is_the_identity(self):
        x, latents = _inputs()
        layer = BipartiteAttention("duplex", num_latents=5)
        for training in (False, True):
            np.testing.assert_array_equal(to_numpy(layer(x, latents, training=training)), x)

    def test_position_encoding_matches_hand_formula(self):
        for height, width, channels in ((6, 8, 16), (1, 3, 4), (5, 5, 32)):
            np.testing.assert_allclose(
                sinusoidal_position_encoding_2d(height, width, channels),
                np_position_encoding(height, width, channels),
                atol=1e-7,
            )
        table = sinusoidal_position_encoding_2d(2, 3, 8)  # frequencies 1 and 1/100
        # Row 1 (y = 1), column 0 (x = -1): [sin x, sin x/100, cos x, cos x/100, sin y, ...].
        expected = [
            math.sin(-1),
            math.sin(-0.01),
            math.cos(-1),
            math.cos(-0.01),
            math.sin(1),
            math.sin(0.01),
            math.cos(1),
            math.cos(0.01),
        ]
        np.testing.assert_allclose(table[1 * 3 + 0], expected, atol=1e-7)
        self.assertEqual(table.dtype, np.float32)

    @parameterized.named_parameters(("simplex", "simplex"), ("duplex", "duplex"))
    def test_gradients_are_finite(self, mode):
        x, latents = (tf.constant(v) for v in _inputs(scale=3.0))
        layer = _build(BipartiteAttention(mode, num_latents=5, heads=2), x, latents)
        with tf.GradientTape(persistent=True) as tape:
            tape.watch([x, latents])
            loss = tf.reduce_sum(tf.square(layer(x, latents, training=True)))
        grads = tape.gradient(loss, [x, latents, *layer.trainable_weights])
        self.assertAllFinite(grads)
        self.assertLen(layer.trainable_weights, 7)  # embedding, gate, 4 kernels, 1 bias
        for grad in grads:
            self.assertTrue(np.any(to_numpy(grad) != 0))

    @parameterized.named_parameters(("simplex", "simplex"), ("duplex", "duplex"))
    def test_layer_basics(self, mode):
        x, latents = _inputs()
        self.run_layer_test(
            BipartiteAttention,
            dict(mode=mode, num_latents=5, heads=2),
            {"x": x, "latents": latents},
            expected_output_shape=X_SHAPE,
            expected_num_trainable_weights=7,
            expected_num_non_trainable_weights=4,  # SN's power-iteration vectors
        )

    @parameterized.named_parameters(
        ("simplex", dict(mode="simplex")),
        ("duplex_multiplicative", dict(mode="duplex", integration="multiplicative", heads=2)),
        ("simplex_no_spectral_norm", dict(mode="simplex", spectral_norm=False)),
    )
    def test_keras_round_trip(self, kwargs):
        x, latents = _inputs()
        self.run_model_saving_test(
            BipartiteAttention, dict(num_latents=5, **kwargs), {"x": x, "latents": latents}
        )

    @parameterized.named_parameters(
        ("mode", dict(mode="triplex"), "triplex"),
        ("integration", dict(integration="add"), "'add'"),
        ("num_latents", dict(num_latents=0), "num_latents=0"),
        ("heads", dict(heads=2.5), "heads=2.5"),
        ("residual", dict(residual="yes"), "residual='yes'"),
        ("spectral_norm", dict(spectral_norm="d_only"), "spectral_norm='d_only'"),
    )
    def test_invalid_arguments_name_the_value(self, kwargs, match):
        with self.assertRaisesRegex(ValueError, match):
            BipartiteAttention(**kwargs)

    @parameterized.named_parameters(
        ("heads_do_not_divide", dict(heads=3), X_SHAPE, LATENT_SHAPE, "channels=16"),
        ("channels_not_multiple_of_4", {}, (2, 6, 8, 6), LATENT_SHAPE, "channels=6"),
        ("wrong_latent_count", dict(num_latents=16), X_SHAPE, LATENT_SHAPE, r"\(2, 5, 12\)"),
        ("latents_rank", {}, X_SHAPE, (2, 60), r"\(2, 60\)"),
        ("unknown_grid", {}, (2, None, 8, 16), LATENT_SHAPE, "None"),
    )
    def test_invalid_shapes_name_the_value(self, kwargs, x_shape, latents_shape, match):
        layer = BipartiteAttention(**({"num_latents": 5} | kwargs))
        with self.assertRaisesRegex(ValueError, match):
            layer.build(x_shape, latents_shape)

    def test_position_encoding_rejects_bad_sizes(self):
        with self.assertRaisesRegex(ValueError, "channels=6"):
            sinusoidal_position_encoding_2d(4, 4, 6)
        with self.assertRaisesRegex(ValueError, "height=0"):
            sinusoidal_position_encoding_2d(0, 4, 8)
