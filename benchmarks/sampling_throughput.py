"""Sampling / evaluation images/s of G with and without attention probabilities requested.

  .venv/bin/python benchmarks/sampling_throughput.py [--resolutions=32,64] [--batch_size=25] \\
      [--channels=16] [--repeats=5]

Sampling (`ylg-sample`, grids) and evaluation call the generator eagerly,
`generator((z, labels), training=False)`. Before G and D asked their attention layers for
probabilities only on request, every such call computed them anyway ("before": timed here as a
call with `return_attention_scores=True` whose maps are discarded); now none are asked for
("after": a plain call). For each variant (YLG with its blocked and its masked implementation,
SAGAN) and resolution, one generator is built, warmed up, and the two calls are timed in
alternation (`--repeats` rounds, the median of each), so that load from other processes hits
both alike. The table gives images/s and the after/before ratio. CPU timings are noisy: compare
ratios within one table.
"""

import statistics
import time

import numpy as np
from absl import app, flags, logging

from ylg_tf.models import Generator

_RESOLUTIONS = flags.DEFINE_list("resolutions", ["32", "64"], "Output resolutions.")
_BATCH = flags.DEFINE_integer("batch_size", 25, "Images per generator call.")
_CHANNELS = flags.DEFINE_integer("channels", 16, "G's base channels (SAGAN/YLG: 64).")
_REPEATS = flags.DEFINE_integer("repeats", 5, "Timed rounds (one call of each kind per round).")

#: (row name, variant, SparseAttention2D implementation or None)
CASES = (
    ("ylg (blocked)", "ylg", "blocked"),
    ("ylg (masked)", "ylg", "masked"),
    ("sagan", "sagan", None),
)


def build(variant: str, implementation: str | None, resolution: int) -> Generator:
    generator = Generator(
        resolution=resolution, num_classes=10, base_channels=_CHANNELS.value, variant=variant
    )
    if implementation is not None:  # read when the layer is built, at the first call
        generator.attention.implementation = implementation
    return generator


def seconds_per_call(generator: Generator, resolution: int) -> tuple[float, float]:
    """Median seconds of a call with probabilities requested (and dropped), and of a plain one."""
    rng = np.random.default_rng(0)
    z = rng.standard_normal((_BATCH.value, generator.z_dim)).astype("float32")
    labels = (np.arange(_BATCH.value) % 10).astype("int32")

    def with_probs():
        images, _ = generator((z, labels), training=False, return_attention_scores=True)
        return images.numpy()  # eager: the dropped maps were computed all the same

    def plain():
        return generator((z, labels), training=False).numpy()

    for call in (with_probs, plain):  # build, first-call overhead
        call()
    times = {with_probs: [], plain: []}
    for _ in range(_REPEATS.value):
        for call in (with_probs, plain):
            start = time.perf_counter()
            call()
            times[call].append(time.perf_counter() - start)
    return statistics.median(times[with_probs]), statistics.median(times[plain])


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    batch = _BATCH.value
    print(f"batch {batch}, base channels {_CHANNELS.value}, median of {_REPEATS.value} rounds")
    print("| variant | resolution | images/s before | images/s after | after / before |")
    print("|---|---|---|---|---|")
    for resolution in (int(r) for r in _RESOLUTIONS.value):
        for name, variant, implementation in CASES:
            generator = build(variant, implementation, resolution)
            before, after = seconds_per_call(generator, resolution)
            print(
                f"| {name} | {resolution} | {batch / before:.1f} | {batch / after:.1f} | "
                f"{before / after:.2f}x |",
                flush=True,
            )


if __name__ == "__main__":
    app.run(main)
