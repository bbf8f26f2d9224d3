"""SAGAN's ablation axes as configuration: the residual control, SN on D only, their checks."""

import keras
import ml_collections
import numpy as np
import pytest
from keras import ops

from ylg_tf import models
from ylg_tf.layers import SpectralNormalization
from ylg_tf.training import GANTrainer, default_config, make_strategy, validate

NUM_CLASSES = 10


def small_config(variant="no_attention", model=None):
    """32x32 with base width 16: every G and D block has 4 x 16 = 64 channels. `model`: fields
    of `config.model` by dotted name, e.g. `{"generator.residual_resolution": 16}`."""
    config = default_config()
    config.model.variant = variant
    config.model.generator.base_channels = config.model.discriminator.base_channels = 16
    for name, value in (model or {}).items():
        network, field = name.split(".")
        config.model[network][field] = value
    config.train.update(batch_size=4, steps=1, ema_decay=0.0, log_every=1)
    config.train.sample_every = config.train.checkpoint_every = 1
    return config


def _inputs(batch=2):
    rng = np.random.default_rng(0)
    z = rng.standard_normal((batch, 128)).astype("float32")
    images = rng.uniform(-1, 1, (batch, 32, 32, 3)).astype("float32")
    return z, images, np.arange(batch, dtype="int32") % NUM_CLASSES


def _perturb(model, seed=1):
    """Non-zero class embeddings and attention gains, so every layer changes its output."""
    rng = np.random.default_rng(seed)
    for weight in model.trainable_weights:
        if weight.path.endswith(("embeddings", "gamma", "gate")):
            weight.assign(rng.normal(scale=0.3, size=weight.shape).astype("float32"))


def _trainable_count(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


# ---- residual control ----


def test_generator_residual_control_is_one_block_of_hand_counted_size():
    base = models.build_generator(small_config(), NUM_CLASSES)
    with_residual = models.build_generator(
        small_config(model={"generator.residual_resolution": 16}), NUM_CLASSES
    )
    channels = 64
    # Two 3x3 convs (kernel + bias) and two class-conditional BNs (gain and bias tables).
    expected = 2 * (9 * channels * channels + channels) + 2 * 2 * NUM_CLASSES * channels
    assert _trainable_count(with_residual) - _trainable_count(base) == expected
    assert base.residual_block is None
    assert with_residual.residual_block.name == "residual"
    assert not hasattr(with_residual.residual_block, "shortcut_conv")  # identity shortcut


def test_generator_residual_control_runs_after_the_16x16_block():
    G = models.build_generator(
        small_config(model={"generator.residual_resolution": 16}), NUM_CLASSES
    )
    _perturb(G)
    z, _, labels = _inputs()
    # G's forward pass rebuilt from its parts, with the residual block after block_1 (8 -> 16).
    h = ops.reshape(G.linear(z), (-1, 4, 4, 64))
    shapes = []
    for k, block in enumerate(G.blocks):
        h = block(h, labels)
        shapes.append(tuple(h.shape[1:3]))
        if k == 1:
            h = G.residual_block(h, labels)
    expected = ops.tanh(G.output_conv(ops.relu(G.output_norm(h))))
    assert shapes == [(8, 8), (16, 16), (32, 32)]
    np.testing.assert_allclose(G((z, labels)), expected, atol=1e-5)
    # A residual block anywhere else gives another image, so the comparison locates it.
    h = ops.reshape(G.linear(z), (-1, 4, 4, 64))
    for k, block in enumerate(G.blocks):
        h = G.residual_block(block(h, labels), labels) if k == 2 else block(h, labels)
    elsewhere = ops.tanh(G.output_conv(ops.relu(G.output_norm(h))))
    assert not np.allclose(G((z, labels)), elsewhere, atol=1e-3)


def test_discriminator_residual_control_after_the_first_8x8_block_and_beside_attention():
    config = small_config(
        "sagan", {"discriminator.residual_resolution": 8}
    )  # D's attention stays at 16
    base = models.build_discriminator(small_config("sagan"), NUM_CLASSES)
    D = models.build_discriminator(config, NUM_CLASSES)
    assert _trainable_count(D) - _trainable_count(base) == 2 * (9 * 64 * 64 + 64)
    _perturb(D)
    _, images, labels = _inputs()
    # Blocks output 16, 8, 8, 8: attention after block_0, the residual control after block_1.
    h = D.blocks[0](images)
    assert D.d0(images).shape == (2, 16, 16, 64)
    np.testing.assert_allclose(D.d0(images), h, atol=1e-6)
    h = D.residual_block(D.blocks[1](D.attention(h)))
    assert h.shape == (2, 8, 8, 64)
    h = ops.sum(ops.relu(D.blocks[3](D.blocks[2](h))), axis=(1, 2))
    expected = D.linear(h)[:, 0] + ops.take_along_axis(D.projection(h), labels[:, None], 1)[:, 0]
    np.testing.assert_allclose(D((images, labels)), expected, rtol=1e-5, atol=1e-4)


def test_checkpoint_names_without_the_axes_are_unchanged():
    default = models.build_generator(small_config("ylg"), NUM_CLASSES)
    paths = [w.path for w in default.weights]
    assert "G/block_0/conv_1/conv_1_conv2d/kernel" in paths
    assert not any("residual" in p for p in paths)
    plain = models.build_generator(
        small_config("ylg", {"generator.spectral_norm": False}), NUM_CLASSES
    )
    assert "G/block_0/conv_1/kernel" in [w.path for w in plain.weights]


# ---- spectral norm on D only ----


def _kernel_layers(model):
    return [
        layer
        for layer in model._flatten_layers(include_self=False)
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense))
    ]


def _wrappers(model):
    return [
        layer
        for layer in model._flatten_layers(include_self=False)
        if isinstance(layer, SpectralNormalization)
    ]


@pytest.mark.parametrize("variant", ["sagan", "ylg", "ganformer_simplex"])
def test_d_only_leaves_every_generator_layer_plain(variant):
    config = small_config(
        variant, {"generator.spectral_norm": False, "generator.residual_resolution": 8}
    )
    G = models.build_generator(config, NUM_CLASSES)
    D = models.build_discriminator(config, NUM_CLASSES)
    assert len(_kernel_layers(G)) > 10 and not _wrappers(G)
    assert not any("vector_u" in w.path for w in G.weights)
    # D keeps a wrapper around each of its convolutions and dense layers.
    assert len(_wrappers(D)) == len(_kernel_layers(D)) > 10
    default = models.build_generator(
        small_config(variant, {"generator.residual_resolution": 8}), NUM_CLASSES
    )
    assert len(_wrappers(default)) == len(_kernel_layers(default))


def _outputs_with_scaled_kernel(layer, x, factor=3.0):
    """`layer(x, training=True)` with its kernel, then from the same state with `factor` x it."""
    inner = getattr(layer, "layer", layer)  # the wrapped layer of a SpectralNormalization
    if inner.use_bias:
        inner.bias.assign(np.zeros(inner.bias.shape, "float32"))
    state = [w.numpy() for w in layer.weights]
    kernel = inner.kernel.numpy()
    before = layer(x, training=True)
    for weight, value in zip(layer.weights, state, strict=True):
        weight.assign(value)
    inner.kernel.assign(factor * kernel)
    return np.asarray(before), np.asarray(layer(x, training=True))


def test_d_only_generator_kernels_act_linearly_and_sn_ones_do_not():
    z, _, labels = _inputs()
    h = np.random.default_rng(2).standard_normal((2, 16, 16, 64)).astype("float32")
    plain = models.build_generator(
        small_config("sagan", {"generator.spectral_norm": False}), NUM_CLASSES
    )
    normalized = models.build_generator(small_config("sagan"), NUM_CLASSES)
    for G, scale in ((plain, 3.0), (normalized, 1.0)):
        for layer, x in (
            (G.linear, z),
            (G.blocks[1].conv_1, h),
            (G.attention.query_conv, h),
            (G.output_conv, h),
        ):
            before, after = _outputs_with_scaled_kernel(layer, x)
            np.testing.assert_allclose(after, scale * before, rtol=1e-4, atol=1e-4)


def test_d_only_generator_round_trips_through_keras(tmp_path):
    config = small_config(
        "ylg", {"generator.spectral_norm": False, "generator.residual_resolution": 8}
    )
    G = models.build_generator(config, NUM_CLASSES)
    _perturb(G)
    z, _, labels = _inputs()
    G.save(tmp_path / "G.keras")
    loaded = keras.models.load_model(tmp_path / "G.keras")
    assert loaded.spectral_norm is False and loaded.residual_resolution == 8
    assert not _wrappers(loaded)
    np.testing.assert_array_equal(G((z, labels)), loaded((z, labels)))


# ---- validation when the config is read ----


@pytest.mark.parametrize(
    "variant,resolution,model,match",
    [
        (
            "ylg",
            32,
            {"generator.attention_resolution": 64},
            r"generator.attention_resolution=64 .*\[8, 16, 32\]",
        ),
        (
            "ylg",
            32,
            {"discriminator.attention_resolution": 32},
            r"discriminator.attention_resolution=32 .*\[8, 16\]",
        ),
        (
            "ylg",
            64,
            {"discriminator.attention_resolution": 64},
            r"discriminator.attention_resolution=64 .*\[4, 8, 16, 32\]",
        ),
        (
            "no_attention",
            32,
            {"generator.residual_resolution": 4},
            r"generator.residual_resolution=4 .*0 \(none\) or one of \[8, 16, 32\]",
        ),
        (
            "no_attention",
            32,
            {"discriminator.residual_resolution": 32},
            r"discriminator.residual_resolution=32 .*0 \(none\) or one of \[8, 16\]",
        ),
        # Default attention at 16 in both networks: the residual control may not sit there too.
        (
            "ylg",
            32,
            {"generator.residual_resolution": 16},
            r"generator.residual_resolution=16 .*\[8, 32\]",
        ),
        (
            "sagan",
            32,
            {"discriminator.residual_resolution": 16},
            r"discriminator.residual_resolution=16 .*\[8\]",
        ),
        (
            "ganformer_simplex",
            32,
            {"generator.attention_resolution": (8, 16), "generator.residual_resolution": 8},
            r"generator.residual_resolution=8 .*attention_resolution puts attention .*\[32\]",
        ),
    ],
)
def test_invalid_axes_are_rejected_naming_field_value_and_accepted(
    variant, resolution, model, match
):
    config = small_config(variant, model)
    config.data.resolution = resolution
    with pytest.raises(ValueError, match=match):
        validate(config)


def test_a_tuple_residual_resolution_is_rejected():
    # Config flags refuse a tuple for an int field; a hand-edited config.json does not.
    values = small_config().to_dict()
    values["model"]["generator"]["residual_resolution"] = (16, 32)
    with pytest.raises(ValueError, match=r"generator.residual_resolution=\(16, 32\).*one int"):
        validate(ml_collections.ConfigDict(values))


@pytest.mark.parametrize(
    "variant,model",
    [
        (
            "no_attention",
            {"generator.residual_resolution": 16, "discriminator.residual_resolution": 16},
        ),
        (
            "ganformer_duplex",
            {"discriminator.residual_resolution": 16},
        ),  # GANformer has no D attention
        (
            "ylg",
            {
                "generator.residual_resolution": 8,
                "discriminator.residual_resolution": 8,
                "generator.spectral_norm": False,
            },
        ),
    ],
)
def test_valid_axes_pass_and_build(variant, model):
    config = small_config(variant, model)
    validate(config)
    assert models.build_discriminator(config, NUM_CLASSES).residual_block is not None


def test_the_trainer_rejects_a_bad_config_before_writing_anything(tmp_path):
    config = small_config("sagan", {"discriminator.residual_resolution": 16})
    with pytest.raises(ValueError, match="discriminator.residual_resolution=16"):
        GANTrainer(config, make_strategy("default"), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_models_keep_their_own_checks():
    with pytest.raises(ValueError, match=r"Discriminator residual_resolution=16 .*\[8\]"):
        models.Discriminator(resolution=32, base_channels=16, variant="ylg", residual_resolution=16)
    with pytest.raises(ValueError, match=r"Generator residual_resolution=\[16\].*one int"):
        models.Generator(resolution=32, base_channels=16, residual_resolution=[16])


# ---- one train step through the trainer ----


@pytest.mark.parametrize(
    "variant,model",
    [
        (
            "no_attention",
            {"generator.residual_resolution": 16, "discriminator.residual_resolution": 16},
        ),
        ("sagan", {"generator.spectral_norm": False}),
    ],
)
def test_one_train_step(variant, model, tmp_path):
    trainer = GANTrainer(small_config(variant, model), make_strategy("default"), tmp_path)
    weights = trainer.generator.weights + trainer.discriminator.weights
    start = {w.path: w.numpy() for w in weights}
    metrics = trainer.train()
    assert int(trainer.step.numpy()) == 1
    assert all(np.isfinite(list(metrics.values()))), metrics
    changed = {w.path for w in weights if not np.allclose(w.numpy(), start[w.path])}
    if variant == "no_attention":
        residual_kernels = {
            "G/residual/conv_1/conv_1_conv2d/kernel",
            "D/residual/conv_1/conv_1_conv2d/kernel",
        }
        assert residual_kernels <= changed
    else:
        assert "G/block_0/conv_1/kernel" in changed and not _wrappers(trainer.generator)
