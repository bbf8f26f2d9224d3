"""Initial weights seeded per weight, so that ablation arms differ only where their models do.

Keras draws unseeded initializers one after another in build order, so adding or removing one
layer (an attention block, the spectral-norm vectors of `spectral_norm="d_only"`) changes the
initial values of every layer built after it, and a paired comparison of two arms measures a
change of initial weights as much as the change of architecture. `seed_weights` re-draws every
weight of a built model from its own initializer, seeded by (run seed, logical path), so a layer
that two models share starts from bit-identical values in both.

The logical path is the weight's path without the model's name (G and its EMA copy agree) and
without the spectral-norm wrapper's inner segment: `block_0/conv_1/conv_1_conv2d/kernel` (with
spectral norm) and `block_0/conv_1/kernel` (without) are both `block_0/conv_1/kernel`.
"""

from __future__ import annotations

import hashlib

import keras

from ylg_tf.layers.spectral import SpectralNormalization

#: Initializers of the project's own weights whose layers keep no `<weight>_initializer`
#: attribute; keep in step with those layers' `add_weight` calls.
OWN_INITIALIZERS = {
    ("SelfAttention2D", "gamma"): "zeros",
    ("SparseAttention2D", "gamma"): "zeros",
    ("BipartiteAttention", "gate"): "zeros",
    ("BipartiteAttention", "latent_embedding"): {
        "class_name": "RandomNormal",
        "config": {"mean": 0.0, "stddev": 1.0},
    },
}


def seed_weights(model: keras.Model, seed: int | str) -> None:
    """Re-draws every weight of the built `model` from its initializer, seeded by its path.

    Trainable and non-trainable weights alike (batch-norm moving statistics, spectral-norm
    vectors): each gets `initializer(shape)` with the initializer's configuration as the layer
    has it and the seed derived from `seed` and the weight's logical path. Give G and D
    different seeds, e.g. `f"{config.seed}/G"` and `f"{config.seed}/D"`, so that layers they
    both name alike do not start equal.

    Raises:
      ValueError: `model` is not built, or a weight's initializer is not known.
    """
    if not model.built:
        raise ValueError(f"seed_weights needs a built model; {model.name!r} is not built.")
    paths = logical_paths(model)
    for layer in model._flatten_layers(include_self=True):
        for name, weight in _own_weights(layer):
            if id(weight) in paths:  # once, should a layer also hold a sublayer's weight
                initializer = _seeded(_initializer(layer, name), seed, paths.pop(id(weight)))
                weight.assign(initializer(weight.shape, dtype=weight.dtype))
    if paths:
        raise ValueError(f"Weights without an owning layer attribute: {sorted(paths.values())}.")


def logical_paths(model: keras.Model) -> dict[int, str]:
    """`id(weight)` -> the weight's path without the model's name and spectral-norm segment."""
    wrapped = {}
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, SpectralNormalization):
            for weight in layer.layer.weights:
                wrapped[id(weight)] = (f"{layer.name}/{layer.layer.name}/", f"{layer.name}/")
    paths = {}
    for weight in model.weights:
        path = weight.path.removeprefix(f"{model.name}/")  # subclassed models' paths have it
        if id(weight) in wrapped:
            path = path.replace(*wrapped[id(weight)], 1)
        paths[id(weight)] = path
    return paths


def _own_weights(layer: keras.layers.Layer):
    """(attribute name, variable) of the weights `layer` itself created, not its sublayers'."""
    for weight in layer.weights:
        if getattr(layer, weight.name, None) is weight:
            yield weight.name, weight


def _initializer(layer: keras.layers.Layer, name: str) -> keras.initializers.Initializer:
    initializer = getattr(layer, f"{name}_initializer", None)
    if initializer is None:
        initializer = OWN_INITIALIZERS.get((type(layer).__name__, name))
    if initializer is None:
        raise ValueError(
            f"No initializer known for weight {name!r} of {type(layer).__name__} "
            f"{layer.name!r}; add it to ylg_tf.models.seeding.OWN_INITIALIZERS."
        )
    return keras.initializers.get(initializer)


def _seeded(initializer: keras.initializers.Initializer, seed: int | str, path: str):
    """`initializer` with a seed from (`seed`, `path`); constant initializers as they are."""
    config = initializer.get_config()
    if "seed" not in config:
        return initializer
    digest = hashlib.sha256(f"{seed}:{path}".encode()).digest()
    config["seed"] = int.from_bytes(digest[:4], "little") & 0x7FFFFFFF
    return type(initializer).from_config(config)
