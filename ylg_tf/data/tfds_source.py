"""TensorFlow Datasets sources: any tfds dataset with an image feature and an optional label.

The real path is `tfds.builder(name, data_dir=...)` then `builder.download_and_prepare(...)`, which
is a no-op when the prepared dataset is already in `data_dir` (default `~/tensorflow_datasets`).
ImageNet cannot be downloaded by tfds: put `ILSVRC2012_img_train.tar` and `ILSVRC2012_img_val.tar`
in a folder and pass it as `manual_dir` (tfds' default is `<data_dir>/downloads/manual`). Examples
are read with the image left encoded and decoded after sharding and shuffling (see `source.py`).
"""

from __future__ import annotations

import difflib

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from ylg_tf.data.preprocess import decode_image, preprocess_image
from ylg_tf.data.source import DatasetInfo, Source, shard_records

__all__ = ["DEFAULT_SHUFFLE_BUFFER", "find_features", "tfds_source"]

DEFAULT_SHUFFLE_BUFFER = 10_000  # encoded images: ~30 MB for CIFAR, ~1 GB for ImageNet JPEGs


def find_features(features: tfds.features.FeaturesDict) -> tuple[str, str | None]:
    """Picks `(image_key, label_key or None)` among a dataset's top-level features.

    The image is `"image"` or else the only `Image` feature; the label is `"label"` when it is a
    `ClassLabel`, else the only `ClassLabel` feature, else None (unlabelled, e.g. LSUN, CelebA).
    """
    images = [k for k, f in features.items() if isinstance(f, tfds.features.Image)]
    labels = [k for k, f in features.items() if isinstance(f, tfds.features.ClassLabel)]
    if "image" in images:
        image_key = "image"
    elif len(images) == 1:
        image_key = images[0]
    else:
        raise ValueError(
            f"need one image feature (named 'image' or the only Image feature); the dataset has "
            f"features {sorted(features.keys())} with Image features {images}"
        )
    if "label" in labels:
        return image_key, "label"
    return image_key, labels[0] if len(labels) == 1 else None


def _builder(name: str, data_dir: str | None) -> tfds.core.DatasetBuilder:
    """tfds's builder of `name`. A name that no installed builder has (and no `namespace:`
    names) is refused here: tfds would look it up in its online community index first, logging
    a page of network errors on a machine without access."""
    known = tfds.list_builders(with_community_datasets=False)
    base = name.split("/")[0]
    if ":" in base or base in known:
        try:
            return tfds.builder(name, data_dir=data_dir)
        except tfds.core.registered.DatasetNotFoundError:
            pass
    close = difflib.get_close_matches(base, ["digits", *known], n=3)
    hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
    raise ValueError(
        f"unknown dataset {name!r}: expected 'digits', 'folder:/path/to/images', or a "
        f"TensorFlow Datasets name such as 'cifar10', 'imagenet2012', 'celeb_a', "
        f"'lsun/bedroom'.{hint}"
    )


def _num_examples(info: tfds.core.DatasetInfo, split: str) -> int | None:
    if not info.splits:  # unknown before preparation (and under tfds.testing.mock_data)
        return None
    try:
        return int(info.splits[split].num_examples)
    except (KeyError, ValueError) as e:
        raise ValueError(
            f"dataset {info.full_name!r} has no split {split!r}; splits: {list(info.splits)} "
            f"(tfds slicing such as 'train[:10%]' is accepted)"
        ) from e


def _num_files(info: tfds.core.DatasetInfo, split: str) -> int:
    """Files behind a (possibly sliced) split; 0 when unknown."""
    try:
        return len(info.splits[split].file_instructions)
    except (KeyError, ValueError):
        return 0


def tfds_source(
    name: str,
    resolution: int,
    split: str = "train",
    data_dir: str | None = None,
    manual_dir: str | None = None,
) -> Source:
    """Builds the source for a tfds dataset, downloading and preparing it if needed.

    Args:
      name: tfds name with optional config and version: `"cifar10"`, `"lsun/bedroom"`,
        `"imagenet2012:5.*.*"`.
      resolution: output image side.
      split: a tfds split, slicing allowed (`"train"`, `"validation[:1000]"`).
      data_dir: where prepared datasets live (default `~/tensorflow_datasets`, `gs://` allowed).
      manual_dir: folder of manually downloaded archives (ImageNet's tar files).

    Raises:
      ValueError: unknown name, no image feature, or unknown split.
    """
    builder = _builder(name, data_dir)
    image_key, label_key = find_features(builder.info.features)
    image_dtype = builder.info.features[image_key].np_dtype
    if image_dtype not in (np.uint8, np.uint16):
        raise ValueError(f"{name!r}: image feature {image_key!r} is {image_dtype}, need uint8/16")
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=manual_dir)
    )
    num_examples = _num_examples(builder.info, split)
    num_classes = builder.info.features[label_key].num_classes if label_key else 1
    class_names = tuple(builder.info.features[label_key].names) if label_key else None
    num_files = _num_files(builder.info, split)

    def make_records(
        seed: int | None, input_context: tf.distribute.InputContext | None = None
    ) -> tf.data.Dataset:
        pipelines = input_context.num_input_pipelines if input_context else 1
        by_file = 1 < pipelines <= num_files  # tfds then reads only this pipeline's files
        dataset = builder.as_dataset(
            split=split,
            shuffle_files=seed is not None,
            decoders={image_key: tfds.decode.SkipDecoding()},
            read_config=tfds.ReadConfig(
                shuffle_seed=seed,
                try_autocache=False,
                input_context=input_context if by_file else None,
            ),
        )
        if not by_file:  # too few files: every pipeline reads all records, keeps its share
            dataset = shard_records(dataset, input_context)

        def select(example: dict[str, tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
            label = tf.cast(example[label_key], tf.int32) if label_key else tf.constant(0, tf.int32)
            return example[image_key], label

        return dataset.map(select, num_parallel_calls=tf.data.AUTOTUNE)

    def decode(encoded: tf.Tensor, label: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return preprocess_image(decode_image(encoded), resolution), label

    info = DatasetInfo(
        name=name,
        resolution=resolution,
        num_classes=num_classes,
        num_examples=num_examples,
        class_names=class_names,
    )
    shuffle_buffer = min(num_examples or DEFAULT_SHUFFLE_BUFFER, DEFAULT_SHUFFLE_BUFFER)
    return Source(info, make_records, decode, shuffle_buffer)
