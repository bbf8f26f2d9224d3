"""Standing batch-norm statistics for the EMA generator (BigGAN, Brock et al. 2018, §3.1).

The EMA generator's weights are an average over many steps, so the moving batch-norm statistics
of the raw generator (estimated for the current weights) do not fit them. Instead, its own
statistics are measured: the generator runs in training mode on `batches` fresh batches of
latents and random labels, and every batch-norm layer's moving mean and variance become the plain
average of its batch statistics over those batches. Spectral-norm vectors also take one power
iteration per batch, which only refines them.
"""

from __future__ import annotations

import keras
import numpy as np


def standing_statistics(
    generator: keras.Model,
    num_classes: int,
    z_dim: int,
    *,
    batches: int = 16,
    batch_size: int = 64,
    seed: int = 0,
) -> int:
    """Sets every batch norm's moving statistics of `generator` to averages over `batches`.

    Returns the number of batch-norm layers updated. Runs eagerly: the momentum that turns the
    moving average into a running mean changes every batch.
    """
    if batches < 1 or batch_size < 1:
        raise ValueError(f"batches={batches}, batch_size={batch_size}; expected both >= 1.")
    layers = [
        layer
        for layer in generator._flatten_layers(include_self=False)  # nested blocks' BNs too
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
    momenta = [layer.momentum for layer in layers]
    rng = np.random.default_rng(seed)
    try:
        for k in range(batches):
            for layer in layers:  # moving <- k/(k+1) moving + 1/(k+1) batch: the running mean
                layer.momentum = k / (k + 1)
            z = rng.standard_normal((batch_size, z_dim)).astype(np.float32)
            labels = rng.integers(0, num_classes, batch_size).astype(np.int32)
            generator((z, labels), training=True)
    finally:
        for layer, momentum in zip(layers, momenta, strict=True):
            layer.momentum = momentum
    return len(layers)
