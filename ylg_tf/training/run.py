"""A trained run, loaded back from its run directory: what evaluation, sampling and export use.

A run directory (WORKSPACE.md) holds `config.json`, `run.json` (what the run learnt about its
dataset: the number of classes and their names) and `checkpoints/`. `load_run` rebuilds the
generator from the config and restores it from a checkpoint: the EMA generator when the run kept
one, the raw one otherwise. Nothing else of the checkpoint (D, optimizers) is read.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import keras
import ml_collections
import tensorflow as tf
from absl import logging

from ylg_tf.data import DatasetInfo, resolve_source
from ylg_tf.models import Generator, build_generator
from ylg_tf.training.config import saved_config, validate

__all__ = ["Run", "load_run", "model_weights", "read_run_info", "write_run_info"]

RUN_INFO = "run.json"


@dataclasses.dataclass(frozen=True)
class Run:
    """A run loaded by `load_run`.

    Attributes:
      workdir: the run directory.
      config: its resolved config (`config.json`).
      generator: the restored generator (EMA weights when `ema`).
      step: the training step of the restored checkpoint.
      info: the dataset's `DatasetInfo` (`num_classes`, `class_names`, ...).
      ema: whether `generator` holds the EMA weights.
      checkpoint: path of the restored checkpoint.
    """

    workdir: Path
    config: ml_collections.ConfigDict
    generator: Generator
    step: int
    info: DatasetInfo
    ema: bool
    checkpoint: str


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


def write_run_info(workdir: str | Path, info: DatasetInfo) -> Path:
    """Writes `run.json`: the dataset facts a run needs to be rebuilt without its data."""
    path = Path(workdir) / RUN_INFO
    path.parent.mkdir(parents=True, exist_ok=True)
    content = {
        "dataset": info.name,
        "resolution": info.resolution,
        "num_classes": info.num_classes,
        "num_examples": info.num_examples,
        "class_names": list(info.class_names) if info.class_names else None,
    }
    path.write_text(json.dumps(content, indent=2) + "\n")
    return path


def read_run_info(workdir: str | Path, config: ml_collections.ConfigDict) -> DatasetInfo:
    """The run's `DatasetInfo` from `run.json`, or from the dataset for runs written before it."""
    path = Path(workdir) / RUN_INFO
    if path.exists():
        content = json.loads(path.read_text())
        names = content.get("class_names")
        return DatasetInfo(
            name=content["dataset"],
            resolution=content["resolution"],
            num_classes=content["num_classes"],
            num_examples=content.get("num_examples"),
            class_names=tuple(names) if names else None,
        )
    logging.info("%s has no %s; reading the dataset's info.", workdir, RUN_INFO)
    data = config.data
    return resolve_source(
        data.name,
        data.resolution,
        data.split,
        data.data_dir or None,
        data.manual_dir or None,
        data.strict,
    ).info


def local_workdir(workdir: str | Path) -> Path:
    """A run directory as a local path; URLs such as gs:// are refused by name.

    `pathlib` would turn `gs://bucket/run` into the relative path `gs:/bucket/run` and write
    there silently; run directories must be on a local or shared file system (WORKSPACE.md).
    """
    if "://" in str(workdir):
        raise ValueError(
            f"Run directory {str(workdir)!r} is a URL; work directories must be on a local or "
            "shared file system (gs:// work directories are not supported yet; tfds data may be "
            "on gs://)."
        )
    return Path(workdir)


def load_run(workdir: str | Path, *, step: int | None = None, use_ema: bool = True) -> Run:
    """Rebuilds a run's generator and restores its weights.

    Args:
      workdir: the run directory.
      step: the checkpoint `ckpt-<step>` to restore; None for the latest.
      use_ema: restore the EMA generator when the checkpoint has one (the raw one otherwise).

    Raises:
      FileNotFoundError: no `config.json` or no (such) checkpoint in the run directory.
      ValueError: the checkpoint does not fit the config's generator.
    """
    workdir = local_workdir(workdir)
    config_path = workdir / "config.json"
    if not config_path.exists():
        raise FileNotFoundError(f"{workdir} is not a run directory: it has no config.json.")
    config = saved_config(json.loads(config_path.read_text()))
    validate(config)
    directory = workdir / "checkpoints"
    if step is None:
        checkpoint = tf.train.latest_checkpoint(str(directory))
        if checkpoint is None:
            raise FileNotFoundError(f"{directory} holds no checkpoint; train the run first.")
    else:
        checkpoint = str(directory / f"ckpt-{step}")
        if not tf.io.gfile.exists(checkpoint + ".index"):
            available = sorted(p.name[: -len(".index")] for p in directory.glob("ckpt-*.index"))
            raise FileNotFoundError(f"No checkpoint {checkpoint}; the run has {available}.")
    saved = dict(tf.train.list_variables(checkpoint))
    ema = use_ema and any(name.startswith(("ema_generator/", "ema_generator_")) for name in saved)

    info = read_run_info(workdir, config)
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")  # variables are float32 in every run
    try:
        generator = build_generator(config, info.num_classes, name="G_ema" if ema else "G")
    finally:
        keras.mixed_precision.set_global_policy(previous)
    step_variable = tf.Variable(0, dtype=tf.int64, trainable=False)
    slot = "ema_generator" if ema else "generator"
    weights = model_weights(generator)
    _check_shapes(weights, saved, slot, checkpoint, config_path)
    tracked = {slot: generator, f"{slot}_weights": weights}
    restore = tf.train.Checkpoint(step=step_variable, **tracked).restore(checkpoint)
    restore.expect_partial()  # D and the optimizers stay unread
    try:
        restore.assert_existing_objects_matched()
    except AssertionError as error:
        raise ValueError(
            f"{checkpoint} does not fit the generator of {config_path}: {error}"
        ) from error
    logging.info(
        "Loaded the %s generator of %s at step %d.",
        "EMA" if ema else "raw",
        checkpoint,
        int(step_variable.numpy()),
    )
    return Run(
        workdir=workdir,
        config=config,
        generator=generator,
        step=int(step_variable.numpy()),
        info=info,
        ema=ema,
        checkpoint=checkpoint,
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
