"""`JaxBackend`: the `TrainingBackend` of Keras's JAX backend, data parallel over devices.

The models, data order and latents are those of the TensorFlow back end: the same registered
models built from the same config, the same `tf.data` pipeline (one input pipeline per JAX
process, its batches as NumPy), and latents drawn on the host with the TF back end's stateless
seeds `(seed, step * (d_steps + 1) + use)`. `keras.distribution.DataParallel` replicates the
variables over all devices (or the `devices` given) and the batch is sharded over them; XLA then
reduces batch-norm statistics and gradients over the whole global batch, so the update does not
depend on the device count. The training state is saved as `.npz` weight files
(`ylg_tf.runs.weights`) in the run's `checkpoints/`.
"""

from __future__ import annotations

import jax
import keras
import ml_collections
import numpy as np
import tensorflow as tf
from absl import logging
from jax.sharding import NamedSharding, PartitionSpec

from ylg_tf.data import Source
from ylg_tf.data.pipeline import per_replica_dataset_fn
from ylg_tf.jax_engine.step import GANModels, make_train_step
from ylg_tf.models import build_discriminator, build_generator
from ylg_tf.runs import checkpoints as run_checkpoints
from ylg_tf.runs import files
from ylg_tf.runs.checkpoints import NPZ_CHECKPOINTS
from ylg_tf.runs.config import parse_augment_policy
from ylg_tf.runs.weights import (
    assign_models,
    assign_optimizer,
    models_arrays,
    optimizer_arrays,
    read_npz,
    write_npz,
)
from ylg_tf.training.backend import TrainingBackend


def data_parallel(devices: list | None = None) -> keras.distribution.DataParallel:
    """Data parallelism over `devices` (default: every device of every JAX process)."""
    return keras.distribution.DataParallel(devices=devices or keras.distribution.list_devices())


def build_models(config: ml_collections.ConfigDict, num_classes: int) -> GANModels:
    """G, D, the EMA G (a copy of G) and built TTUR Adam optimizers, under the current scope."""
    train = config.train
    generator = build_generator(config, num_classes)
    discriminator = build_discriminator(config, num_classes)
    ema_generator = None
    if train.ema_decay:
        ema_generator = build_generator(config, num_classes, name="G_ema")
        ema_generator.set_weights(generator.get_weights())
    optimizers = []
    for learning_rate, model, name in (
        (train.g_lr, generator, "g_optimizer"),
        (train.d_lr, discriminator, "d_optimizer"),
    ):
        optimizer = keras.optimizers.Adam(
            learning_rate, beta_1=train.beta1, beta_2=train.beta2, name=name
        )
        optimizer.build(model.trainable_variables)
        optimizers.append(optimizer)
    return GANModels(generator, discriminator, ema_generator, *optimizers)


def latents(config: ml_collections.ConfigDict, step: int) -> np.ndarray:
    """`[d_steps + 1, global batch, z_dim]`: the TF back end's latents for `step`, a row per use."""
    uses = config.train.d_steps + 1
    shape = [config.train.batch_size, config.model.generator.z_dim]
    return np.stack(
        [
            tf.random.stateless_normal(shape, [config.seed, step * uses + use]).numpy()
            for use in range(uses)
        ]
    )


def save_checkpoint(path: str, models: GANModels, step: int) -> str:
    """Weights of G, D, EMA G and both optimizers at `step`, as one `.npz` at `path`."""
    arrays = models_arrays(step, models.generator, models.discriminator, models.ema_generator)
    arrays.update(optimizer_arrays(models.g_optimizer, "g_optimizer"))
    arrays.update(optimizer_arrays(models.d_optimizer, "d_optimizer"))
    return write_npz(path, arrays)


def restore_checkpoint(path: str, models: GANModels) -> int:
    """Loads a checkpoint into `models`; returns its step. Optimizer state is optional (a file
    written by `weights.save_models` from TF-engine models starts fresh optimizers)."""
    arrays = read_npz(path)
    step = assign_models(arrays, models.generator, models.discriminator, models.ema_generator)
    assign_optimizer(models.g_optimizer, arrays, "g_optimizer")
    assign_optimizer(models.d_optimizer, arrays, "d_optimizer")
    return step


class JaxBackend(TrainingBackend):
    """The run's models and jitted step under Keras's JAX backend, over `devices` (default: all).

    Needs `KERAS_BACKEND=jax` set before Keras was first imported. After `build`: `models` is
    the `GANModels`; the Keras models hold the current weights between `train` calls.
    """

    def __init__(self, config: ml_collections.ConfigDict, devices: list | None = None) -> None:
        self.config, self.devices = config, devices
        self._step, self._latest = 0, None

    def prepare(self) -> None:
        train = self.config.train
        if train.ada_target or parse_augment_policy(train.augment):
            raise ValueError(
                "The JAX engine has no augmentation of D's inputs: config.train.ada_target="
                f"{train.ada_target!r}, config.train.augment={train.augment!r}; set them to 0 "
                "and '' or train with the TensorFlow engine."
            )
        backend = keras.backend.backend()
        if backend != "jax":
            raise ValueError(
                f"The JAX engine needs Keras's JAX backend, but Keras runs on {backend!r}: set "
                "KERAS_BACKEND=jax before Python imports Keras."
            )
        if train.mixed_precision not in ("", "bfloat16"):
            raise ValueError(
                f"config.train.mixed_precision={train.mixed_precision!r}: the JAX engine accepts "
                "'' (float32) or 'bfloat16'."
            )
        self.distribution = data_parallel(self.devices)
        devices = int(np.prod(self.distribution.device_mesh.shape))
        if train.batch_size % (devices * jax.process_count()):
            raise ValueError(
                f"config.train.batch_size={train.batch_size} must be a multiple of the "
                f"{devices * jax.process_count()} devices."
            )
        tf.config.set_visible_devices([], "GPU")  # TensorFlow only reads data here

    @property
    def chief(self) -> bool:
        return jax.process_index() == 0

    @property
    def worker(self) -> int:
        return jax.process_index()

    def batches(self, source: Source):
        """Endless `(images, labels)` NumPy batches of this process's share of the global batch."""
        processes = jax.process_count()
        context = tf.distribute.InputContext(processes, jax.process_index(), processes)
        dataset = per_replica_dataset_fn(source, self.config.train.batch_size, self.config.seed)
        return _NumpyBatches(dataset(context))

    def build(self, num_classes: int, checkpoint_dir: str, own_checkpoint_dir: str) -> None:
        train = self.config.train
        with self.distribution.scope():
            self.models = build_models(self.config, num_classes)
        self.generator = self.models.generator
        self.discriminator = self.models.discriminator
        self.ema_generator = self.models.ema_generator
        restored = run_checkpoints.restore_newest(
            lambda path: restore_checkpoint(path, self.models),
            checkpoint_dir,
            set_aside=self.chief,
            form=NPZ_CHECKPOINTS,
        )
        if restored is not None:
            self._step, self._latest = restored
            logging.info("Resumed from %s at step %d.", self._latest, self._step)
        self._directory = own_checkpoint_dir
        mesh = self.distribution.device_mesh.backend_mesh
        self._batch_sharding = NamedSharding(
            mesh, PartitionSpec(None, self.distribution.batch_dim_name)
        )
        self._replicated = NamedSharding(mesh, PartitionSpec())
        self._train_step = make_train_step(
            self.models, train.d_steps, train.ema_decay, train.ema_start, self._replicated
        )
        share = train.batch_size // jax.process_count()
        self._local = slice(jax.process_index() * share, (jax.process_index() + 1) * share)

    @property
    def step(self) -> int:
        return self._step

    def _global(self, local: np.ndarray) -> jax.Array:
        return jax.make_array_from_process_local_data(self._batch_sharding, local)

    def train(self, batches, steps: int) -> dict[str, float]:
        d_steps = self.config.train.d_steps
        # From the Keras variables, which the loop may have changed (the EMA G's statistics).
        state = jax.device_put(self.models.state(), self._replicated)
        metrics = {}
        for _ in range(steps):
            images, labels = zip(*(next(batches) for _ in range(d_steps)), strict=True)
            z = latents(self.config, self._step)[:, self._local]
            state, metrics = self._train_step(
                state,
                self._global(np.stack(images)),
                self._global(np.stack(labels)),
                self._global(z),
                np.int64(self._step),
            )
            self._step += 1
        self.models.assign(state)
        return {name: float(value) for name, value in metrics.items()}

    def loss_scale(self) -> float | None:
        return None  # float16 is refused

    def save(self, step: int) -> str:
        path = NPZ_CHECKPOINTS.path(self._directory, step)
        if self.chief:  # every process holds the whole replicated state
            save_checkpoint(path, self.models, step)
            kept = run_checkpoints.checkpoint_steps(self._directory, NPZ_CHECKPOINTS)
            for old in kept[: -self.config.train.keep_checkpoints]:
                files.remove(NPZ_CHECKPOINTS.path(self._directory, old))
        self._latest = path
        return path

    @property
    def latest_checkpoint(self) -> str | None:
        return self._latest

    def saved(self, step: int) -> bool:
        return self._latest is not None and self._latest.endswith(NPZ_CHECKPOINTS.file(step))

    @property
    def saves_on_preemption(self) -> bool:
        return False


class _NumpyBatches:
    """A `tf.data` dataset's batches as NumPy; each `iter` starts at the first batch."""

    def __init__(self, dataset: tf.data.Dataset) -> None:
        self.dataset = dataset

    def __iter__(self):
        return self.dataset.as_numpy_iterator()
