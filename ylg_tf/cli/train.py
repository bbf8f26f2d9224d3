"""`ylg-train`: trains a GAN of the zoo from an ml_collections config file.

  ylg-train --config=experiments/configs/ylg_digits32.py --workdir=runs/ylg_digits32 \
      [--config.train.steps=3000] [--strategy=mirrored --cpu_replicas=2]

Re-running the same command resumes from the run directory's newest readable checkpoint.
SIGTERM or Ctrl-C saves a checkpoint at the next step boundary and exits with 128 + the signal
number; a second Ctrl-C exits at once. `--workdir` may be a URL such as `gs://bucket/runs/a`.
"""

import sys

import keras
from absl import app, flags, logging
from ml_collections import config_flags

from ylg_tf import jax_engine
from ylg_tf.cli import app as cli_app
from ylg_tf.runs.lock import RunLockedError
from ylg_tf.training import (
    STRATEGIES,
    GANTrainer,
    NonFiniteLossError,
    TrainingInterrupted,
    make_strategy,
)

_CONFIG = config_flags.DEFINE_config_file("config", None, "Run config file.", lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory (WORKSPACE.md).", required=True)
_STRATEGY = flags.DEFINE_enum("strategy", "default", STRATEGIES, "tf.distribute strategy.")
_TPU = flags.DEFINE_string("tpu", "", "TPU name or address for --strategy=tpu.")
_ENGINE = flags.DEFINE_enum(
    "engine",
    "tf",
    ("tf", "jax"),
    "tf: tf.distribute (--strategy). jax: Keras's JAX backend over every JAX device, for TPU VMs "
    "and GPUs through JAX (needs KERAS_BACKEND=jax in the environment).",
)
_CPU_REPLICAS = flags.DEFINE_integer(
    "cpu_replicas", 0, "With --strategy=mirrored and no GPUs: logical CPU replicas."
)
_SHOW_CONFIG = flags.DEFINE_bool(
    "show_config", False, "Log the whole config at start (it is always in <workdir>/config.json)."
)


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    if _CONFIG.value is None:
        raise app.UsageError("--config is required, e.g. experiments/configs/ylg_digits32.py")
    try:  # checks everything a user can get wrong before it writes anything
        trainer = _jax_trainer() if _ENGINE.value == "jax" else _tf_trainer()
    except RunLockedError as error:
        cli_app.fail(str(error))
    _log_config(trainer.run_dir.config_file)
    try:
        trainer.train()
    except TrainingInterrupted as stop:
        print(stop, flush=True)
        sys.exit(128 + stop.signum)
    except NonFiniteLossError as error:
        cli_app.fail(str(error))
    finally:
        trainer.close()
    run_dir = trainer.run_dir
    print(f"Samples:     {run_dir.samples}")
    print(f"Checkpoints: {run_dir.checkpoints} (latest {trainer.backend.latest_checkpoint})")
    print(f"TensorBoard: tensorboard --logdir {run_dir.logs}")


def _tf_trainer() -> GANTrainer:
    strategy = make_strategy(_STRATEGY.value, tpu=_TPU.value, cpu_replicas=_CPU_REPLICAS.value)
    return GANTrainer(_CONFIG.value, strategy, _WORKDIR.value)


def _jax_trainer():
    if keras.backend.backend() != "jax":
        cli_app.fail(
            f"--engine=jax needs Keras's JAX backend, but Keras runs on {keras.backend.backend()!r}"
            ": run it as KERAS_BACKEND=jax ylg-train ... --engine=jax.",
            2,
        )
    given = [f"--{f.name}" for f in (_STRATEGY, _TPU, _CPU_REPLICAS) if f.present]
    if given:
        cli_app.fail(
            f"{', '.join(given)}: tf.distribute's flags; --engine=jax runs over every JAX device "
            "(JAX's own settings choose them).",
            2,
        )
    return jax_engine.jax_loop(_CONFIG.value, _WORKDIR.value)


def _log_config(saved) -> None:
    """The config file and the overrides given to it (the whole config with --show_config);
    `saved`: where the run keeps the whole config."""
    if _SHOW_CONFIG.value:
        logging.info("Config:\n%s", _CONFIG.value)
        return
    overrides = config_flags.get_override_values(flags.FLAGS["config"])
    given = ", ".join(f"{name}={value!r}" for name, value in sorted(overrides.items()))
    logging.info(
        "Config: %s%s (the whole config: %s, or --show_config)",
        config_flags.get_config_filename(flags.FLAGS["config"]),
        f" with {given}" if given else "",
        saved,
    )


def run() -> None:
    cli_app.run(main, __name__)


if __name__ == "__main__":
    run()
