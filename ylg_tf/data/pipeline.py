"""The entry points: a dataset by name, unbatched or as per-replica batches for `tf.distribute`.

Names: `"digits"` (embedded, no network), `"folder:/path"` (an image folder), anything else is a
TensorFlow Datasets name. Records are sharded per input pipeline, shuffled and repeated before
decoding; batches are per replica (`InputContext.get_per_replica_batch_size`), with
`drop_remainder=True` so every step sees full, equal batches on every replica.
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

from ylg_tf.data import digits, image_folder, tfds_source
from ylg_tf.data.source import DatasetInfo, Source

__all__ = ["build_dataset", "distributed_batches", "per_replica_dataset_fn", "resolve_source"]

ACCEPTED_NAMES = (
    "'digits' (embedded, no download), 'folder:/path/to/images' (one sub-folder per class), or a "
    "TensorFlow Datasets name such as 'cifar10', 'imagenet2012', 'celeb_a', 'lsun/bedroom'"
)


def resolve_source(
    name: str,
    resolution: int,
    split: str = "train",
    data_dir: str | None = None,
    manual_dir: str | None = None,
    strict: bool = False,
) -> Source:
    """Maps a dataset name to its `Source`; image-folder checks and tfds preparation run here.

    The arguments are a run config's `data` section (`resolve_source(**config.data)`); an empty
    `data_dir` or `manual_dir` means tfds's default.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"dataset name must be a non-empty string, got {name!r}: {ACCEPTED_NAMES}")
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 1:
        raise ValueError(f"resolution must be a positive integer, got {resolution!r}")
    if name == digits.NAME:
        return digits.digits_source(resolution, split)
    if name.startswith(image_folder.PREFIX):
        root = name[len(image_folder.PREFIX) :]
        if not root:
            raise ValueError(f"dataset name {name!r} has no folder; use {ACCEPTED_NAMES}")
        return image_folder.image_folder_source(root, resolution, split, strict=strict)
    return tfds_source.tfds_source(name, resolution, split, data_dir or None, manual_dir or None)


def build_dataset(
    name: str,
    resolution: int,
    split: str = "train",
    data_dir: str | None = None,
    manual_dir: str | None = None,
    strict: bool = False,
    *,
    input_context: tf.distribute.InputContext | None = None,
) -> tuple[tf.data.Dataset, DatasetInfo]:
    """Returns `(dataset, info)`: unbatched `(image, label)` in a fixed order, read once.

    Args:
      name: `"digits"`, `"folder:/path"` or a tfds name (`"cifar10"`, `"lsun/bedroom"`, ...).
      resolution: side of the square float32 `[r, r, 3]` images, values in [-1, 1].
      split: `"train"` for digits and folders; any tfds split for tfds datasets.
      data_dir: tfds data directory (None: `~/tensorflow_datasets`).
      manual_dir: tfds manual-download directory (ImageNet's tar files).
      strict: image folders only: raise on unreadable files instead of skipping them.
      input_context: when given, only the shard `input_pipeline_id` of `num_input_pipelines`.

    Labels are int32 scalars (0 for unlabelled datasets, whose `info.num_classes` is 1).
    """
    source = resolve_source(name, resolution, split, data_dir, manual_dir, strict)
    records = _shard(source, input_context)
    dataset = records.map(source.decode, num_parallel_calls=tf.data.AUTOTUNE)
    if source.ignore_errors:
        dataset = dataset.ignore_errors(log_warning=True)
    return dataset, source.info


def _shard(
    source: Source, input_context: tf.distribute.InputContext | None, seed: int | None = None
) -> tf.data.Dataset:
    if input_context is not None:
        pipelines = input_context.num_input_pipelines
        known = source.info.num_examples
        if known is not None and known < pipelines:
            raise ValueError(
                f"{source.info.name!r}: {known} examples for {pipelines} input pipelines"
            )
    return source.make_records(seed, input_context)


def per_replica_dataset_fn(
    source: Source, global_batch_size: int, seed: int, shuffle_buffer: int | None = None
) -> Callable[[tf.distribute.InputContext], tf.data.Dataset]:
    """The `dataset_fn` for `strategy.distribute_datasets_from_function`.

    Each input pipeline reads its shard of the records, shuffles them with `seed` (re-shuffled every
    epoch), repeats forever, decodes and yields batches of the per-replica size.
    """

    def dataset_fn(input_context: tf.distribute.InputContext) -> tf.data.Dataset:
        batch_size = input_context.get_per_replica_batch_size(global_batch_size)
        records = _shard(source, input_context, seed)
        buffer = shuffle_buffer or source.shuffle_buffer
        records = records.shuffle(buffer, seed=seed, reshuffle_each_iteration=True).repeat()
        dataset = records.map(source.decode, num_parallel_calls=tf.data.AUTOTUNE)
        if source.ignore_errors:
            dataset = dataset.ignore_errors(log_warning=True)
        dataset = dataset.batch(batch_size, drop_remainder=True)
        return dataset.prefetch(tf.data.AUTOTUNE)

    return dataset_fn


def distributed_batches(
    strategy: tf.distribute.Strategy,
    source: Source,
    global_batch_size: int,
    seed: int,
    shuffle_buffer: int | None = None,
) -> tf.distribute.DistributedDataset:
    """Endless per-replica `(images, labels)` batches of `source` (from `resolve_source`, which a
    caller runs first so that a bad dataset fails before anything else is set up).

    Each replica receives `global_batch_size // strategy.num_replicas_in_sync` examples per step:
    images float32 `[b, r, r, 3]` in [-1, 1], labels int32 `[b]`. `shuffle_buffer` overrides the
    source's default (whole dataset for digits and folders, 10,000 records for tfds).
    """
    replicas = strategy.num_replicas_in_sync
    if global_batch_size < 1 or global_batch_size % replicas:
        raise ValueError(
            f"global_batch_size={global_batch_size} must be a positive multiple of the "
            f"{replicas} replicas in sync"
        )
    dataset_fn = per_replica_dataset_fn(source, global_batch_size, seed, shuffle_buffer)
    return strategy.distribute_datasets_from_function(dataset_fn)
