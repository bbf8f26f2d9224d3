"""The second back end: the same training loop, models, data and losses under Keras's JAX backend.

`train(config, workdir)` runs `ylg_tf.training.loop.TrainingLoop` over `JaxBackend`
(`ylg_tf.jax_engine.backend`) and needs `KERAS_BACKEND=jax` before Keras is imported (for TPU VMs
and GPUs through JAX; tf.distribute stays the default engine). Its checkpoints are weight files
(`ylg_tf.runs.weights`, re-exported here) that either engine's models load. Importing this
package does not import JAX.
"""

from ylg_tf.runs.weights import load_models, read_npz, save_models, write_npz


def jax_loop(config, workdir, devices: list | None = None):
    """A `TrainingLoop` of `config` in `workdir` over `JaxBackend` on `devices` (default: all);
    the run directory stays leased until its `close()`."""
    from ylg_tf.jax_engine.backend import JaxBackend
    from ylg_tf.training.loop import TrainingLoop

    return TrainingLoop(config, JaxBackend(config, devices), workdir)


def train(config, workdir, steps: int | None = None, devices: list | None = None):
    """Trains until `config.train.steps` (or `steps` more) under the JAX back end; returns the
    last step's metrics. Resumes from the newest `.npz` in `<workdir>/checkpoints/`."""
    loop = jax_loop(config, workdir, devices)
    try:
        return loop.train(steps)
    finally:
        loop.close()


__all__ = ["jax_loop", "load_models", "read_npz", "save_models", "train", "write_npz"]
