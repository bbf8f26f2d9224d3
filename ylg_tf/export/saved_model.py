"""Exports a generator as a SavedModel with serving signatures (TensorFlow Serving layout).

Signatures (`saved_model_cli show --dir DIR --all` lists them):

- `generate` (also `serving_default`): `z` float32 `[N, z_dim]`, `labels` int32 `[N]` ->
  `images` float32 `[N, r, r, 3]` in [-1, 1] and `images_uint8` uint8 (`round((x + 1) * 127.5)`).
- `sample`: `num` int32 scalar (>= 1), `seed` int64 scalar, `truncation` float32 scalar (0: an
  untruncated normal; negative, NaN or infinite are refused), `labels` int32 `[num]`, `[1]`
  (every sample that class) or `[0]` (random classes) -> `images`, `images_uint8`, and the `z`
  and `labels` used. The latents are `ylg_tf.sampling.truncated_normal((num, z_dim), truncation,
  seed)`, bit for bit.
- `attention` (generators with attention only): `z`, `labels` -> `images` and the attention
  probabilities `attention` `[N, heads, queries, keys]` (`attention_<k>` for the k-th layer, in
  block order, when the generator has several).

Inputs of the wrong dtype are refused by the signatures themselves; a `z` that is not `[N, z_dim]`
with N >= 1 or holds NaN or infinite values, mismatched batch sizes, labels outside
`[0, num_classes)` and a bad `num` or `truncation` fail with an `InvalidArgumentError` whose
message names the input and what is accepted ("assertion failed: [generate: z must be ...]").
Only inference-mode computations are exported (no training state changes).
"""

from __future__ import annotations

from pathlib import Path

import keras
import tensorflow as tf

from ylg_tf.runs import files
from ylg_tf.runs.loading import load_run
from ylg_tf.sampling.truncation import truncated_normal

__all__ = ["METADATA_FILE", "SIGNATURES", "export_generator", "export_run", "to_uint8"]

SIGNATURES = ("generate", "sample", "attention")
METADATA_FILE = "assets.extra/ylg_tf.json"


def to_uint8(images: tf.Tensor) -> tf.Tensor:
    """Images in [-1, 1] -> uint8 in [0, 255], rounded to the nearest level."""
    return tf.cast(tf.round(tf.clip_by_value((images + 1.0) * 127.5, 0.0, 255.0)), tf.uint8)


def _after_checks(checks, tensors):
    """`tensors` gated on `checks`, `(condition, message)` pairs asserted in order.

    Each assertion runs only after the previous one passed, so the first problem is the one
    reported; the returned tensors depend on all of them, so nothing that reads them (a label
    gather, a shape) runs on inputs that failed.
    """
    for condition, message in checks:
        with tf.control_dependencies(tensors):
            check = tf.debugging.Assert(condition, [message])
        with tf.control_dependencies([check]):
            tensors = [tf.identity(t) for t in tensors]
    return tensors


def _checked(name: str, z: tf.Tensor, labels: tf.Tensor, z_dim: int, num_classes: int):
    """Runtime checks of a signature's inputs (the graph does not check shapes by itself)."""
    shape = tf.shape(z)
    rows = shape[0]
    return _after_checks(
        [
            (
                (tf.rank(z) == 2) & (shape[-1] == z_dim),
                f"{name}: z must be float32 [N, {z_dim}]",
            ),
            (rows >= 1, f"{name}: z must have N >= 1 rows (one per image), got 0"),
            (
                tf.reduce_all(tf.math.is_finite(z)),
                f"{name}: z must be finite (it has NaN or infinite values)",
            ),
            (tf.size(labels) == rows, f"{name}: labels must be int32 [N], one per row of z"),
            (
                tf.reduce_all((labels >= 0) & (labels < num_classes)),
                f"{name}: labels must be in [0, {num_classes})",
            ),
        ],
        [z, tf.reshape(labels, [-1])],
    )


def export_generator(
    generator: keras.Model,
    directory: str | Path,
    *,
    num_classes: int | None = None,
    z_dim: int | None = None,
    metadata: dict | None = None,
) -> Path:
    """Writes `generator` as a SavedModel into `directory` (which must not exist yet).

    Args:
      generator: a `ylg_tf.models.Generator` (called as `generator((z, labels))`).
      directory: the SavedModel directory, e.g. `<run>/export/<step>` for TF Serving.
      num_classes: label count (default `generator.num_classes`).
      z_dim: latent size (default `generator.z_dim`).
      metadata: extra facts written with z_dim, num_classes and the signatures to
        `assets.extra/ylg_tf.json` (class names, step, ...).

    Returns:
      `directory`.
    """
    directory = files.as_path(directory)
    num_classes = int(num_classes or generator.num_classes)
    z_dim = int(z_dim or generator.z_dim)
    z_spec = tf.TensorSpec([None, z_dim], tf.float32, name="z")
    labels_spec = tf.TensorSpec([None], tf.int32, name="labels")
    _, probe = generator(
        (tf.zeros([1, z_dim]), tf.zeros([1], tf.int32)),
        training=False,
        return_attention_scores=True,
    )
    # Output names kept from the single-map contract: `attention` for one layer.
    names = ["attention"] if len(probe) == 1 else [f"attention_{k}" for k in range(len(probe))]

    def generate(z, labels):
        z, labels = _checked("generate", z, labels, z_dim, num_classes)
        images = generator((z, labels), training=False)
        return {"images": images, "images_uint8": to_uint8(images)}

    def sample(num, seed, truncation, labels):
        count = tf.size(labels)
        num, labels = _after_checks(
            [
                (num >= 1, "sample: num must be an int32 >= 1"),
                (
                    (count == 0) | (count == 1) | (count == num),
                    "sample: labels must be int32 [num], [1] (one class) or [0] (random)",
                ),
            ],
            [num, labels],
        )
        seeds = tf.stack([seed, tf.constant(1, tf.int64)])
        labels = tf.case(
            [
                (
                    count == 0,
                    lambda: tf.random.stateless_uniform(
                        [num], seeds, minval=0, maxval=num_classes, dtype=tf.int32
                    ),
                ),
                (count == 1, lambda: tf.fill([num], tf.reshape(labels, [-1])[0])),
            ],
            default=lambda: tf.reshape(labels, [-1]),
        )
        z = truncated_normal(tf.stack([num, z_dim]), truncation, seed=seed)
        z, labels = _checked("sample", z, labels, z_dim, num_classes)
        images = generator((z, labels), training=False)
        return {"images": images, "images_uint8": to_uint8(images), "z": z, "labels": labels}

    def attention_maps(z, labels):
        z, labels = _checked("attention", z, labels, z_dim, num_classes)
        images, probs = generator((z, labels), training=False, return_attention_scores=True)
        return {"images": images, **dict(zip(names, probs, strict=True))}

    archive = keras.export.ExportArchive()
    archive.track(generator)
    archive.add_endpoint("generate", generate, input_signature=[z_spec, labels_spec])
    archive.add_endpoint(
        "sample",
        sample,
        input_signature=[
            tf.TensorSpec([], tf.int32, name="num"),
            tf.TensorSpec([], tf.int64, name="seed"),
            tf.TensorSpec([], tf.float32, name="truncation"),
            labels_spec,
        ],
    )
    signatures = ["generate", "sample"]
    if probe:
        archive.add_endpoint("attention", attention_maps, input_signature=[z_spec, labels_spec])
        signatures.append("attention")
    if files.exists(directory):
        raise FileExistsError(f"{directory} exists; remove it or export to another directory.")
    # Written aside and renamed: TF Serving never sees a half-written version.
    with files.atomic_directory(directory) as scratch:
        archive.write_out(scratch, verbose=False)
        content = {
            "z_dim": z_dim,
            "num_classes": num_classes,
            "resolution": int(generator.resolution),
            "signatures": signatures,
            **(metadata or {}),
        }
        files.write_json(files.join(scratch, METADATA_FILE), content)
    return directory


def export_run(
    workdir: str | Path,
    *,
    step: int | None = None,
    use_ema: bool = True,
    overwrite: bool = False,
) -> Path:
    """Exports a run's generator (EMA when kept) to `<workdir>/export/<step>/`.

    The numbered version directory is what TensorFlow Serving expects under its model base path
    (`--model_base_path=<workdir>/export`); the highest number is served.
    """
    run = load_run(workdir, step=step, use_ema=use_ema)
    directory = run.directory.export(run.step)
    files.check_directory(directory)
    if files.exists(directory):
        if not overwrite:
            raise FileExistsError(f"{directory} exists; pass overwrite=True (--overwrite).")
        files.remove_tree(directory)
    metadata = {
        "step": run.step,
        "generator": "ema" if run.ema else "raw",
        "dataset": run.info.name,
        "class_names": list(run.info.class_names) if run.info.class_names else None,
        "variant": run.config.model.variant,
    }
    return export_generator(
        run.generator, directory, num_classes=run.info.num_classes, metadata=metadata
    )
