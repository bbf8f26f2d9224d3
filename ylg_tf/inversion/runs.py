"""Inversion of a trained run: its generator (EMA when kept) and discriminator from a checkpoint."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf
from absl import logging

from ylg_tf.inversion.driver import InversionResult, invert
from ylg_tf.inversion.losses import check_method
from ylg_tf.inversion.outputs import write_inversion
from ylg_tf.inversion.targets import check_labels, load_target
from ylg_tf.models import build_discriminator
from ylg_tf.runs import files
from ylg_tf.runs.directory import RunDirectory
from ylg_tf.runs.loading import Run, float32_models, load_run, model_weights
from ylg_tf.runs.weights import load_models as load_weight_file
from ylg_tf.sampling import truncated_normal

__all__ = ["RunInversion", "invert_run", "load_discriminator", "load_models", "progress_logger"]


def load_discriminator(run: Run):
    """Rebuilds the run's discriminator and restores it from the checkpoint of `run`."""
    with float32_models():
        discriminator = build_discriminator(run.config, run.info.num_classes)
    if run.checkpoint.endswith(".npz"):  # a JAX-engine run
        load_weight_file(run.checkpoint, discriminator=discriminator)
        return discriminator
    restore = tf.train.Checkpoint(discriminator_weights=model_weights(discriminator))
    status = restore.restore(run.checkpoint)
    status.expect_partial()  # G, EMA G and the optimizers stay unread
    try:
        status.assert_existing_objects_matched()
    except AssertionError as error:
        raise ValueError(
            f"{run.checkpoint} does not fit the run's discriminator: {error}"
        ) from error
    return discriminator


def load_models(workdir: str | Path, step: int | None = None, use_ema: bool = True):
    """`(run, discriminator)`: `load_run`'s generator (EMA when kept) and the matching D."""
    run = load_run(workdir, step=step, use_ema=use_ema)
    return run, load_discriminator(run)


def progress_logger(total_steps: int, every: int = 50) -> Callable[[int, float], None]:
    """A `progress` callback for `invert` that logs steps/s, the ETA and the loss every `every`
    steps (the loss with 4 significant digits: inversion losses are often below 1e-3)."""
    last = {"step": 0, "time": time.perf_counter()}

    def report(step: int, loss: float) -> None:
        if step % every and step != total_steps:
            return
        now = time.perf_counter()
        rate = (step - last["step"]) / max(now - last["time"], 1e-9)
        last.update(step=step, time=now)
        logging.info(
            "step %d/%d | %.1f steps/s | ETA %.0f s | loss %.4g",
            step, total_steps, rate, (total_steps - step) / max(rate, 1e-9), loss,
        )  # fmt: skip

    return report


@dataclasses.dataclass
class RunInversion:
    """`invert_run`'s outcome: the result, its targets, where it was written, and notes."""

    result: InversionResult
    targets: np.ndarray
    outdir: Path
    notes: list[str]
    true_z: np.ndarray | None = None


def invert_run(
    workdir: str | Path,
    *,
    step: int | None = None,
    image_paths: Sequence[str] = (),
    from_samples: int = 0,
    labels: Sequence[int] = (),
    method: str = "ylg",
    outdir: str | Path | None = None,
    progress: Callable[[int, float], None] | None = None,
    **invert_kwargs,
) -> RunInversion:
    """Inverts image files, or `from_samples` images the run generates from known latents.

    Args:
      workdir: a training run directory.
      step: checkpoint step (None: the latest).
      image_paths: image files (any size and channel count; converted with notes).
      from_samples: instead, invert this many generated images (truncated at `truncation`,
        with a seed different from the inversion's).
      labels: one label for every image, or one per image; for samples, default 0, 1, 2, ...
      method: one of `METHODS`.
      outdir: default `<workdir>/inversion/<method>`.
      progress: passed to `invert`.
      **invert_kwargs: `steps`, `restarts`, `heads`, `seed`, ... of `invert`.
    """
    check_method(method)
    if bool(image_paths) == bool(from_samples):
        raise ValueError("Give either image paths or from_samples > 0 (exactly one of them).")
    # The checks a user can fail come first, from the run's JSON files: no model is built yet.
    directory = RunDirectory(workdir)
    config = directory.read_config()
    info = directory.read_info(config)
    resolution, num_classes = int(config.data.resolution), int(info.num_classes)
    count = len(image_paths) or int(from_samples)
    labels = list(labels)
    if not labels:
        if image_paths:
            raise ValueError("Inverting image files needs --label (one, or one per image).")
        labels = [k % num_classes for k in range(count)]
    if len(labels) == 1:
        labels = labels * count
    if len(labels) != count:
        raise ValueError(f"Got {len(labels)} labels for {count} images; give one or {count}.")
    labels = check_labels(labels, num_classes)
    outdir = files.as_path(outdir) if outdir else directory.inversion(method)
    files.check_directory(outdir)
    notes: list[str] = []
    if image_paths:
        loaded = [load_target(path, resolution) for path in image_paths]
        targets = np.stack([image for image, _ in loaded])
        notes += [note for _, image_notes in loaded for note in image_notes]

    run, discriminator = load_models(workdir, step)
    notes.insert(
        0, f"Loaded the {'EMA' if run.ema else 'raw'} generator and D of {run.checkpoint}."
    )
    true_z = None
    if not image_paths:
        seed = int(invert_kwargs.get("seed", 0)) + 10_000  # not the inversion's own seed
        truncation = invert_kwargs.get("truncation", 2.0)
        true_z = truncated_normal((count, run.generator.z_dim), threshold=truncation, seed=seed)
        targets = np.asarray(run.generator((true_z, labels), training=False), np.float32)
        true_z = true_z.numpy()
        notes.append(f"Inverting {count} generated images (latent seed {seed}).")
    result = invert(run.generator, discriminator, targets, labels, method, progress=progress,
                    **invert_kwargs)  # fmt: skip
    write_inversion(outdir, result, targets, true_z=true_z)
    logging.info("Wrote the inversion to %s.", outdir)
    return RunInversion(result, targets, outdir, notes, true_z)
