"""Forward + backward time of GANformer's bipartite attention against the query-grid size.

Bipartite attention costs O(n k) for n image positions and k latents (plus O(n C^2) for its
per-position projections), so at fixed k and channels its time should grow about linearly in n;
the table gives the fitted exponent of time ~ n^p (p = 1: linear; SAGAN's dense attention is
p = 2 once its n x n/4 logits dominate). Rows are meant to join the attention benchmark table.

    .venv/bin/python benchmarks/bipartite_cost.py
    .venv/bin/python benchmarks/bipartite_cost.py --grids=32,64,128 --num_latents=16 --repeats=5
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import tensorflow as tf
from absl import app, flags

from ylg_tf.layers import BipartiteAttention

_GRIDS = flags.DEFINE_list("grids", ["32", "64", "128"], "Query grid sides (n = side^2).")
_LATENTS = flags.DEFINE_integer("num_latents", 16, "k, the number of latents.")
_CHANNELS = flags.DEFINE_integer("channels", 64, "Image feature channels C.")
_LATENT_DIM = flags.DEFINE_integer("latent_dim", 32, "Size of each latent.")
_BATCH = flags.DEFINE_integer("batch", 4, "Batch size.")
_REPEATS = flags.DEFINE_integer("repeats", 5, "Timed calls per cell (the median is reported).")
_MODES = flags.DEFINE_list("modes", ["simplex", "duplex"], "BipartiteAttention modes.")


def forward_backward_seconds(
    mode: str,
    side: int,
    num_latents: int = 16,
    channels: int = 64,
    latent_dim: int = 32,
    batch: int = 4,
    repeats: int = 5,
) -> float:
    """Median seconds of one compiled forward + backward pass on a `side x side` grid."""
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(batch, side, side, channels)).astype("float32"))
    latents = tf.constant(rng.normal(size=(batch, num_latents, latent_dim)).astype("float32"))
    layer = BipartiteAttention(mode, num_latents=num_latents)
    layer(x, latents)
    layer.gate.assign(1.0)  # the whole attention path in the gradient

    @tf.function
    def step(x, latents):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(tf.square(layer(x, latents, training=True)))
        return tape.gradient(loss, [x, *layer.trainable_weights])

    for _ in range(2):  # tracing and warm-up
        tf.nest.map_structure(lambda t: t.numpy(), step(x, latents))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        tf.nest.map_structure(lambda t: t.numpy(), step(x, latents))
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def fit_exponent(cells: Sequence[int], seconds: Sequence[float]) -> float:
    """Least-squares slope p of log(seconds) against log(cells): time ~ cells^p."""
    return float(np.polyfit(np.log(cells), np.log(seconds), 1)[0])


def bipartite_rows(
    sides: Sequence[int], modes: Sequence[str] = ("simplex", "duplex"), **kwargs
) -> list[dict]:
    """One row per mode: `{"layer", "ms": {side: ms}, "exponent"}` over the grid sides."""
    rows = []
    for mode in modes:
        seconds = [forward_backward_seconds(mode, side, **kwargs) for side in sides]
        rows.append(
            {
                "layer": f"bipartite {mode} (k={kwargs.get('num_latents', 16)})",
                "ms": {side: 1e3 * s for side, s in zip(sides, seconds, strict=True)},
                "exponent": fit_exponent([side * side for side in sides], seconds),
            }
        )
    return rows


def main(argv: Sequence[str]) -> None:
    del argv
    sides = [int(side) for side in _GRIDS.value]
    rows = bipartite_rows(
        sides,
        _MODES.value,
        num_latents=_LATENTS.value,
        channels=_CHANNELS.value,
        latent_dim=_LATENT_DIM.value,
        batch=_BATCH.value,
        repeats=_REPEATS.value,
    )
    print(
        f"Forward + backward, batch {_BATCH.value}, C = {_CHANNELS.value}, "
        f"k = {_LATENTS.value}, median of {_REPEATS.value} (ms); exponent p of time ~ n^p:\n"
    )
    header = " | ".join(f"{side}x{side} (n={side * side})" for side in sides)
    print(f"| layer | {header} | exponent p |")
    print("|---|" + "---|" * len(sides) + "---|")
    for row in rows:
        cells = " | ".join(f"{row['ms'][side]:.1f}" for side in sides)
        print(f"| {row['layer']} | {cells} | {row['exponent']:.2f} |")


if __name__ == "__main__":
    app.run(main)
