"""`seed_weights`: ablation arms share bit-identical initial weights wherever their layers agree."""

import keras
import numpy as np
import pytest
from test_models import small_config
from weights_util import assert_shared_identical

from ylg_tf import models
from ylg_tf.layers import sn_dense
from ylg_tf.models.seeding import logical_paths, seed_weights

SEED = 7
NUM_CLASSES = 10


def _values(model):
    """Logical path -> value of every weight of `model`."""
    paths = logical_paths(model)
    return {paths[id(weight)]: np.asarray(weight.numpy()) for weight in model.weights}


@pytest.fixture(scope="module")
def models_and_arms():
    """Seeded G and D of three variants and G without SN, and their initial values by path."""
    built = {}
    configs = {variant: small_config(variant, 32) for variant in ("no_attention", "ylg", "sagan")}
    configs["ylg_d_only"] = small_config("ylg", 32)
    configs["ylg_d_only"].model.generator.spectral_norm = False
    for arm, config in configs.items():
        built[arm, "G"] = models.build_generator(config, NUM_CLASSES)
        if arm != "ylg_d_only":
            built[arm, "D"] = models.build_discriminator(config, NUM_CLASSES)
    for model in built.values():
        seed_weights(model, SEED)
    return built, {key: _values(model) for key, model in built.items()}


@pytest.fixture(scope="module")
def arms(models_and_arms):
    return models_and_arms[1]


@pytest.mark.parametrize("model", ["G", "D"])
def test_attention_arms_differ_only_in_attention_weights(arms, model):
    only_plain, only_ylg = assert_shared_identical(arms["no_attention", model], arms["ylg", model])
    assert not only_plain
    assert only_ylg and all(path.startswith("attention/") for path in only_ylg), only_ylg
    # YLG and SAGAN attention have the same projections: every weight agrees.
    assert assert_shared_identical(arms["ylg", model], arms["sagan", model]) == (set(), set())


def test_spectral_norm_arms_differ_only_in_power_iteration_vectors(arms):
    only_sn, only_plain = assert_shared_identical(arms["ylg", "G"], arms["ylg_d_only", "G"])
    assert not only_plain
    assert only_sn and all(path.endswith("/vector_u") for path in only_sn), only_sn


def test_model_name_does_not_matter():
    def model(name):
        inputs = keras.Input((3,))
        return keras.Model(inputs, sn_dense(2, "linear")(sn_dense(4, "hidden")(inputs)), name=name)

    generator, ema = model("G"), model("G_ema")
    for each in (generator, ema):
        seed_weights(each, SEED)
    assert set(logical_paths(generator).values()) == {
        f"{layer}/{weight}"
        for layer in ("hidden", "linear")
        for weight in ("kernel", "bias", "vector_u")
    }
    for first, second in zip(generator.weights, ema.weights, strict=True):
        np.testing.assert_array_equal(first.numpy(), second.numpy())


def test_values_follow_each_initializer(arms):
    weights = arms["ylg", "G"]
    # Glorot uniform kernels: within sqrt(6 / (fan_in + fan_out)) and spread over it.
    kernel = weights["block_0/conv_1/kernel"]
    receptive = kernel.shape[0] * kernel.shape[1]
    limit = np.sqrt(6.0 / (receptive * (kernel.shape[2] + kernel.shape[3])))
    assert np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.9 * limit
    assert np.std(kernel) == pytest.approx(limit / np.sqrt(3.0), rel=0.1)
    # Keras's spectral-norm vector: truncated normal, stddev 0.02, cut at 2 stddev.
    vectors = np.concatenate([v.ravel() for p, v in weights.items() if p.endswith("vector_u")])
    assert 0 < np.abs(vectors).max() <= 0.04
    # Constant initializers stay constant: biases, moving means, attention gamma.
    assert not np.any(weights["block_0/conv_1/bias"])
    assert not np.any(weights["block_0/norm_1/batch_norm/moving_mean"])
    assert np.all(weights["block_0/norm_1/batch_norm/moving_variance"] == 1.0)
    assert weights["attention/gamma"] == 0.0


def test_another_seed_draws_other_values(models_and_arms):
    built, arms = models_and_arms
    generator = built["ylg", "G"]
    seed_weights(generator, SEED + 1)
    other, same = _values(generator), arms["ylg", "G"]
    assert not np.array_equal(other["block_0/conv_1/kernel"], same["block_0/conv_1/kernel"])
    np.testing.assert_array_equal(other["block_0/conv_1/bias"], same["block_0/conv_1/bias"])
    seed_weights(generator, f"{SEED}/D")  # a string seed, as G and D would get
    salted = _values(generator)
    assert not np.array_equal(salted["block_0/conv_1/kernel"], same["block_0/conv_1/kernel"])
    assert not np.array_equal(salted["block_0/conv_1/kernel"], other["block_0/conv_1/kernel"])
    seed_weights(generator, SEED)  # the same seed draws the same values again
    for path, value in _values(generator).items():
        np.testing.assert_array_equal(value, same[path], err_msg=path)


def test_unknown_initializer_is_named():
    class Scale(keras.layers.Layer):
        def build(self, input_shape):
            self.scale = self.add_weight(name="scale", shape=(), initializer="ones")

        def call(self, x):
            return x * self.scale

    inputs = keras.Input((2,))
    model = keras.Model(inputs, Scale(name="scaler")(inputs))
    with pytest.raises(ValueError, match="'scale' of Scale 'scaler'"):
        seed_weights(model, SEED)
