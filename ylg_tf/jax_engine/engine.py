"""`train`: the run config's G/D trained under Keras's JAX backend, data parallel over devices.

The models, data order and latents are those of the TensorFlow engine: the same registered models
built from the same config, the same `tf.data` pipeline (one input pipeline per JAX process, its
batches as NumPy), and latents drawn on the host with the TF engine's stateless seeds
`(seed, step * (d_steps + 1) + use)`. `keras.distribution.DataParallel` replicates the variables
over all devices (or the `devices` given) and the batch is sharded over them; XLA then reduces
batch-norm statistics and gradients over the whole global batch, so the update does not depend
on the device count.
"""

from __future__ import annotations

import time

import jax
import keras
import ml_collections
import numpy as np
import tensorflow as tf
from absl import logging
from jax.sharding import NamedSharding, PartitionSpec

from ylg_tf.data.pipeline import per_replica_dataset_fn, resolve_source
from ylg_tf.jax_engine.step import GANModels, make_train_step
from ylg_tf.jax_engine.weights import (
    STEP_KEY,
    assign_model,
    model_arrays,
    optimizer_arrays,
    read_npz,
    write_npz,
)
from ylg_tf.models import build_discriminator, build_generator
from ylg_tf.runs import files
from ylg_tf.runs.config import parse_augment_policy
from ylg_tf.training.validation import validate
from ylg_tf.viz import image_grid

CHECKPOINTS = "jax_checkpoints"


class NonFiniteLossError(RuntimeError):
    """A loss became NaN or infinite; the last checkpoint was written before it."""


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
    """`[d_steps + 1, global batch, z_dim]`: the TF engine's latents for `step`, one row per use."""
    uses = config.train.d_steps + 1
    shape = [config.train.batch_size, config.model.generator.z_dim]
    return np.stack(
        [
            tf.random.stateless_normal(shape, [config.seed, step * uses + use]).numpy()
            for use in range(uses)
        ]
    )


def checkpoint_path(workdir: str, step: int) -> str:
    return f"{workdir}/{CHECKPOINTS}/step_{step:07d}.npz"


def latest_checkpoint(workdir: str) -> str | None:
    """The newest `step_*.npz` of the run directory, or None."""
    paths = sorted(tf.io.gfile.glob(f"{workdir}/{CHECKPOINTS}/step_*.npz"))
    return paths[-1] if paths else None


def save_checkpoint(workdir: str, models: GANModels, step: int, keep: int) -> str:
    """Weights of G, D, EMA G and both optimizers at `step`; keeps the newest `keep` files."""
    arrays = {STEP_KEY: np.asarray(step, np.int64)}
    arrays.update(model_arrays(models.generator, "G"))
    arrays.update(model_arrays(models.discriminator, "D"))
    if models.ema_generator is not None:
        arrays.update(model_arrays(models.ema_generator, "G_ema"))
    arrays.update(optimizer_arrays(models.g_optimizer, "g_optimizer"))
    arrays.update(optimizer_arrays(models.d_optimizer, "d_optimizer"))
    path = write_npz(checkpoint_path(workdir, step), arrays)
    for old in sorted(tf.io.gfile.glob(f"{workdir}/{CHECKPOINTS}/step_*.npz"))[:-keep]:
        tf.io.gfile.remove(old)
    return path


def restore_checkpoint(path: str, models: GANModels) -> int:
    """Loads a checkpoint into `models`; returns its step. Optimizer state is optional (a file
    written by `weights.save_models` from TF-engine models starts fresh optimizers)."""
    arrays = read_npz(path)
    assign_model(models.generator, arrays, "G")
    assign_model(models.discriminator, arrays, "D")
    if models.ema_generator is not None:
        has_ema = any(k.startswith("G_ema/") for k in arrays)
        assign_model(models.ema_generator, arrays, "G_ema" if has_ema else "G")
    for role in ("g_optimizer", "d_optimizer"):
        optimizer = getattr(models, role)
        values = [arrays[k] for k in sorted(arrays) if k.startswith(f"{role}/")]
        if values:
            if len(values) != len(optimizer.variables):
                raise ValueError(f"{path}: {len(values)} {role} arrays for a different model.")
            for variable, value in zip(optimizer.variables, values, strict=True):
                variable.assign(value)
    return int(arrays[STEP_KEY])


def _batches(config: ml_collections.ConfigDict, source):
    """Endless `(images, labels)` NumPy batches of this process's share of the global batch."""
    processes = jax.process_count()
    context = tf.distribute.InputContext(processes, jax.process_index(), processes)
    dataset = per_replica_dataset_fn(source, config.train.batch_size, config.seed)(context)
    return dataset.as_numpy_iterator()


def _write_samples(workdir: str, models: GANModels, config, num_classes: int, step: int) -> str:
    sampler = models.ema_generator or models.generator
    labels = np.arange(min(num_classes, 64), dtype=np.int32)
    z_dim = config.model.generator.z_dim
    z = np.random.default_rng(config.seed).standard_normal((len(labels), z_dim))
    images = np.asarray(sampler((z.astype(np.float32), labels), training=False))
    path = f"{workdir}/samples/jax_step_{step:07d}.png"
    tf.io.gfile.makedirs(f"{workdir}/samples")
    tf.io.write_file(path, tf.io.encode_png(image_grid(images, 8, max(1, 64 // images.shape[1]))))
    return path


def train(
    config: ml_collections.ConfigDict,
    workdir: str,
    steps: int | None = None,
    devices: list | None = None,
) -> dict[str, float]:
    """Trains until `config.train.steps` (or `steps` more) and returns the last step's metrics
    (plus `images_per_second` over the steps after the call's first, when there are any).

    Needs `KERAS_BACKEND=jax` set before Keras was first imported. Resumes from the newest file
    in `<workdir>/jax_checkpoints/` (the format of `ylg_tf.jax_engine.weights`, loadable into
    TF-engine models), written every `checkpoint_every` steps and at the end; sample grids of the
    EMA generator go to `<workdir>/samples/jax_step_*.png`.
    """
    if config.train.ada_target or parse_augment_policy(config.train.augment):
        raise ValueError(
            "The JAX engine has no augmentation of D's inputs: config.train.ada_target="
            f"{config.train.ada_target!r}, config.train.augment={config.train.augment!r}; set "
            "them to 0 and '' or train with the TensorFlow engine."
        )
    if keras.backend.backend() != "jax":
        raise RuntimeError(
            f"The JAX engine needs Keras's JAX backend, but Keras runs on "
            f"{keras.backend.backend()!r}: set KERAS_BACKEND=jax before Python imports Keras."
        )
    validate(config)
    train_config = config.train
    if train_config.mixed_precision not in ("", "bfloat16"):
        raise ValueError(
            f"config.train.mixed_precision={train_config.mixed_precision!r}: the JAX engine "
            "accepts '' (float32) or 'bfloat16'."
        )
    tf.config.set_visible_devices([], "GPU")  # TensorFlow only reads data here
    keras.utils.set_random_seed(config.seed)
    precision = train_config.mixed_precision
    keras.mixed_precision.set_global_policy(f"mixed_{precision}" if precision else "float32")
    distribution = data_parallel(devices)
    replicas = int(np.prod(distribution.device_mesh.shape))
    batch = train_config.batch_size
    if batch % (replicas * jax.process_count()) or batch < 1:
        raise ValueError(
            f"config.train.batch_size={batch} must be a positive multiple of the "
            f"{replicas * jax.process_count()} devices."
        )
    files.check_directory(workdir)
    source = resolve_source(**config.data)
    num_classes = source.info.num_classes
    with distribution.scope():
        models = build_models(config, num_classes)
    step = 0
    if latest := latest_checkpoint(workdir):
        step = restore_checkpoint(latest, models)
        logging.info("Resumed from %s at step %d.", latest, step)
    total = train_config.steps if steps is None else step + steps

    mesh = distribution.device_mesh.backend_mesh
    batch_sharding = NamedSharding(mesh, PartitionSpec(None, distribution.batch_dim_name))
    replicated = NamedSharding(mesh, PartitionSpec())
    train_step = make_train_step(
        models, train_config.d_steps, train_config.ema_decay, train_config.ema_start, replicated
    )
    state = jax.device_put(models.state(), replicated)
    shard = jax.process_index() * batch // jax.process_count()
    local = slice(shard, shard + batch // jax.process_count())
    iterator = _batches(config, source)

    def global_array(local_array):
        return jax.make_array_from_process_local_data(batch_sharding, local_array)

    metrics: dict[str, float] = {}
    first, started = step, None
    while step < total:
        images, labels = zip(*(next(iterator) for _ in range(train_config.d_steps)), strict=True)
        state, step_metrics = train_step(
            state,
            global_array(np.stack(images)),
            global_array(np.stack(labels)),
            global_array(latents(config, step)[:, local]),
            np.int64(step),
        )
        step += 1
        metrics = {k: float(v) for k, v in step_metrics.items()}
        if not all(np.isfinite(list(metrics.values()))):
            raise NonFiniteLossError(
                f"Non-finite loss at step {step}: {metrics}. The last good checkpoint is "
                f"{latest_checkpoint(workdir)} and was left as it is."
            )
        if started is None:  # throughput counts the steps after the first (compilation)
            started = time.perf_counter()
        elif step == total:
            metrics["images_per_second"] = (
                (step - first - 1) * batch / (time.perf_counter() - started)
            )
        if step % train_config.log_every == 0 or step == total:
            logging.info("step %d: %s", step, metrics)
        chief = jax.process_index() == 0
        if step % train_config.checkpoint_every == 0 or step == total:
            models.assign(state)
            if chief:
                save_checkpoint(workdir, models, step, train_config.keep_checkpoints)
        if chief and (step % train_config.sample_every == 0 or step == total):
            models.assign(state)
            _write_samples(workdir, models, config, num_classes, step)
    models.assign(state)
    return metrics
