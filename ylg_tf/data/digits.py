"""The embedded default dataset: scikit-learn's 1,797 labelled 8x8 handwritten digits.

The digits ship inside scikit-learn (`sklearn.datasets.load_digits` reads a file bundled with it),
so smoke runs, tests and demos train a conditional GAN with no network and no dataset download.
Pixels are 0..16 (ink counts over 4x4 blocks of the original 32x32 bitmaps); they are upsampled
bilinearly to the requested resolution and scaled so that 0 -> -1 and 16 -> 1.
"""

from __future__ import annotations

import functools
import re

import numpy as np
import tensorflow as tf

from ylg_tf.data.preprocess import preprocess_image
from ylg_tf.data.source import DatasetInfo, Source, shard_records

__all__ = ["DIGITS_MAX_VALUE", "NAME", "digits_source", "load_digits_arrays"]

NAME = "digits"
DIGITS_MAX_VALUE = 16.0
_SPLIT = re.compile(r"train(?:\[(-?\d+%?)?:(-?\d+%?)?\])?")


@functools.cache
def load_digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """Returns `(images uint8 [1797, 8, 8] in 0..16, labels int32 [1797])`, read once."""
    from sklearn.datasets import load_digits  # scikit-learn is only needed for this dataset

    bunch = load_digits()
    images = bunch.images.astype(np.uint8)
    labels = bunch.target.astype(np.int32)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def split_slice(split: str, count: int) -> slice:
    """`"train"` or a tfds-style slice of it (`"train[:1600]"`, `"train[90%:]"`) as a slice.

    The dataset has one split; slices of it let a run hold images out (e.g. to invert real
    images the generator never saw). Percentages round to the nearest example.
    """
    match = _SPLIT.fullmatch(split) if isinstance(split, str) else None
    if match is None:
        raise ValueError(
            f"digits has the one split 'train' and slices of it ('train[:1600]', "
            f"'train[90%:]'), got split={split!r}."
        )

    def bound(text: str | None) -> int | None:
        if not text:
            return None
        return round(int(text[:-1]) * count / 100) if text.endswith("%") else int(text)

    return slice(bound(match[1]), bound(match[2]))


def digits_source(resolution: int = 32, split: str = "train") -> Source:
    """Builds the `digits` source: 10 classes, 1,797 examples in `"train"` (or a slice of it)."""
    images, labels = load_digits_arrays()
    part = split_slice(split, len(labels))
    images, labels = images[part], labels[part]
    if not len(labels):
        raise ValueError(f"digits split={split!r} selects no examples (there are 1,797).")

    def make_records(
        seed: int | None, input_context: tf.distribute.InputContext | None = None
    ) -> tf.data.Dataset:
        del seed  # one in-memory tensor: the pipeline's shuffle covers it entirely
        records = tf.data.Dataset.from_tensor_slices((images[..., None], labels))
        return shard_records(records, input_context)

    def decode(image: tf.Tensor, label: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return preprocess_image(image, resolution, max_value=DIGITS_MAX_VALUE), label

    info = DatasetInfo(
        name=NAME,
        resolution=resolution,
        num_classes=10,
        num_examples=len(labels),
        class_names=tuple(str(d) for d in range(10)),
    )
    return Source(info=info, make_records=make_records, decode=decode, shuffle_buffer=len(labels))
