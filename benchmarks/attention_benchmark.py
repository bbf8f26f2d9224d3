"""Masked vs blocked `SparseAttention2D`: forward + backward time and memory on this machine.

  .venv/bin/python benchmarks/attention_benchmark.py [--query_grids=16,32,64,128] \\
      [--layouts=ylg,ylg_strided,dense_sparse] [--batch_size=4] [--channels=256] \\
      [--memory_budget_gb=8]

For every query grid (keys 2x2 pooled), layout and implementation, a fresh process builds the
layer on `[batch, grid, grid, channels]` inputs and times one training step's forward + backward
pass (gradients of the input and every weight, inside `tf.function`); it reports the median over
the timed repetitions. It then times the attention core alone (queries, keys, values -> attended
values; no convolutions) the same way. Two memory figures are given:
  - "peak MB": measured, the growth of the process's peak resident memory (VmHWM) over its
    resident memory before the first step, i.e. what one forward + backward pass of the layer
    adds (TensorFlow's CPU memory counters are GPU-only);
  - "scores MB": analytic, the size of one float32 score tensor of the layer (all heads, the whole
    batch): `nq x nk` per head masked, `nq x` (keys a query group looks at) per head blocked.
A configuration whose estimated peak (`--peak_factor` x its scores, plus the inputs) exceeds
`--memory_budget_gb` is not run and reported as "does not fit". The growth exponent `a` of the
blocked cost (`time ~ n_keys^a`) is a least-squares fit of log time on log n_keys over the grids.
CPU timings are noisy (other processes share the cores): compare within one table.
"""

import concurrent.futures
import json
import multiprocessing
import os
import time

import numpy as np
from absl import app, flags

_GRIDS = flags.DEFINE_list("query_grids", ["16", "32", "64", "128"], "Square query grid sizes.")
_LAYOUTS = flags.DEFINE_list(
    "layouts", ["ylg", "ylg_strided", "dense_sparse"], "SparseAttention2D layouts."
)
_BATCH = flags.DEFINE_integer("batch_size", 4, "Batch size.")
_CHANNELS = flags.DEFINE_integer("channels", 256, "Input channels (SAGAN/YLG at 32x32: 256).")
_BUDGET = flags.DEFINE_float(
    "memory_budget_gb", 8.0, "Configurations estimated to need more are not run."
)
_PEAK_FACTOR = flags.DEFINE_float(
    "peak_factor", 8.0, "Estimated peak memory of forward + backward, in score tensors."
)
_WARMUP = flags.DEFINE_integer("warmup", 2, "Untimed steps (tracing included).")
_MIN_STEPS = flags.DEFINE_integer("min_steps", 3, "Timed steps, at least.")
_MIN_TIME = flags.DEFINE_float("min_time", 2.0, "Seconds of timed steps, at least.")
_FIT_MIN_GRID = flags.DEFINE_integer(
    "fit_min_grid", 32, "Smallest query grid in the growth fit (smaller ones are overhead)."
)

IMPLEMENTATIONS = ("masked", "blocked")


def score_elements(layout: str, grid: int, implementation: str) -> int:
    """Elements of one score tensor of the layer, per batch element (all heads)."""
    from ylg_tf.layers.blocked_attention import build_plan

    num_queries, num_keys = grid * grid, (grid // 2) ** 2
    plan = build_plan(layout, (grid, grid), (grid // 2, grid // 2))
    if implementation == "masked":
        return plan.num_heads * num_queries * num_keys
    total = 0
    for group in plan.groups:
        if group.structure == "dense":
            total += len(group.heads) * num_queries * num_keys
        else:
            total += group.mask.size * group.shape[2]  # [h, G, Rg, L] x queries per cell
    return total


def _resident_mb(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not found in /proc/self/status")


def _time_steps(step, *args, warmup: int, min_steps: int, min_time: float) -> float:
    """Median wall-clock milliseconds of `step(*args)` (results fetched)."""
    for _ in range(warmup):
        step(*args)
    times = []
    while len(times) < min_steps or sum(times) < min_time:
        start = time.perf_counter()
        results = step(*args)
        _ = [r.numpy() for r in results]
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def measure(
    grid: int,
    layout: str,
    implementation: str,
    batch: int,
    channels: int,
    warmup: int,
    min_steps: int,
    min_time: float,
) -> dict:
    """Runs in a fresh process: layer step time, its peak memory growth, core step time."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    from ylg_tf.layers import SparseAttention2D
    from ylg_tf.layers._common import attention_probs
    from ylg_tf.layers.blocked_attention import blocked_attention

    rng = np.random.default_rng(0)
    timing = dict(warmup=warmup, min_steps=min_steps, min_time=min_time)
    x = tf.constant(rng.normal(size=(batch, grid, grid, channels)).astype("float32"))
    layer = SparseAttention2D(layout, implementation=implementation)
    layer.build(x.shape)
    layer.gamma.assign(0.5)

    @tf.function
    def layer_step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(tf.square(layer(x, training=True)))
        return tape.gradient(loss, [x, *layer.trainable_weights])

    layer_step.get_concrete_function(x)  # trace before taking the baseline
    baseline = _resident_mb("VmRSS")
    layer_ms = _time_steps(layer_step, x, **timing)
    peak_mb = _resident_mb("VmHWM") - baseline

    # The attention core alone: [batch, heads, n, depth] queries, keys and values.
    heads, num_keys = layer.num_heads, (grid // 2) ** 2
    depth, value_depth = channels // 8 // heads, channels // 2 // heads
    q, k, v = (
        tf.constant(rng.normal(size=(batch, heads, n, d)).astype("float32"))
        for n, d in ((grid * grid, depth), (num_keys, depth), (num_keys, value_depth))
    )
    if layer.resolved_implementation == "blocked":
        plan = layer._plan

        def core(q, k, v):
            return blocked_attention(q, k, v, plan)
    else:
        mask = tf.constant(layer._masks)

        def core(q, k, v):
            return tf.matmul(attention_probs(q, k, mask), v)

    @tf.function
    def core_step(q, k, v):
        with tf.GradientTape() as tape:
            tape.watch([q, k, v])
            loss = tf.reduce_sum(tf.square(core(q, k, v)))
        return tape.gradient(loss, [q, k, v])

    core_ms = _time_steps(core_step, q, k, v, **timing)
    return dict(layer_ms=layer_ms, peak_mb=peak_mb, core_ms=core_ms)


def _fit_exponent(sizes, times) -> str:
    points = [(n, t) for n, t in zip(sizes, times, strict=True) if t is not None]
    if len(points) < 2:
        return "-"
    n, t = np.log([p[0] for p in points]), np.log([p[1] for p in points])
    return f"{np.polyfit(n, t, 1)[0]:.2f}"


def main(argv):
    del argv
    grids = [int(g) for g in _GRIDS.value]
    batch, channels = _BATCH.value, _CHANNELS.value
    budget_mb = _BUDGET.value * 1024
    results = {}
    context = multiprocessing.get_context("spawn")
    for grid in grids:
        for layout in _LAYOUTS.value:
            for implementation in IMPLEMENTATIONS:
                scores_mb = 4 * batch * score_elements(layout, grid, implementation) / 2**20
                inputs_mb = 4 * batch * grid * grid * channels / 2**20
                estimate_mb = _PEAK_FACTOR.value * scores_mb + 6 * inputs_mb
                entry = dict(scores_mb=scores_mb, estimate_mb=estimate_mb)
                if estimate_mb <= budget_mb:
                    # A fresh process per configuration, so that its peak memory is its own.
                    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
                        entry.update(
                            pool.submit(
                                measure,
                                grid,
                                layout,
                                implementation,
                                batch,
                                channels,
                                _WARMUP.value,
                                _MIN_STEPS.value,
                                _MIN_TIME.value,
                            ).result()
                        )
                results[grid, layout, implementation] = entry
                print(json.dumps(dict(grid=grid, layout=layout, impl=implementation, **entry)))

    def cell(entry, key, fmt):
        if key in entry:
            return fmt.format(entry[key])
        if key.endswith("_mb"):
            return f"est. {entry['estimate_mb'] / 1024:.0f} GB"
        return "does not fit"

    def ratio(a, b, key):
        return f"{a[key] / b[key]:.1f}x" if key in a and key in b else "-"

    print(
        f"\nSparseAttention2D forward + backward, batch {batch}, {channels} channels, keys 2x2 "
        f"pooled; median ms per step; peak MB = measured peak resident memory growth of the step;"
        f" scores MB = analytic size of one float32 score tensor; budget "
        f"{_BUDGET.value:g} GB.\n"
    )
    print(
        "| query grid | layout | masked ms | blocked ms | speedup | masked peak MB | "
        "blocked peak MB | memory ratio | masked scores MB | blocked scores MB | scores ratio | "
        "core masked ms | core blocked ms | core speedup |"
    )
    print("|---" * 14 + "|")
    for grid in grids:
        for layout in _LAYOUTS.value:
            m, b = results[grid, layout, "masked"], results[grid, layout, "blocked"]
            print(
                f"| {grid}x{grid} | {layout} | {cell(m, 'layer_ms', '{:.0f}')} | "
                f"{cell(b, 'layer_ms', '{:.0f}')} | {ratio(m, b, 'layer_ms')} | "
                f"{cell(m, 'peak_mb', '{:.0f}')} | {cell(b, 'peak_mb', '{:.0f}')} | "
                f"{ratio(m, b, 'peak_mb')} | {m['scores_mb']:.0f} | {b['scores_mb']:.1f} | "
                f"{m['scores_mb'] / b['scores_mb']:.1f}x | {cell(m, 'core_ms', '{:.0f}')} | "
                f"{cell(b, 'core_ms', '{:.1f}')} | {ratio(m, b, 'core_ms')} |"
            )
    fitted = [g for g in grids if g >= _FIT_MIN_GRID.value]
    print(
        "\nGrowth of the cost with n_keys: time ~ n_keys^a, least squares over query grids "
        f"{', '.join(map(str, fitted))}:\n"
    )
    print("| layout | a (blocked layer) | a (blocked core) | a (masked core) |\n|---|---|---|---|")
    sizes = [(g // 2) ** 2 for g in fitted]
    for layout in _LAYOUTS.value:
        fits = [
            _fit_exponent(sizes, [results[g, layout, impl].get(key) for g in fitted])
            for impl, key in (
                ("blocked", "layer_ms"),
                ("blocked", "core_ms"),
                ("masked", "core_ms"),
            )
        ]
        print(f"| {layout} | " + " | ".join(fits) + " |")


if __name__ == "__main__":
    app.run(main)
