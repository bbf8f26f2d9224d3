"""A shared `TestCase` for Keras layers, in the spirit of keras-hub's `TestCase`.

`run_layer_test` checks what every layer of the project must do (config round trip, symbolic and
eager calls, a training step with finite gradients, mixed precision) and `run_model_saving_test`
checks a `.keras` save / load round trip. Inputs are either one array or a dict of named call
arguments (e.g. `{"x": ..., "labels": ...}`).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from absl.testing import parameterized
from keras import ops, tree

from ylg_tf.layers import SpectralNormalization

MIXED_POLICIES = ("mixed_float16", "mixed_bfloat16")


def to_numpy(x: Any) -> Any:
    """Tensors (possibly nested) to NumPy arrays, for assertions."""
    return tree.map_structure(lambda t: np.asarray(ops.convert_to_numpy(t)), x)


def _is_float(dtype: Any) -> bool:
    return "float" in keras.backend.standardize_dtype(dtype)


def _call(layer: keras.layers.Layer, input_data: Any, **kwargs: Any) -> Any:
    if isinstance(input_data, Mapping):
        return layer(**input_data, **kwargs)
    return layer(input_data, **kwargs)


def perturb_weights(layer: keras.layers.Layer, seed: int = 0) -> None:
    """Adds a small positive offset to every weight, so that zero-initialized ones matter.

    Positive offsets keep moving variances positive; gammas and embeddings become nonzero, so a
    test comparing outputs also covers the paths they gate.
    """
    rng = np.random.default_rng(seed)
    for weight in layer.weights:
        value = to_numpy(weight)
        weight.assign(value + rng.uniform(0.05, 0.2, size=value.shape).astype(value.dtype))


FLOAT16_MAX = 65504.0


def overflowing_attention_inputs(layer: keras.layers.Layer, make_inputs) -> np.ndarray:
    """Inputs `make_inputs(scale)` whose unscaled attention logits overflow float16.

    Sets the built `layer`'s query and key kernels to ones. Spectral normalization divides them
    by sigma at every call, so the inputs are scaled by sigma: queries and keys then reach ~500
    and their products ~250000, beyond float16's largest value (checked here).
    """
    for sublayer in (layer.query_conv, layer.key_conv):
        kernel = sublayer.layer.kernel
        kernel.assign(np.ones(kernel.shape, "float32"))
    normalized_one = float(np.ravel(to_numpy(layer.query_conv.normalized_kernel()))[0])
    inputs = make_inputs(60.0 / normalized_one)
    queries = to_numpy(layer.query_conv(inputs)).astype("float32")
    keys = to_numpy(layer.key_conv(inputs)).astype("float32")
    largest_logit = np.abs(queries).max() * np.abs(keys).max()
    if not largest_logit > 4 * FLOAT16_MAX:
        raise AssertionError(f"logits up to {largest_logit:.0f} would not overflow float16")
    return inputs


class TestCase(parameterized.TestCase):
    """Base class of the layer tests."""

    def setUp(self) -> None:
        super().setUp()
        # Initializers draw from Keras's global seed: make every test see the same weights.
        keras.utils.set_random_seed(1337)

    def assertAllClose(self, actual, desired, atol: float = 1e-6, rtol: float = 1e-6, msg=""):
        for a, d in zip(
            tree.flatten(to_numpy(actual)), tree.flatten(to_numpy(desired)), strict=True
        ):
            np.testing.assert_allclose(a, d, atol=atol, rtol=rtol, err_msg=msg)

    def assertAllFinite(self, values, msg: str = "") -> None:
        for value in tree.flatten(to_numpy(values)):
            self.assertTrue(np.all(np.isfinite(value.astype("float64"))), msg or "not finite")

    def run_serialization_test(self, layer: keras.layers.Layer) -> None:
        """`get_config` / `from_config` and `serialize` / `deserialize` are idempotent."""
        config = layer.get_config()
        config_json = json.dumps(config, sort_keys=True)
        revived = type(layer).from_config(json.loads(config_json))
        self.assertEqual(config_json, json.dumps(revived.get_config(), sort_keys=True))
        serialized = json.dumps(keras.saving.serialize_keras_object(layer), sort_keys=True)
        revived = keras.saving.deserialize_keras_object(json.loads(serialized))
        self.assertIs(type(revived), type(layer))
        self.assertEqual(config_json, json.dumps(revived.get_config(), sort_keys=True))

    def run_layer_test(
        self,
        cls: type[keras.layers.Layer],
        init_kwargs: dict,
        input_data: Any,
        expected_output_shape: Any,
        expected_num_trainable_weights: int | None = None,
        expected_num_non_trainable_weights: int | None = None,
        run_training_check: bool = True,
        run_precision_checks: bool = True,
    ) -> None:
        """Runs the checks every layer of the project must pass.

        Args:
            cls: the layer class.
            init_kwargs: constructor arguments.
            input_data: one array, or a dict of named call arguments.
            expected_output_shape: the output shape (with the batch size of `input_data`).
            expected_num_trainable_weights: if given, checked after build.
            expected_num_non_trainable_weights: if given, checked after build.
            run_training_check: run one gradient step and check gradients are finite.
            run_precision_checks: check dtypes and finiteness under the mixed policies.
        """
        self.run_serialization_test(cls(**init_kwargs))

        def check_built(layer):
            self.assertTrue(layer.built)
            if expected_num_trainable_weights is not None:
                self.assertLen(layer.trainable_weights, expected_num_trainable_weights)
            if expected_num_non_trainable_weights is not None:
                self.assertLen(layer.non_trainable_weights, expected_num_non_trainable_weights)

        def check_output(layer, output):
            self.assertEqual(tuple(expected_output_shape), tuple(output.shape))
            self.assertEqual(
                keras.backend.standardize_dtype(layer.compute_dtype),
                keras.backend.standardize_dtype(output.dtype),
            )

        # Symbolic call (what a functional model does); the batch dimension stays unknown.
        symbolic = tree.map_structure(
            lambda x: keras.KerasTensor((None, *x.shape[1:]), dtype=x.dtype), input_data
        )
        layer = cls(**init_kwargs)
        output = _call(layer, symbolic)
        check_built(layer)
        self.assertEqual((None, *tuple(expected_output_shape)[1:]), tuple(output.shape))

        # Eager call, then the same config rebuilt gives the same outputs with the same weights.
        layer = cls(**init_kwargs)
        output = _call(layer, input_data)
        check_built(layer)
        check_output(layer, output)
        self.assertAllFinite(output)
        revived = cls.from_config(layer.get_config())
        _call(revived, input_data)
        revived.set_weights(layer.get_weights())
        self.assertAllClose(_call(revived, input_data), output)

        if run_training_check:
            self.run_training_step(layer, input_data)
        if run_precision_checks:
            for policy in MIXED_POLICIES:
                self.run_precision_test(cls, init_kwargs, input_data, policy)

    def run_training_step(self, layer: keras.layers.Layer, input_data: Any) -> None:
        """One SGD step in training mode: gradients exist, are finite, and change the weights."""
        before = [to_numpy(w) for w in layer.trainable_weights]
        with tf.GradientTape() as tape:
            output = _call(layer, input_data, training=True)
            loss = ops.mean(ops.square(ops.cast(output, "float32")))
        grads = tape.gradient(loss, layer.trainable_weights)
        self.assertNotIn(None, grads, "a trainable weight gets no gradient")
        self.assertAllFinite(grads)
        self.assertTrue(any(np.any(to_numpy(g) != 0) for g in grads), "all gradients are zero")
        keras.optimizers.SGD(learning_rate=0.1).apply(grads, layer.trainable_weights)
        after = [to_numpy(w) for w in layer.trainable_weights]
        self.assertTrue(any(np.any(a != b) for a, b in zip(after, before, strict=True)))
        self.assertAllFinite(_call(layer, input_data, training=True))

    def run_precision_test(
        self, cls: type[keras.layers.Layer], init_kwargs: dict, input_data: Any, policy: str
    ) -> None:
        """Under a mixed policy: outputs in the compute dtype, weights in float32, all finite."""
        policy = keras.DTypePolicy(policy)
        layer = cls(**init_kwargs, dtype=policy)
        for training in (False, True):
            outputs = _call(layer, input_data, training=training)
            for tensor in tree.flatten(outputs):
                if _is_float(tensor.dtype):
                    self.assertEqual(
                        policy.compute_dtype, keras.backend.standardize_dtype(tensor.dtype)
                    )
            self.assertAllFinite(outputs)
        for weight in layer.weights:
            if _is_float(weight.dtype):
                self.assertEqual(policy.variable_dtype, weight.dtype)
        for sublayer in layer._flatten_layers(include_self=False):
            self.assertEqual(policy.variable_dtype, sublayer.variable_dtype, sublayer.name)
            # The spectral-norm wrappers compute their normalization in float32 on purpose
            # (see `ylg_tf.layers.spectral`); the layers they wrap follow the policy.
            if not isinstance(sublayer, SpectralNormalization):
                self.assertEqual(policy.compute_dtype, sublayer.compute_dtype, sublayer.name)

    def run_model_saving_test(
        self, cls: type[keras.layers.Layer], init_kwargs: dict, input_data: Any
    ) -> None:
        """Saves a functional model around the layer as `.keras`, reloads it, compares outputs.

        Weights are perturbed first so that zero-initialized ones (gamma, embeddings) matter.
        """
        named = isinstance(input_data, Mapping)
        items = input_data.items() if named else [("inputs", input_data)]
        inputs = {
            name: keras.Input(shape=np.shape(x)[1:], dtype=np.asarray(x).dtype, name=name)
            for name, x in items
        }
        layer = cls(**init_kwargs)
        outputs = layer(**inputs) if named else layer(inputs["inputs"])
        model = keras.Model(inputs if named else inputs["inputs"], outputs)
        perturb_weights(model)
        expected = to_numpy(model(input_data, training=False))
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "model.keras")
            model.save(path)
            restored = keras.saving.load_model(path)
        self.assertIsInstance(restored.layers[-1], cls)
        self.assertEqual(layer.get_config(), restored.layers[-1].get_config())
        np.testing.assert_array_equal(expected, to_numpy(restored(input_data, training=False)))
