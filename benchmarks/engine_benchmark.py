"""Training throughput (images/s) of the TF engine vs the JAX engine: same model, batch and data.

  .venv/bin/python benchmarks/engine_benchmark.py [--variant=ylg] [--steps=20] [--batch_size=32] \
      [--channels=32]

Keras fixes its backend at import, so each engine runs in its own subprocess (this script with
`--engine`). Both run the training loop on the digits config from scratch with the EMA generator;
the first steps (tracing and compilation) are not timed. CPU timings are noisy: compare engines
within one run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

from absl import app, flags, logging

_VARIANT = flags.DEFINE_string("variant", "ylg", "Registered model variant.")
_STEPS = flags.DEFINE_integer("steps", 20, "Timed train steps per engine.")
_BATCH = flags.DEFINE_integer("batch_size", 32, "Global batch size.")
_CHANNELS = flags.DEFINE_integer("channels", 32, "G and D base channels.")
_ENGINE = flags.DEFINE_enum("engine", None, ["tf", "jax"], "Internal: time one engine.")


def benchmark_config():
    from ylg_tf.training import default_config

    config = default_config()
    config.model.variant = _VARIANT.value
    model = config.model
    model.generator.base_channels = model.discriminator.base_channels = _CHANNELS.value
    config.train.batch_size = _BATCH.value
    config.train.log_every = config.train.sample_every = config.train.checkpoint_every = 10**9
    return config


def images_per_second(workdir: str) -> float:
    """The training loop over this process's engine: a few untimed steps (tracing and
    compilation), then `--steps` timed ones."""
    if _ENGINE.value == "tf":
        from ylg_tf.training import GANTrainer, make_strategy

        loop = GANTrainer(benchmark_config(), make_strategy("default"), workdir)
    else:
        from ylg_tf.jax_engine import jax_loop

        loop = jax_loop(benchmark_config(), workdir)
    try:
        loop.train(steps=3)
        start = time.perf_counter()
        loop.train(steps=_STEPS.value)
        return _STEPS.value * _BATCH.value / (time.perf_counter() - start)
    finally:
        loop.close()


def run_engine(engine: str) -> float:
    env = dict(os.environ, KERAS_BACKEND="tensorflow" if engine == "tf" else "jax")
    flags_ = [f"--{f.name}={f.value}" for f in (_VARIANT, _STEPS, _BATCH, _CHANNELS)]
    result = subprocess.run(
        [sys.executable, __file__, f"--engine={engine}", *flags_],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        raise RuntimeError(f"{engine} engine failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])["images_per_second"]


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    if _ENGINE.value:
        with tempfile.TemporaryDirectory() as workdir:
            print(json.dumps({"images_per_second": images_per_second(workdir)}))
        return
    rates = {engine: run_engine(engine) for engine in ("tf", "jax")}
    print(
        f"\nTraining throughput, {_VARIANT.value} at 32x32, batch {_BATCH.value}, base channels "
        f"{_CHANNELS.value}, {_STEPS.value} timed steps, {os.cpu_count()} CPU cores"
    )
    print("| engine | images/s | vs TF engine |\n|---|---|---|")
    for engine, rate in rates.items():
        print(f"| {engine} | {rate:.1f} | {rate / rates['tf']:.2f} |")


if __name__ == "__main__":
    app.run(main)
