"""A trained run, loaded back from its run directory: what evaluation, sampling, export and
inversion use.

`load_run` rebuilds the generator from the run's `config.json` and `run.json` and restores it
from a checkpoint of either engine (the TF engine's `ckpt-<step>`, the JAX engine's
`step_<step>.npz`): the EMA generator when the run kept one, the raw one otherwise. Nothing else
of the checkpoint (D, optimizers) is read. Without `step`, the newest checkpoint that restores is
used, with a one-line warning for each newer one that does not (`ylg_tf.runs.checkpoints`).
"""

from __future__ import annotations

import dataclasses

import keras
import ml_collections
import tensorflow as tf
from absl import logging

from ylg_tf.data import DatasetInfo
from ylg_tf.models import Generator, build_generator
from ylg_tf.runs.checkpoints import (
    NPZ_CHECKPOINTS,
    TF_CHECKPOINTS,
    checkpoint_steps,
    restore_newest,
)
from ylg_tf.runs.directory import RunDirectory
from ylg_tf.runs.weights import assign_model, has_role, read_npz

__all__ = ["Run", "float32_models", "load_run", "model_weights"]


@dataclasses.dataclass(frozen=True)
class Run:
    """A run loaded by `load_run`.

    Attributes:
      workdir: the run directory (a `Path`, or a string for a URL).
      config: its resolved config (`config.json`).
      generator: the restored generator (EMA weights when `ema`).
      step: the training step of the restored checkpoint.
      info: the dataset's `DatasetInfo` (`num_classes`, `class_names`, ...).
      ema: whether `generator` holds the EMA weights.
      checkpoint: path of the restored checkpoint (a `.npz` file for a JAX-engine run).
      directory: the `RunDirectory` (every path of the run).
    """

    workdir: object
    config: ml_collections.ConfigDict
    generator: Generator
    step: int
    info: DatasetInfo
    ema: bool
    checkpoint: str
    directory: RunDirectory


def model_weights(model: keras.Model) -> dict:
    """Every weight of a Keras model, by its path below the model (`block_0/conv_1/vector_u`).

    Checkpoints track this dict next to the model itself: Keras 3 does not make lists of layers
    (the models' residual blocks) trackable by `tf.train.Checkpoint` (keras-team/keras#19425),
    so the model object alone reaches only the weights of layers held in plain attributes.
    Paths do not include the model's name, so `G` and `G_ema` read the same entries.
    """
    weights = {}
    for weight in model.weights:
        key = weight.path.split("/", 1)[-1]
        if key in weights:
            raise ValueError(f"{model.name} has two weights at {key!r}; cannot checkpoint them.")
        weights[key] = weight
    return weights


class float32_models:  # noqa: N801 - used like a function, in a `with`
    """Builds models in float32 whatever the global policy (checkpoint variables are float32)."""

    def __enter__(self) -> None:
        self._previous = keras.mixed_precision.global_policy()
        keras.mixed_precision.set_global_policy("float32")

    def __exit__(self, *exc) -> None:
        keras.mixed_precision.set_global_policy(self._previous)


def load_run(workdir, *, step: int | None = None, use_ema: bool = True) -> Run:
    """Rebuilds a run's generator and restores its weights.

    Args:
      workdir: the run directory (a path, a URL such as `gs://bucket/runs/a`, or a
        `RunDirectory`).
      step: the checkpoint of this step to restore; None for the newest that restores.
      use_ema: restore the EMA generator when the checkpoint has one (the raw one otherwise).

    Raises:
      FileNotFoundError: no `config.json` or no (such) checkpoint in the run directory.
      ylg_tf.runs.CheckpointError: checkpoints exist but none fits or reads.
    """
    directory = RunDirectory(workdir)
    config = directory.read_config()
    info = directory.read_info(config)
    built: dict = {}

    def restore(prefix: str) -> None:
        # Not `tf.train.list_variables`: it takes a prefix that the file system calls a
        # directory (`ram://` calls every prefix one) for a directory of checkpoints.
        saved = tf.compat.v1.train.NewCheckpointReader(prefix).get_variable_to_shape_map()
        ema = use_ema and any(name.startswith("ema_generator") for name in saved)
        slot = "ema_generator" if ema else "generator"
        with float32_models():
            generator = build_generator(config, info.num_classes, name="G_ema" if ema else "G")
        weights = model_weights(generator)
        _check_shapes(weights, saved, slot, prefix, directory.config_file)
        step_variable = tf.Variable(0, dtype=tf.int64, trainable=False)
        tracked = {slot: generator, f"{slot}_weights": weights}
        status = tf.train.Checkpoint(step=step_variable, **tracked).restore(prefix)
        status.expect_partial()  # D and the optimizers stay unread
        status.assert_existing_objects_matched()
        built.update(generator=generator, ema=ema, step=int(step_variable.numpy()))

    def restore_npz(path: str) -> None:
        arrays = read_npz(path)
        ema = use_ema and has_role(arrays, "G_ema")
        with float32_models():
            generator = build_generator(config, info.num_classes, name="G_ema" if ema else "G")
        assign_model(generator, arrays, "G_ema" if ema else "G")
        built.update(generator=generator, ema=ema, step=int(arrays["step"]))

    jax_run = bool(checkpoint_steps(directory.checkpoints, NPZ_CHECKPOINTS))
    restored = restore_newest(
        restore_npz if jax_run else restore,
        directory.checkpoints,
        step=step,
        form=NPZ_CHECKPOINTS if jax_run else TF_CHECKPOINTS,
    )
    if restored is None:
        raise FileNotFoundError(
            f"{directory.checkpoints} holds no checkpoint; train the run first."
        )
    checkpoint = restored[1]
    logging.info(
        "Loaded the %s generator of %s at step %d.",
        "EMA" if built["ema"] else "raw",
        checkpoint,
        built["step"],
    )
    return Run(
        workdir=directory.path,
        config=config,
        generator=built["generator"],
        step=built["step"],
        info=info,
        ema=built["ema"],
        checkpoint=checkpoint,
        directory=directory,
    )


def _check_shapes(weights: dict, saved: dict, slot: str, checkpoint: str, config_path) -> None:
    """Refuses a checkpoint whose `<slot>_weights` entries lack or misshape a generator weight."""
    problems = []
    for key, weight in weights.items():
        escaped = key.replace(".", "..").replace("/", ".S")  # the checkpoint's key escaping
        shape = saved.get(f"{slot}_weights/{escaped}/.ATTRIBUTES/VARIABLE_VALUE")
        if shape is None:
            problems.append(f"{key} missing")
        elif list(shape) != list(weight.shape):
            problems.append(f"{key} {list(shape)} in the checkpoint vs {list(weight.shape)}")
    if problems:
        raise ValueError(
            f"{checkpoint} does not fit the generator of {config_path} ({len(problems)} of "
            f"{len(weights)} weights differ, e.g. {'; '.join(problems[:3])}). Checkpoints "
            "written before every weight was saved by path cannot be loaded."
        )
