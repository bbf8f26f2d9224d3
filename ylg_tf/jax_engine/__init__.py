"""A second training engine: the same models, data and losses under Keras's JAX backend.

`train(config, workdir)` needs `KERAS_BACKEND=jax` before Keras is imported (for TPU VMs and GPUs
through JAX; tf.distribute stays the default engine). Its checkpoints are weight files
(`ylg_tf.jax_engine.weights`) that either engine's models load. Importing this package does not
import JAX, so that TensorFlow-engine code can read and write those files.
"""

from ylg_tf.jax_engine.weights import load_models, read_npz, save_models, write_npz


def train(config, workdir: str, steps: int | None = None, devices: list | None = None):
    """`ylg_tf.jax_engine.engine.train` (imported on use: it needs JAX)."""
    from ylg_tf.jax_engine.engine import train as train_with_jax

    return train_with_jax(config, workdir, steps, devices)


__all__ = ["load_models", "read_npz", "save_models", "train", "write_npz"]
