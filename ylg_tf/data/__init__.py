"""tf.data pipelines: tfds datasets, image folders and the embedded `digits` dataset.

Every source yields float32 `[r, r, 3]` images in [-1, 1] (largest central square crop, antialiased
resize) with int32 labels; `build_dataset` and `distributed_batches` are the entry points.
"""

from ylg_tf.data.image_folder import UnreadableImagesError
from ylg_tf.data.pipeline import (
    build_dataset,
    distributed_batches,
    per_replica_dataset_fn,
    resolve_source,
)
from ylg_tf.data.preprocess import center_square_crop, decode_image, preprocess_image, to_rgb
from ylg_tf.data.source import DatasetInfo, Source

__all__ = [
    "DatasetInfo",
    "Source",
    "UnreadableImagesError",
    "build_dataset",
    "center_square_crop",
    "decode_image",
    "distributed_batches",
    "per_replica_dataset_fn",
    "preprocess_image",
    "resolve_source",
    "to_rgb",
]
