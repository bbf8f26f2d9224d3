"""Sample grids of a generator: one per truncation threshold and one per class.

Column k of every grid uses the same latent seed, so along a class grid's rows (one per threshold)
one sees what truncation does to the same samples, and along a truncation grid's rows (one per
class) the same latents rendered as each class.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf

from ylg_tf.runs import files
from ylg_tf.runs.loading import load_run
from ylg_tf.sampling.truncation import parse_truncations, truncated_normal, truncation_label
from ylg_tf.viz.grids import image_grid

__all__ = ["sample_grid_images", "sample_run", "write_sample_grids"]

MAX_DEFAULT_CLASSES = 10


def sample_grid_images(
    generator,
    classes: Sequence[int],
    truncations: Sequence[float | None],
    per_class: int = 8,
    seed: int = 0,
    z_dim: int | None = None,
) -> np.ndarray:
    """Images `[len(truncations), len(classes), per_class, H, W, 3]` in [-1, 1].

    The latents of column k are `truncated_normal` draws of `seed` (the same for every class and
    threshold, up to the values a threshold rejects).
    """
    z_dim = z_dim or generator.z_dim
    rows = []
    for threshold in truncations:
        z = truncated_normal((per_class, z_dim), threshold, seed=seed)
        z = tf.tile(z, [len(classes), 1])
        labels = tf.constant(np.repeat(np.asarray(classes, np.int32), per_class))
        images = np.asarray(generator((z, labels), training=False))
        rows.append(images.reshape(len(classes), per_class, *images.shape[1:]))
    return np.stack(rows)


def write_sample_grids(
    generator,
    directory: str | Path,
    truncations: Sequence[float | None] | str,
    classes: Sequence[int],
    *,
    per_class: int = 8,
    seed: int = 0,
    prefix: str = "",
    scale: int | None = None,
) -> list[Path]:
    """Writes `{prefix}truncation_<t>.png` (a row per class) and `{prefix}class_<c>.png` (a row
    per threshold, in the order given) into `directory`; returns the paths written."""
    truncations = parse_truncations(truncations)
    images = sample_grid_images(generator, classes, truncations, per_class, seed)
    scale = scale or max(1, 64 // images.shape[-2])  # at least 64px a sample
    written = []
    for t, threshold in enumerate(truncations):
        grid = image_grid(images[t].reshape(-1, *images.shape[-3:]), per_class, scale)
        name = f"{prefix}truncation_{truncation_label(threshold)}.png"
        written.append(files.as_path(files.write_png(files.join(directory, name), grid)))
    for c, label in enumerate(classes):
        grid = image_grid(images[:, c].reshape(-1, *images.shape[-3:]), per_class, scale)
        path = files.join(directory, f"{prefix}class_{label}.png")
        written.append(files.as_path(files.write_png(path, grid)))
    return written


def sample_run(
    workdir: str | Path,
    truncations: Sequence[float | None] | str = (0.5, 1.0, 2.0),
    *,
    classes: Sequence[int] | None = None,
    per_class: int = 8,
    seed: int = 0,
    step: int | None = None,
    use_ema: bool = True,
) -> list[Path]:
    """Grids of a trained run into `<workdir>/samples/step_<step>_{truncation_<t>,class_<c>}.png`.

    Args:
      workdir: the run directory.
      truncations: thresholds (None / "none" = untruncated), e.g. `"0.5,1.0,2.0,none"`.
      classes: class labels to draw (default: the first ten).
      per_class: samples per row.
      seed: latent seed.
      step, use_ema: which checkpoint and generator (`load_run`).
    """
    run = load_run(workdir, step=step, use_ema=use_ema)
    files.check_directory(run.directory.samples)
    count = run.info.num_classes
    classes = list(range(min(count, MAX_DEFAULT_CLASSES))) if classes is None else list(classes)
    bad = [c for c in classes if not 0 <= int(c) < count]
    if bad:
        raise ValueError(f"classes {bad} are not labels of this run: expected 0..{count - 1}.")
    return write_sample_grids(
        run.generator,
        run.directory.samples,
        truncations,
        classes,
        per_class=per_class,
        seed=seed,
        prefix=f"step_{run.step:07d}_",
    )
