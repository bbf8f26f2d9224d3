"""Training throughput (images/s) of every registered variant at 32x32 on this machine.

  .venv/bin/python benchmarks/train_throughput.py [--steps=30] [--batch_size=32] [--channels=16] \
      [--implementation=auto|masked|blocked]

Each variant is warmed up (tracing, first steps), then timed over `--steps` train steps of the
digits config; the table gives images/s and the ratio to `no_attention` measured in the same run.
CPU timings are noisy: compare ratios within one table, not absolute numbers across runs.
"""

import contextlib
import tempfile
import time

from absl import app, flags, logging

from ylg_tf.layers import SparseAttention2D
from ylg_tf.models import VARIANTS
from ylg_tf.training import GANTrainer, default_config, make_strategy

_STEPS = flags.DEFINE_integer("steps", 30, "Timed train steps per variant.")
_WARMUP = flags.DEFINE_integer("warmup", 5, "Untimed steps per variant (tracing included).")
_BATCH = flags.DEFINE_integer("batch_size", 32, "Global batch size.")
_CHANNELS = flags.DEFINE_integer("channels", 16, "G and D base channels (x4 in every block).")
_VARIANTS = flags.DEFINE_list("variants", list(VARIANTS), "Variants to time.")
_IMPLEMENTATION = flags.DEFINE_enum(
    "implementation", "auto", ["auto", "masked", "blocked"], "SparseAttention2D implementation."
)


@contextlib.contextmanager
def default_implementation(implementation: str):
    """Makes `SparseAttention2D` layers default to `implementation` (the models pass none)."""
    init = SparseAttention2D.__init__

    def patched_init(self, *args, implementation=implementation, **kwargs):
        init(self, *args, implementation=implementation, **kwargs)

    SparseAttention2D.__init__ = patched_init
    try:
        yield
    finally:
        SparseAttention2D.__init__ = init


def base_channels(variant: str) -> int:
    if variant == "mixed_resolution":  # its narrow/wide split needs 128 attention channels
        return max(_CHANNELS.value, 32)
    return _CHANNELS.value


def images_per_second(variant: str, workdir: str) -> float:
    config = default_config()
    config.model.variant = variant
    width = base_channels(variant)
    config.model.generator.base_channels = config.model.discriminator.base_channels = width
    config.train.batch_size = _BATCH.value
    config.train.ema_decay = 0.0
    config.train.log_every = config.train.sample_every = config.train.checkpoint_every = 10**9
    trainer = GANTrainer(config, make_strategy("default"), workdir)
    trainer.train(steps=_WARMUP.value)
    start = time.perf_counter()
    trainer.train(steps=_STEPS.value)
    return _STEPS.value * _BATCH.value / (time.perf_counter() - start)


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    rates = {}
    for variant in _VARIANTS.value:
        with (
            tempfile.TemporaryDirectory() as workdir,
            default_implementation(_IMPLEMENTATION.value),
        ):
            rates[variant] = images_per_second(variant, workdir)
    base = rates.get("no_attention")
    print(
        f"\nTraining throughput at 32x32, batch {_BATCH.value}, SparseAttention2D "
        f"implementation {_IMPLEMENTATION.value!r}"
    )
    print("| variant | base channels | images/s | vs no_attention |\n|---|---|---|---|")
    for variant, rate in rates.items():
        ratio = f"{rate / base:.2f}" if base else "-"
        print(f"| {variant} | {base_channels(variant)} | {rate:.1f} | {ratio} |")


if __name__ == "__main__":
    app.run(main)
