"""G and D ask their attention layers for probabilities only when their caller does, and then
return them one way: `(output, probs)` with `probs` a tuple of one map per attention layer."""

import functools

import numpy as np
import pytest

from ylg_tf import models
from ylg_tf.layers import sparse_attention_2d

#: (variant, G's attention_resolution, maps from G, maps from D); widths chosen so that every
#: layer's channels split evenly over its heads.
CASES = [
    ("no_attention", None, 0, 0),
    ("sagan", None, 1, 1),
    ("ylg", None, 1, 1),
    ("mixed_resolution", None, 1, 1),  # one layer of 8 heads with two key widths
    ("ylg", (8, 16), 2, 1),  # two attention layers in G
    ("ganformer_simplex", (8, 16), 2, 0),  # D has no attention for latent variants
]


def _models(variant, attention_resolution):
    width = 32 if variant == "mixed_resolution" else 16
    generator = models.Generator(
        resolution=32,
        num_classes=3,
        base_channels=width,
        variant=variant,
        attention_resolution=attention_resolution,
    )
    discriminator = models.Discriminator(
        resolution=32, num_classes=3, base_channels=width, variant=variant
    )
    rng = np.random.default_rng(0)
    z = rng.standard_normal((2, 128)).astype("float32")
    images = rng.uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
    labels = np.array([0, 2], "int32")
    return (generator, (z, labels)), (discriminator, (images, labels))


def _attention_layers(model):
    if isinstance(model, models.Generator):
        return list(model.attention_layers)
    return [] if model.attention is None else [model.attention]


def _spy_on_layers(model, monkeypatch) -> list:
    """Records the `return_attention_scores` each attention layer of `model` is called with."""
    asked = []
    for layer in _attention_layers(model):

        @functools.wraps(layer.call)
        def spy(*args, _call=layer.call, **kwargs):
            asked.append(kwargs.get("return_attention_scores", False))
            return _call(*args, **kwargs)

        monkeypatch.setattr(layer, "call", spy)
    return asked


@pytest.mark.parametrize("variant, attention_resolution, g_maps, d_maps", CASES)
def test_probabilities_only_on_request_in_one_contract(
    variant, attention_resolution, g_maps, d_maps, monkeypatch
):
    for (model, inputs), count in zip(
        _models(variant, attention_resolution), (g_maps, d_maps), strict=True
    ):
        assert len(_attention_layers(model)) == count
        model(inputs, training=False)  # builds (Keras may trace the layers symbolically once)
        asked = _spy_on_layers(model, monkeypatch)
        plain = model(inputs, training=False)
        assert asked == [False] * count, f"{model.name}: layers asked for probabilities"
        output, probs = model(inputs, training=False, return_attention_scores=True)
        assert asked[count:] == [True] * count
        np.testing.assert_array_equal(np.asarray(output), np.asarray(plain))  # bit-identical
        assert isinstance(probs, tuple) and len(probs) == count
        for layer_probs in probs:  # each a [B, heads, queries, keys] distribution per query
            layer_probs = np.asarray(layer_probs, np.float64)
            assert layer_probs.ndim == 4 and layer_probs.shape[0] == 2
            np.testing.assert_allclose(layer_probs.sum(axis=-1), 1.0, atol=1e-5)


def test_blocked_attention_scatters_no_map_unless_asked(monkeypatch):
    """YLG at 32x32 attends over 64 keys: the blocked implementation, whose dense probability
    map is a scatter that only a caller who asked should pay for."""
    (generator, g_inputs), (discriminator, d_inputs) = _models("ylg", None)
    generator(g_inputs, training=False), discriminator(d_inputs, training=False)  # builds
    scatters = []
    original = sparse_attention_2d.blocked_attention

    def spy(query, key, value, plan, return_probs=False):
        scatters.append(return_probs)
        return original(query, key, value, plan, return_probs)

    monkeypatch.setattr(sparse_attention_2d, "blocked_attention", spy)
    for model, inputs in ((generator, g_inputs), (discriminator, d_inputs)):
        model(inputs, training=False)
        assert model.attention.resolved_implementation == "blocked"
    assert scatters == [False, False]
    generator(g_inputs, training=False, return_attention_scores=True)
    assert scatters[2:] == [True]
