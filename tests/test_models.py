"""SAGAN-family models: every registered variant builds, runs and trains at 32x32 and 64x64."""

import dataclasses

import keras
import numpy as np
import pytest

from ylg_tf import layers, models
from ylg_tf.training import GANTrainer, default_config, make_strategy

VARIANTS = sorted(models.VARIANTS)


def small_config(variant, resolution):
    """Widths at which every variant's attention input splits evenly over 8 heads."""
    config = default_config()
    config.model.variant = variant
    config.data.resolution = resolution
    wide = variant == "mixed_resolution"  # 4 narrow + 4 wide heads need 128 channels
    config.model.generator.base_channels = 32 if wide else 16
    config.model.discriminator.base_channels = 32 if wide else 16
    if resolution == 64:  # D's 1x, 2x, 4x... plan reaches 64 (128) channels at 8x8 (4x4)
        config.model.discriminator.attention_resolution = 4 if wide else 8
    config.train.batch_size = 2
    config.train.steps = 2
    config.train.log_every = config.train.sample_every = config.train.checkpoint_every = 2
    return config


#: The integration tests train one variant of each attention kind (dense, sparse with mixed head
#: widths, bipartite) at 32x32; the rest are `slow` (about 30-60 s each, tracing): their layers
#: differ only in masks, which the layer tests check; `ylg` is the shared run's variant
#: (`test_the_shared_ylg_run_samples_in_range`) and `no_attention` trains in the strategy and
#: binary tests.
_AT_32 = ("sagan", "mixed_resolution", "ganformer_duplex")
_AT_64 = ()


@pytest.mark.parametrize(
    "variant, resolution",
    [
        pytest.param(
            variant,
            resolution,
            marks=pytest.mark.integration if variant in chosen else pytest.mark.slow,
        )
        for resolution, chosen in ((32, _AT_32), (64, _AT_64))
        for variant in VARIANTS
    ],
)
def test_every_variant_trains_two_steps(variant, resolution, tmp_path):
    trainer = GANTrainer(small_config(variant, resolution), make_strategy("default"), tmp_path)
    metrics = trainer.train()
    assert int(trainer.step.numpy()) == 2
    assert all(np.isfinite(list(metrics.values()))), metrics
    images = trainer.sampler((np.zeros((2, 128), "float32"), np.array([0, 1])))
    assert images.shape == (2, resolution, resolution, 3)
    assert np.all(np.abs(images) <= 1.0) and np.all(np.isfinite(images))


def test_the_shared_ylg_run_samples_in_range(tiny_live):
    """The shared run (conftest.py) trained YLG 2 steps at 32x32 (a non-finite loss stops a
    run); its EMA and raw generators' samples are finite and within [-1, 1]."""
    for name in ("ema_output", "raw_output"):
        images = tiny_live[name]
        assert images.shape == (6, 32, 32, 3)
        assert np.all(np.abs(images) <= 1.0) and np.all(np.isfinite(images))
    assert not np.array_equal(tiny_live["ema_output"], tiny_live["raw_output"])


def _inputs(resolution, batch=2, z_dim=128):
    rng = np.random.default_rng(0)
    z = rng.standard_normal((batch, z_dim)).astype("float32")
    images = rng.uniform(-1, 1, (batch, resolution, resolution, 3)).astype("float32")
    return z, images, np.arange(batch, dtype="int32") % 10


def test_attention_maps_and_d0():
    config = small_config("ylg", 32)
    G, D = models.build_generator(config, 10), models.build_discriminator(config, 10)
    z, images, labels = _inputs(32)
    fake, (g_probs,) = G((z, labels), return_attention_scores=True)
    logits, (d_probs,) = D((images, labels), return_attention_scores=True)
    assert fake.shape == (2, 32, 32, 3) and logits.shape == (2,)
    # Attention after the 16x16 block: 256 queries over 8x8 = 64 pooled keys, 8 heads.
    assert g_probs.shape == (2, 8, 256, 64) and d_probs.shape == (2, 8, 256, 64)
    np.testing.assert_allclose(np.sum(d_probs, axis=-1), 1.0, rtol=1e-5)
    d0 = D.d0(images)
    assert d0.shape == (2, 16, 16, 64)
    # D0 is what the attention layer sees: its own attention on D0 equals D's.
    _, direct = D.attention(d0, return_attention_scores=True)
    np.testing.assert_allclose(direct, d_probs, rtol=1e-6)


def test_no_attention_returns_no_maps():
    config = small_config("no_attention", 32)
    G = models.build_generator(config, 10)
    z, _, labels = _inputs(32)
    _, probs = G((z, labels), return_attention_scores=True)
    assert probs == ()


def test_projection_uses_the_label():
    config = small_config("sagan", 32)
    D = models.build_discriminator(config, 10)
    _, images, _ = _inputs(32)
    projection = D.projection.layer.kernel  # [channels, classes]
    projection.assign(np.random.default_rng(1).normal(size=projection.shape).astype("float32"))
    a = D((images, np.array([0, 0])))
    b = D((images, np.array([3, 3])))
    assert not np.allclose(a, b)


@pytest.mark.parametrize("variant", ["ylg", "sagan", "ganformer_duplex"])
def test_keras_round_trip(variant, tmp_path):
    config = small_config(variant, 32)
    G, D = models.build_generator(config, 10), models.build_discriminator(config, 10)
    z, images, labels = _inputs(32)
    for model, inputs in ((G, (z, labels)), (D, (images, labels))):
        path = tmp_path / f"{model.name}.keras"
        model.save(path)
        loaded = keras.models.load_model(path)
        np.testing.assert_array_equal(model(inputs), loaded(inputs))


def test_ganformer_at_two_resolutions_and_no_attention_in_d():
    config = small_config("ganformer_simplex", 32)
    config.model.generator.attention_resolution = (16, 8)  # any order: layers follow the blocks
    G, D = models.build_generator(config, 10), models.build_discriminator(config, 10)
    assert G.attention_resolution == [8, 16]
    assert [layer.name for layer in G.attention_layers] == ["attention_8", "attention_16"]
    assert G.attention is G.attention_layers[0]
    z, images, labels = _inputs(32)
    fake, probs = G((z, labels), return_attention_scores=True)
    assert fake.shape == (2, 32, 32, 3)
    # One latent -> image map per layer: 8x8 and 16x16 positions over 16 latents, 1 head.
    assert isinstance(probs, tuple) and [p.shape for p in probs] == [
        (2, 1, 64, 16),
        (2, 1, 256, 16),
    ]
    for p in probs:
        np.testing.assert_allclose(np.sum(p, axis=-1), 1.0, rtol=1e-5)
    # The same latents (one SN map of z) feed both layers.
    assert G.latent_mapping is not None and G.latent_mapping.layer.units == 16 * 32
    logits, d_probs = D((images, labels), return_attention_scores=True)
    assert logits.shape == (2,) and d_probs == () and D.attention is None
    assert not any(
        isinstance(layer, (layers.BipartiteAttention, layers.SparseAttention2D))
        for layer in D._flatten_layers()
    )


def test_variants_without_latents_have_no_latent_mapping():
    G = models.build_generator(small_config("ylg", 32), 10)
    assert G.latent_mapping is None and len(G.attention_layers) == 1
    assert G.attention.name == "attention"  # single-layer name and checkpoint path unchanged


def test_a_latent_variant_cannot_be_in_d():
    variant = models.AttentionVariant("bad", "bipartite", num_latents=4)
    with pytest.raises(ValueError, match="in_discriminator=False"):
        models.register_variant(variant)
    assert "bad" not in models.VARIANTS


class _Passthrough(keras.layers.Layer):
    """The attention-layer contract: `(x, training, return_attention_scores)` -> `(y, probs)`."""

    def call(self, x, training=None, return_attention_scores=False):
        return (x, None) if return_attention_scores else x


def test_a_new_attention_kind_slots_in():
    models.register_attention_builder(
        "passthrough_for_test",
        lambda variant, channels, name, spectral_norm: _Passthrough(name=name),
    )
    variant = models.register_variant(
        models.AttentionVariant("passthrough", "passthrough_for_test")
    )
    try:
        config = small_config("passthrough", 32)
        G, D = models.build_generator(config, 10), models.build_discriminator(config, 10)
        z, images, labels = _inputs(32)
        assert G((z, labels)).shape == (2, 32, 32, 3)
        assert D((images, labels)).shape == (2,)
    finally:
        del models.VARIANTS[variant.name], models.ATTENTION_BUILDERS["passthrough_for_test"]


@pytest.mark.parametrize(
    "change,match",
    [
        (dict(variant="ylg3"), "ylg3"),
        (dict(attention_resolution=64), "64"),
        (dict(resolution=48), "48"),
        (dict(channel_multipliers=(4, 4)), r"\(4, 4\)"),
        (dict(attention_resolution=(8, 64)), "64"),
        (dict(attention_resolution=(16, 16)), r"\(16, 16\)"),
        (dict(attention_resolution="16"), "'16'"),
        (dict(residual_resolution=64), "residual_resolution=64"),
        (dict(residual_resolution=16), "residual_resolution=16 .* puts attention"),
        (dict(spectral_norm="d_only"), "spectral_norm='d_only'"),
    ],
)
def test_generator_errors_name_the_value(change, match):
    args = dict(resolution=32, num_classes=10, base_channels=16) | change
    with pytest.raises(ValueError, match=match):
        models.Generator(**args)


def test_mixed_resolution_needs_128_channels():
    variant = models.get_variant("mixed_resolution")
    assert dataclasses.asdict(variant)["mixed_widths"]
    with pytest.raises(ValueError, match="multiple of 128"):
        models.attention_layer(variant, 64, "attention")
    layer = models.attention_layer(variant, 256, "attention")
    assert layer.key_widths == [2, 2, 2, 2, 6, 6, 6, 6]  # the paper's split at C // 8 = 32


@pytest.mark.integration
def test_ganformer_at_two_resolutions_trains_and_writes_samples(tmp_path):
    config = small_config("ganformer_simplex", 32)
    config.model.generator.attention_resolution = (8, 16)
    trainer = GANTrainer(config, make_strategy("default"), tmp_path)
    metrics = trainer.train()
    assert all(np.isfinite(list(metrics.values()))), metrics
    assert (tmp_path / "samples" / "step_0000002.png").exists()
    _, probs = trainer.sampler(_inputs(32)[::2], return_attention_scores=True)
    assert [p.shape for p in probs] == [(2, 1, 64, 16), (2, 1, 256, 16)]
