"""The embedded default dataset: scikit-learn's 1,797 labelled 8x8 handwritten digits.

The digits ship inside scikit-learn (`sklearn.datasets.load_digits` reads a file bundled with it),
so smoke runs, tests and demos train a conditional GAN with no network and no dataset download.
Pixels are 0..16 (ink counts over 4x4 blocks of the original 32x32 bitmaps); they are upsampled
bilinearly to the requested resolution and scaled so that 0 -> -1 and 16 -> 1.
"""

from __future__ import annotations

import functools

import numpy as np
import tensorflow as tf

from ylg_tf.data.preprocess import preprocess_image
from ylg_tf.data.source import DatasetInfo, Source, shard_records

__all__ = ["DIGITS_MAX_VALUE", "NAME", "digits_source", "load_digits_arrays"]

NAME = "digits"
DIGITS_MAX_VALUE = 16.0
_SPLITS = ("train",)


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


def digits_source(resolution: int = 32, split: str = "train") -> Source:
    """Builds the `digits` source: 10 classes, all 1,797 examples in the one split `"train"`."""
    if split not in _SPLITS:
        raise ValueError(f"digits has only the split(s) {list(_SPLITS)}, got split={split!r}")
    images, labels = load_digits_arrays()

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
