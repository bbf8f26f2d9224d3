"""Tests of `SpectralNormalization` against NumPy float64 references of Miyato et al.'s definition.

Layout: the kernel as a matrix W [fan_in, C_out]; the stored vector u lives in the C_out space;
one power-iteration step is v = normalize(W u), u' = normalize(W^T v), sigma = v^T W u'; with u
and v constant, d(<G, W / sigma>)/dW = G / sigma - (<G, W> / sigma^2) v u'^T.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import keras
import numpy as np
import tensorflow as tf
from absl.testing import parameterized
from distribute_util import two_cpu_strategy
from keras_test_case import TestCase, to_numpy

from ylg_tf.layers import ResidualBlockDown, SpectralNormalization
from ylg_tf.layers.spectral import sn_conv, sn_dense

#: Run under Keras's JAX backend: one training call through `stateless_call`, its gradient.
_JAX_STEP = """
import json, sys
import jax, numpy as np
from ylg_tf.layers.spectral import sn_dense
x, w, u = (np.asarray(a, "float32") for a in json.loads(sys.argv[1]))
layer = sn_dense(w.shape[1], "dense", use_bias=False)
layer.build(x.shape)
layer.layer.kernel.assign(w)
layer.vector_u.assign(u)

def loss(trainable, other):
    y, other = layer.stateless_call(trainable, other, x, training=True)
    return jax.numpy.sum(y**2) / 2, other

values = lambda variables: [v.value for v in variables]
args = values(layer.trainable_variables), values(layer.non_trainable_variables)
(_, (next_u,)), (gradient,) = jax.value_and_grad(loss, has_aux=True)(*args)
stored_u = np.asarray(layer.vector_u.value)
print(json.dumps([np.asarray(a).tolist() for a in (next_u, gradient, stored_u)]))
"""


def _normal(shape, seed, scale=1.0):
    return (scale * np.random.default_rng(seed).normal(size=shape)).astype("float32")


def np_power_step(w, u):
    """One power-iteration step in float64: (sigma, u', v) for W [fan_in, C_out], u [C_out]."""
    w, u = np.asarray(w, "float64"), np.asarray(u, "float64").ravel()
    v = w @ u
    v /= np.linalg.norm(v)
    next_u = w.T @ v
    next_u /= np.linalg.norm(next_u)
    return v @ w @ next_u, next_u, v


def np_sn_gradient(g, w, sigma, u, v):
    """d(<G, W / sigma>)/dW with u and v held constant."""
    return g / sigma - (np.sum(g * w) / sigma**2) * np.outer(v, u)


def _dense(units, x, kernel, u, dtype=None, use_bias=False):
    layer = sn_dense(units, "dense", use_bias=use_bias, dtype=dtype)
    layer.build(x.shape)
    layer.layer.kernel.assign(kernel)
    layer.vector_u.assign(np.reshape(u, (1, -1)))
    return layer


def _top_singular(w):
    """Exact top singular pair of W in float64: (sigma, u [C_out], v [fan_in])."""
    left, singular, right_t = np.linalg.svd(np.asarray(w, "float64"))
    return singular[0], right_t[0], left[:, 0]


def _half_square_gradient(layer, x):
    """d(sum(y^2) / 2)/d kernel for y = layer(x) in a training call."""
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(layer(x, training=True))) / 2.0
    return to_numpy(tape.gradient(loss, layer.layer.kernel))


class SpectralNormalizationTest(TestCase):
    def test_forward_and_gradient_match_analytic_reference(self):
        # u starts at the exact top right singular vector: sigma and the reference are exact.
        x, g_out = _normal((5, 6), 0), _normal((5, 4), 1)
        kernel = _normal((6, 4), 2)
        sigma, u, v = _top_singular(kernel)
        layer = _dense(4, x, kernel, u)
        with tf.GradientTape() as tape:
            outputs = layer(x, training=True)
            loss = tf.reduce_sum(g_out * outputs)
        gradient = to_numpy(tape.gradient(loss, layer.layer.kernel))
        x64, w64 = x.astype("float64"), kernel.astype("float64")
        self.assertAllClose(outputs, x64 @ w64 / sigma, atol=1e-6, rtol=1e-5)
        expected = np_sn_gradient(x64.T @ g_out.astype("float64"), w64, sigma, u, v)
        self.assertLess(np.linalg.norm(gradient - expected) / np.linalg.norm(expected), 1e-5)
        self.assertAllClose(gradient, expected, atol=1e-5, rtol=1e-4)

    def test_gradient_matches_central_finite_differences_in_float64(self):
        # The whole layer (3x3 "same" convolution with bias) in float64, stored u fixed
        # (inference) at W's top singular vector: there v and u' are stationary in W, so the
        # derivative with u, v held constant is the derivative of the function W -> W / sigma.
        x, g_out = _normal((2, 4, 4, 2), 3), _normal((2, 4, 4, 3), 4)
        layer = sn_conv(3, 3, "conv", dtype="float64")
        layer.build(x.shape)
        layer.vector_u.assign(_top_singular(to_numpy(layer.layer.kernel).reshape(-1, 3))[1][None])
        layer.layer.bias.assign(_normal((3,), 6))
        x64, g64 = x.astype("float64"), g_out.astype("float64")
        variables = (layer.layer.kernel, layer.layer.bias)

        def loss():
            return tf.reduce_sum(g64 * layer(x64, training=False))

        with tf.GradientTape() as tape:
            value = loss()
        gradients = [to_numpy(g) for g in tape.gradient(value, variables)]
        step = 1e-6
        for variable, gradient in zip(variables, gradients, strict=True):
            base = to_numpy(variable)
            numeric = np.zeros_like(base)
            for index in np.ndindex(base.shape):
                losses = []
                for sign in (1.0, -1.0):
                    shifted = base.copy()
                    shifted[index] += sign * step
                    variable.assign(shifted)
                    losses.append(float(loss()))
                numeric[index] = (losses[0] - losses[1]) / (2 * step)
            variable.assign(base)
            self.assertAllClose(gradient, numeric, atol=1e-7, rtol=1e-6)

    def test_one_training_call_is_one_power_iteration_step(self):
        x, kernel, u = _normal((3, 5), 7), _normal((5, 4), 8), _normal((4,), 9)
        layer = _dense(4, x, kernel, u, use_bias=True)
        layer.layer.bias.assign(_normal((4,), 10))
        sigma, next_u, _ = np_power_step(kernel, u)
        bias = to_numpy(layer.layer.bias).astype("float64")
        outputs = layer(x, training=True)
        self.assertAllClose(layer.vector_u, next_u[None], atol=1e-6, rtol=1e-5)
        expected = x.astype("float64") @ kernel.astype("float64") / sigma + bias
        self.assertAllClose(outputs, expected, atol=1e-5, rtol=1e-5)
        # The stored, trainable kernel stays the unnormalized W.
        np.testing.assert_array_equal(to_numpy(layer.layer.kernel), kernel)

    def test_inference_uses_u_without_updating_it(self):
        x, kernel, u = _normal((3, 5), 11), _normal((5, 4), 12), _normal((4,), 13)
        layer = _dense(4, x, kernel, u)
        outputs = layer(x, training=False)
        np.testing.assert_array_equal(to_numpy(layer.vector_u), u[None])
        sigma, _, _ = np_power_step(kernel, u)
        self.assertAllClose(layer.normalized_kernel(), kernel / sigma, atol=1e-6, rtol=1e-5)
        self.assertAllClose(outputs, x @ kernel.astype("float64") / sigma, atol=1e-5, rtol=1e-5)
        # A training call from the same state computes the same function, then advances u.
        np.testing.assert_array_equal(to_numpy(layer(x, training=True)), to_numpy(outputs))
        self.assertGreater(np.abs(to_numpy(layer.vector_u) - u).max(), 1e-3)

    def test_repeated_training_calls_converge_to_the_spectral_norm(self):
        rng = np.random.default_rng(14)
        left, _ = np.linalg.qr(rng.normal(size=(45, 6)))
        right, _ = np.linalg.qr(rng.normal(size=(6, 6)))
        singular = np.array([3.0, 1.0, 0.5, 0.4, 0.3, 0.2])
        layer = sn_conv(6, 3, "conv")
        x = _normal((1, 4, 4, 5), 15)
        layer.build(x.shape)
        kernel = (left * singular @ right.T).reshape(layer.layer.kernel.shape).astype("float32")
        layer.layer.kernel.assign(kernel)
        layer.vector_u.assign(_normal((1, 6), 16))
        for _ in range(30):
            layer(x, training=True)
        normalized = to_numpy(layer.normalized_kernel()).reshape(-1, 6)
        self.assertAllClose(np.linalg.svd(normalized, compute_uv=False)[0], 1.0, atol=1e-4)
        np.testing.assert_array_equal(to_numpy(layer.layer.kernel), kernel)

    def test_gradient_differs_from_keras_spectral_normalization(self):
        # Keras's wrapper writes W / sigma into the kernel and differentiates with respect to
        # it, so it returns G (no sigma term). Same W (spectral norm 1, as Keras stores it), u
        # at the top singular vector, same inputs, loss sum(y^2) / 2 (G = x^T y).
        x = _normal((5, 6), 17)
        kernel = _normal((6, 4), 19)
        kernel /= _top_singular(kernel)[0]
        sigma, u, v = _top_singular(kernel)
        theirs_layer = keras.layers.SpectralNormalization(keras.layers.Dense(4, use_bias=False))
        theirs_layer.build(x.shape)
        theirs_layer.layer.kernel.assign(kernel)
        theirs_layer.vector_u.assign(u[None].astype("float32"))
        ours, theirs = (
            _half_square_gradient(layer, x) for layer in (_dense(4, x, kernel, u), theirs_layer)
        )
        x64, w64 = x.astype("float64"), kernel.astype("float64")
        g = x64.T @ (x64 @ w64 / sigma)
        self.assertAllClose(theirs, g, atol=1e-5, rtol=1e-4)  # no gradient through sigma
        self.assertAllClose(ours, np_sn_gradient(g, w64, sigma, u, v), atol=1e-5, rtol=1e-4)
        relative = np.linalg.norm(theirs - ours) / np.linalg.norm(ours)
        self.assertGreater(relative, 0.5, f"relative gradient difference {relative:.3f}")

    @parameterized.named_parameters(
        ("float16", "mixed_float16", False),
        ("bfloat16", "mixed_bfloat16", False),
        ("float16_in_block", "mixed_float16", True),
        ("bfloat16_in_block", "mixed_bfloat16", True),
    )
    def test_mixed_precision_normalizes_in_float32(self, policy, in_block):
        x = _normal((1, 4, 4, 5), 20)
        if in_block:  # the enclosing layer opens an autocast scope around the wrapper
            block = ResidualBlockDown(filters=6, downsample=False, dtype=policy)
            block.build(x.shape)
            layer = block.conv_1
        else:
            layer = sn_conv(6, 3, "conv", dtype=policy)
            layer.build(x.shape)
        layer.vector_u.assign(_normal((1, 6), 21))
        w = to_numpy(layer.layer.kernel).reshape(-1, 6)
        u = to_numpy(layer.vector_u)
        sigma, next_u, _ = np_power_step(w, u)
        normalized = to_numpy(layer.normalized_kernel()).reshape(-1, 6)
        self.assertAllClose(normalized, w / sigma, atol=1e-7, rtol=1e-5)
        outputs = block(x, training=True) if in_block else layer(x, training=True)
        self.assertEqual(policy.split("_")[1], keras.backend.standardize_dtype(outputs.dtype))
        for weight in (layer.layer.kernel, layer.layer.bias, layer.vector_u):
            self.assertEqual("float32", weight.dtype)
        # float32 iteration: half precision would be off by ~1e-3.
        self.assertAllClose(layer.vector_u, next_u[None], atol=1e-6, rtol=1e-5)
        np.testing.assert_array_equal(to_numpy(layer.layer.kernel).reshape(-1, 6), w)

    def test_mirrored_strategy_replicas_keep_one_u(self):
        # Two replicas (conftest.py's logical CPUs) see different inputs and update u together.
        strategy = two_cpu_strategy()
        x, kernel, u = _normal((4, 5), 22), _normal((5, 3), 23), _normal((3,), 24)
        with strategy.scope():
            layer = _dense(3, x, kernel, u)
        self.assertEqual(
            tf.VariableAggregation.ONLY_FIRST_REPLICA, layer.vector_u.value.aggregation
        )
        per_replica = strategy.experimental_distribute_values_from_function(
            lambda context: x[2 * context.replica_id_in_sync_group :][:2]
        )

        @tf.function
        def step(inputs):
            return strategy.run(lambda xs: layer(xs, training=True), args=(inputs,))

        outputs = np.concatenate(
            [to_numpy(t) for t in strategy.experimental_local_results(step(per_replica))]
        )
        sigma, next_u, _ = np_power_step(kernel, u)
        self.assertAllClose(outputs, x @ kernel.astype("float64") / sigma, atol=1e-5, rtol=1e-5)
        copies = [to_numpy(c) for c in strategy.experimental_local_results(layer.vector_u.value)]
        self.assertLen(copies, 2)
        np.testing.assert_array_equal(copies[0], copies[1])
        self.assertAllClose(copies[0], next_u[None], atol=1e-6, rtol=1e-5)

    def test_jax_backend_returns_the_u_update_and_the_same_gradient(self):
        x, kernel, u = _normal((3, 5), 26), _normal((5, 4), 27), _normal((1, 4), 28)
        env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
        arrays = json.dumps([a.tolist() for a in (x, kernel, u)])
        result = subprocess.run(
            [sys.executable, "-c", _JAX_STEP, arrays],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        self.assertEqual(0, result.returncode, result.stderr[-3000:])
        next_u, gradient, stored_u = map(np.array, json.loads(result.stdout.splitlines()[-1]))
        sigma, expected_u, v = np_power_step(kernel, u)
        x64, w64 = x.astype("float64"), kernel.astype("float64")
        g = x64.T @ (x64 @ w64 / sigma)
        self.assertAllClose(next_u, expected_u[None], atol=1e-6, rtol=1e-5)
        self.assertAllClose(gradient, np_sn_gradient(g, w64, sigma, expected_u, v), 1e-5, 1e-4)
        np.testing.assert_array_equal(stored_u, u)  # stateless: the variable is untouched

    def test_keras_round_trip_and_saved_model_compute_the_same_function(self):
        inputs = keras.Input((4, 4, 2))
        hidden = keras.layers.Flatten()(sn_conv(3, 3, "conv")(inputs))
        model = keras.Model(inputs, sn_dense(2, "linear")(hidden))
        x = _normal((2, 4, 4, 2), 25)
        model(x, training=True)  # u away from its initial value
        expected = to_numpy(model(x, training=False))
        with tempfile.TemporaryDirectory() as tmp:
            model.save(os.path.join(tmp, "model.keras"))
            restored = keras.saving.load_model(os.path.join(tmp, "model.keras"))
            model.export(os.path.join(tmp, "saved"), format="tf_saved_model", verbose=False)
            exported = tf.saved_model.load(os.path.join(tmp, "saved"))
            served = to_numpy(exported.serve(tf.constant(x)))
        self.assertIsInstance(restored.get_layer("conv"), SpectralNormalization)
        np.testing.assert_array_equal(to_numpy(restored(x, training=False)), expected)
        self.assertAllClose(served, expected, atol=1e-6, rtol=1e-6)
        for weight, original in zip(restored.weights, model.weights, strict=True):
            np.testing.assert_array_equal(to_numpy(weight), to_numpy(original))

    def test_weight_paths_are_those_of_earlier_checkpoints(self):
        conv = sn_conv(3, 1, "query", use_bias=False)
        conv.build((1, 2, 2, 4))
        dense = sn_dense(2, "linear")
        dense.build((1, 4))
        self.assertEqual(
            {"query/query_conv2d/kernel", "query/vector_u"}, {w.path for w in conv.weights}
        )
        self.assertEqual(
            {"linear/linear_dense/kernel", "linear/linear_dense/bias", "linear/vector_u"},
            {w.path for w in dense.weights},
        )
        self.assertEqual(["query/query_conv2d/kernel"], [w.path for w in conv.trainable_weights])

    def test_spectral_norm_false_returns_the_plain_layer(self):
        conv = sn_conv(3, 3, "conv_1", spectral_norm=False)
        dense = sn_dense(2, "linear", spectral_norm=False)
        self.assertIs(type(conv), keras.layers.Conv2D)
        self.assertIs(type(dense), keras.layers.Dense)
        self.assertEqual(("conv_1", "linear"), (conv.name, dense.name))

    def test_rejects_layers_without_a_matrix_kernel(self):
        with self.assertRaisesRegex(ValueError, "got Embedding"):
            SpectralNormalization(keras.layers.Embedding(3, 2))
