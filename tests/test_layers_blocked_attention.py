"""The blocked `SparseAttention2D` computes the masked one's function, at O(n sqrt n).

Ground truth: the masks of `ylg_tf.masks.head_masks` and the masked implementation.
"""

from __future__ import annotations

import math
import os
import tempfile

import keras
import numpy as np
import tensorflow as tf
from absl.testing import parameterized
from distribute_util import two_cpu_strategy
from keras_test_case import TestCase, overflowing_attention_inputs, to_numpy

from ylg_tf.layers import SparseAttention2D
from ylg_tf.layers.blocked_attention import build_plan, dense_masks
from ylg_tf.layers.sparse_attention_2d import AUTO_BLOCKED_MIN_KEYS, resolve_implementation
from ylg_tf.masks import CURVES, LAYOUT_NAMES, head_masks

# Key grids: square and not, n_keys perfect squares (16, 100) and not (60: s = 7, short tail).
KEY_GRIDS = ((4, 4), (6, 10), (10, 10))
# (layout, constructor arguments); 64 channels: 8 query/key and 32 value channels.
LAYOUTS = (
    ("ylg", dict(layout="ylg")),
    ("ylg_strided", dict(layout="ylg_strided")),
    ("strided", dict(layout="strided")),
    ("dense_sparse", dict(layout="dense_sparse")),
    ("dense_key_widths", dict(layout="dense", heads=4, key_widths=[1, 1, 3, 3])),
    ("ylg_hilbert", dict(layout="ylg", curve="hilbert")),
)


def _inputs(key_hw, batch=2, channels=64, seed=0, scale=1.0):
    shape = (batch, 2 * key_hw[0], 2 * key_hw[1], channels)
    return (scale * np.random.default_rng(seed).normal(size=shape)).astype("float32")


def _max_rel_error(actual, expected) -> float:
    """max |actual - expected| / max |expected| (per tensor, in float64)."""
    actual = np.asarray(to_numpy(actual), "float64")
    expected = np.asarray(to_numpy(expected), "float64")
    return float(np.abs(actual - expected).max() / max(np.abs(expected).max(), 1e-30))


def _layer_pair(kwargs, x):
    """A masked and a blocked layer with the same (nonzero-gamma) weights."""
    masked = SparseAttention2D(**kwargs, implementation="masked")
    blocked = SparseAttention2D(**kwargs, implementation="blocked")
    masked.build(x.shape)
    blocked.build(x.shape)
    masked.gamma.assign(0.7)
    blocked.set_weights(masked.get_weights())
    return masked, blocked


def _outputs_and_gradients(layer, x, training=False):
    """Attention contribution `y - x`, probabilities and gradients of a nonlinear loss, by name."""
    x = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y, probs = layer(x, training=training, return_attention_scores=True)
        loss = tf.reduce_sum(tf.sin(3.0 * y))
    grads = tape.gradient(loss, [x, *layer.trainable_weights])
    names = ["grad_x"] + [w.path.split("/", 1)[1] for w in layer.trainable_weights]
    results = {"outputs": y - x, "probs": probs, **dict(zip(names, grads, strict=True))}
    # The gradient of gamma sums terms over every output and cancels heavily: it is given
    # relative to the sum of the magnitudes of its terms (its conditioning), not to itself.
    terms = tf.reduce_sum(tf.abs(3.0 * tf.cos(3.0 * y) * (y - x))) / tf.abs(layer.gamma)
    results["gamma"] = results["gamma"] / terms
    return results


def _assert_match(test, got, expected, tolerance=1e-5):
    test.assertEqual(sorted(got), sorted(expected))
    for name in expected:
        if name == "gamma":  # already relative
            error = abs(float(to_numpy(got[name])) - float(to_numpy(expected[name])))
        else:
            error = _max_rel_error(got[name], expected[name])
        test.assertLess(error, tolerance, name)


class PlanTest(parameterized.TestCase):
    """The index tables reproduce `head_masks` exactly, every allowed position once."""

    @parameterized.named_parameters(*((layout, layout) for layout in LAYOUT_NAMES))
    def test_plan_reproduces_head_masks(self, layout):
        heads = 3 if layout == "dense" else None
        key_grids = [(r, c) for r in (1, 2, 3, 4, 5, 7) for c in (1, 3, 6, 8)]
        key_grids += [(6, 10), (10, 10), (9, 13), (16, 16)]
        for key_hw in key_grids:
            for ratio in (2, 1):
                query_hw = (ratio * key_hw[0], ratio * key_hw[1])
                for curve in CURVES:
                    expected = head_masks(layout, query_hw, key_hw, curve, heads)
                    got = dense_masks(build_plan(layout, query_hw, key_hw, curve, heads))
                    np.testing.assert_array_equal(
                        got, expected, err_msg=f"{layout} {query_hw} {key_hw} {curve}"
                    )

    def test_plan_with_query_grid_coarser_than_keys(self):
        for layout in ("ylg", "ylg_strided"):
            expected = head_masks(layout, (3, 5), (6, 10))
            np.testing.assert_array_equal(
                dense_masks(build_plan(layout, (3, 5), (6, 10))), expected
            )

    @parameterized.named_parameters(("ylg", "ylg"), ("ylg_strided", "ylg_strided"))
    def test_scores_grow_as_n_sqrt_n(self, layout):
        for side in (16, 32, 45):
            n = side * side
            plan = build_plan(layout, (2 * side, 2 * side), (side, side))
            for group in plan.groups:
                # Keys a query looks at: at most two blocks (window) or n / s + 1 (summary).
                self.assertLessEqual(group.mask.shape[-1], 2 * math.isqrt(n) + 2)


class BlockedAttentionTest(TestCase):
    @parameterized.named_parameters(
        *(
            (f"{name}_{r}x{c}", kwargs, (r, c))
            for name, kwargs in LAYOUTS
            for r, c in KEY_GRIDS
            if not (name == "ylg_hilbert" and (r, c) == (4, 4))
        )
    )
    def test_matches_masked_outputs_probabilities_and_gradients(self, kwargs, key_hw):
        x = _inputs(key_hw)
        masked, blocked = _layer_pair(kwargs, x)
        expected = _outputs_and_gradients(masked, x)
        got = _outputs_and_gradients(blocked, x)
        _assert_match(self, got, expected)
        # Masked positions are exactly zero, and the attention path matters.
        masks = head_masks(
            kwargs["layout"],
            x.shape[1:3],
            key_hw,
            kwargs.get("curve", "manhattan"),
            kwargs.get("heads"),
        )
        self.assertTrue(np.all(to_numpy(got["probs"])[:, ~masks] == 0.0))
        self.assertGreater(np.abs(to_numpy(expected["outputs"])).max(), 1e-2)

    def test_training_mode_matches(self):
        # Training mode runs (and updates) the spectral-norm power iterations in both layers.
        x = _inputs((6, 10))
        masked, blocked = _layer_pair(dict(layout="ylg_strided"), x)
        expected = _outputs_and_gradients(masked, x, training=True)
        _assert_match(self, _outputs_and_gradients(blocked, x, training=True), expected)

    @parameterized.named_parameters(("ylg", "ylg"), ("dense_sparse", "dense_sparse"))
    def test_jit_compile(self, layout):
        x = _inputs((6, 10))
        masked, blocked = _layer_pair(dict(layout=layout), x)
        expected = _outputs_and_gradients(masked, x)
        got = tf.function(lambda x: _outputs_and_gradients(blocked, x), jit_compile=True)(x)
        _assert_match(self, got, expected)

    def test_mirrored_strategy(self):
        x = _inputs((6, 10), batch=4)
        masked, _ = _layer_pair(dict(layout="ylg"), x)
        strategy = two_cpu_strategy()  # shared: a second strategy would reuse collective keys
        with strategy.scope():
            blocked = SparseAttention2D("ylg", implementation="blocked")
            blocked.build(x.shape)
            blocked.set_weights(masked.get_weights())

        def replica_step(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = blocked(x)
                loss = tf.reduce_sum(tf.sin(3.0 * y))
            return tape.gradient(loss, [x, *blocked.trainable_weights])

        @tf.function
        def step(batch):
            grad_x, *grads = strategy.run(replica_step, args=(batch,))
            grads = [strategy.reduce(tf.distribute.ReduceOp.SUM, g, axis=None) for g in grads]
            return strategy.gather(grad_x, axis=0), grads

        dataset = tf.data.Dataset.from_tensor_slices(x).batch(4)
        (batch,) = strategy.experimental_distribute_dataset(dataset)
        self.assertLen(batch.values, 2)  # one half batch per replica
        grad_x, grads = step(batch)
        with tf.GradientTape() as tape:
            y = masked(x)
            loss = tf.reduce_sum(tf.sin(3.0 * y))
        expected = tape.gradient(loss, masked.trainable_weights)
        self.assertLess(_max_rel_error(grad_x, _outputs_and_gradients(masked, x)["grad_x"]), 1e-5)
        terms = tf.reduce_sum(tf.abs(3.0 * tf.cos(3.0 * y) * (y - x))) / masked.gamma
        for weight, a, b in zip(masked.trainable_weights, grads, expected, strict=True):
            if weight.name == "gamma":  # relative to its conditioning, see above
                self.assertLess(abs(float(a - b) / float(terms)), 1e-5)
            else:
                self.assertLess(_max_rel_error(a, b), 1e-5, weight.path)

    def test_layer_basics(self):
        self.run_layer_test(
            SparseAttention2D,
            dict(layout="ylg", implementation="blocked"),
            _inputs((6, 10)),
            expected_output_shape=(2, 12, 20, 64),
            expected_num_trainable_weights=5,
            expected_num_non_trainable_weights=4,
        )

    @parameterized.named_parameters(("float16", "mixed_float16"), ("bfloat16", "mixed_bfloat16"))
    def test_mixed_precision_large_logits(self, policy):
        previous = keras.config.dtype_policy()
        keras.mixed_precision.set_global_policy(policy)
        try:
            # The scores are computed in float32, so logits beyond float16's range are fine.
            layer = SparseAttention2D("ylg", implementation="blocked")
            layer.build(_inputs((6, 10)).shape)
            x = overflowing_attention_inputs(layer, lambda scale: _inputs((6, 10), scale=scale))
            outputs, probs = layer(x, training=False, return_attention_scores=True)
        finally:
            keras.mixed_precision.set_global_policy(previous)
        probs = to_numpy(probs).astype("float32")
        masks = np.broadcast_to(head_masks("ylg", (12, 20), (6, 10)), probs.shape)
        self.assertAllFinite(outputs)
        self.assertFalse(np.any(np.isnan(probs)))
        self.assertTrue(np.all(probs[~masks] == 0.0))
        self.assertAllClose(probs.sum(axis=-1), np.ones(probs.shape[:-1]), atol=1e-2)

    def test_keras_round_trip(self):
        self.run_model_saving_test(
            SparseAttention2D,
            dict(layout="ylg_strided", implementation="blocked"),
            _inputs((6, 10)),
        )

    def test_saved_model_export(self):
        x = _inputs((6, 10))
        inputs = keras.Input(x.shape[1:])
        outputs = SparseAttention2D("ylg", implementation="blocked")(inputs)
        model = keras.Model(inputs, outputs)
        model.layers[-1].gamma.assign(0.7)
        expected = to_numpy(model(x))
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "saved_model")
            model.export(path, format="tf_saved_model")
            restored = tf.saved_model.load(path)
            got = restored.serve(tf.constant(x))
        self.assertLess(_max_rel_error(got - x, expected - x), 1e-6)


class AutoImplementationTest(TestCase):
    def test_rule(self):
        small, large = AUTO_BLOCKED_MIN_KEYS - 1, AUTO_BLOCKED_MIN_KEYS
        self.assertEqual("masked", resolve_implementation("auto", "ylg", small))
        self.assertEqual("blocked", resolve_implementation("auto", "ylg", large))
        self.assertEqual("blocked", resolve_implementation("auto", "dense", 4))
        self.assertEqual("masked", resolve_implementation("masked", "ylg", 10**6))
        self.assertEqual("blocked", resolve_implementation("blocked", "ylg", 1))

    def test_default_is_auto_and_resolves_at_build(self):
        layer = SparseAttention2D("ylg")
        self.assertEqual("auto", layer.get_config()["implementation"])
        layer.build((None, 8, 8, 64))  # 16 keys
        self.assertEqual("masked", layer.resolved_implementation)
        side = 2 * math.isqrt(AUTO_BLOCKED_MIN_KEYS - 1) + 2  # the first even grid above
        layer = SparseAttention2D("ylg")
        layer.build((None, side, side, 64))
        self.assertEqual("blocked", layer.resolved_implementation)

    def test_old_masked_config_loads(self):
        config = SparseAttention2D("ylg", implementation="masked").get_config()
        layer = SparseAttention2D.from_config(config)
        layer.build((None, 40, 40, 64))
        self.assertEqual("masked", layer.resolved_implementation)
        self.assertEqual(config, layer.get_config())
