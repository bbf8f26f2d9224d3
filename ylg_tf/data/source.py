"""The contract between a data source and the pipeline.

A source hands over cheap *records* (file paths, encoded bytes, 8x8 arrays) and a `decode` function
that turns one record into a training example. Records are sharded per input pipeline by the source
(tfds datasets shard by file where they can, so workers do not all read everything), then shuffled
and repeated by the pipeline before decoding, so shuffle buffers hold bytes rather than float images
and each input pipeline decodes only its own shard.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import tensorflow as tf

__all__ = ["DatasetInfo", "Source", "shard_records"]


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What the training code needs to know about a dataset.

    Attributes:
      name: the name given to `build_dataset` (`"digits"`, `"cifar10"`, `"folder:/path"`, ...).
      resolution: side of the square images the pipeline yields.
      num_classes: number of labels; 1 for unlabelled datasets (every label is then 0).
      num_examples: examples in the split, or None when the source cannot tell.
      class_names: label names in label-id order, when the source has them.
      skipped_files: image-folder files that could not be decoded and were left out.
    """

    name: str
    resolution: int
    num_classes: int
    num_examples: int | None = None
    class_names: tuple[str, ...] | None = None
    skipped_files: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Source:
    """A dataset before batching.

    Attributes:
      info: the dataset's `DatasetInfo`.
      make_records: `(seed, input_context) -> tf.data.Dataset` of cheap records: the shard of input
        pipeline `input_context.input_pipeline_id` (everything when `input_context` is None), in a
        fixed order when `seed` is None and with files shuffled by `seed` otherwise. Called inside
        the input function, so each input pipeline builds its own.
      decode: one record, unpacked as `Dataset.map` passes it -> `(image float32 [r, r, 3] in
        [-1, 1], label int32 scalar)`.
      shuffle_buffer: a good default shuffle buffer, in records.
      ignore_errors: drop records whose decoding fails instead of stopping the run (image folders,
        whose files may change after they were checked).
    """

    info: DatasetInfo
    make_records: Callable[[int | None, tf.distribute.InputContext | None], tf.data.Dataset]
    decode: Callable[..., tuple[tf.Tensor, tf.Tensor]]
    shuffle_buffer: int
    ignore_errors: bool = False


def shard_records(
    records: tf.data.Dataset, input_context: tf.distribute.InputContext | None
) -> tf.data.Dataset:
    """Keeps every `num_input_pipelines`-th record, starting at `input_pipeline_id`."""
    if input_context is None or input_context.num_input_pipelines == 1:
        return records
    return records.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
