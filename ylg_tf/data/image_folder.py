"""Users' own images: a folder with one sub-folder per class.

`root/<class>/**/<image>`: sub-folder names, sorted, are the classes; a folder whose images all sit
directly under `root` is one unlabelled class. Every file is decoded once up front with the same
TensorFlow decoder the pipeline uses, so a corrupt or unsupported file is reported before training
starts (and skipped, or rejected with `strict=True`, i.e. `--config.data.strict=True`) instead of
stopping a run hours in.

A class left without a usable image (an empty sub-folder, or one whose every file is unreadable)
cannot be learnt: it is dropped with a warning naming it, or rejected in strict mode. Label ids
then number the remaining classes in sorted order, and `DatasetInfo.class_names[i]` is always the
folder of label i; the class-to-id map is logged, and a training run stores it in its `run.json`
(`class_to_id`). Paths go through `tf.io.gfile`, so `gs://`
folders work as well as local ones.
"""

from __future__ import annotations

import posixpath
import time
from collections.abc import Sequence

import tensorflow as tf
from absl import logging

from ylg_tf.data.preprocess import decode_image, preprocess_image
from ylg_tf.data.source import DatasetInfo, Source, shard_records

__all__ = [
    "IMAGE_EXTENSIONS",
    "PREFIX",
    "UnreadableImagesError",
    "find_unreadable",
    "image_folder_source",
    "list_image_files",
]

PREFIX = "folder:"
IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png", ".webp")
_STRICT_FLAG = "--config.data.strict"
_SHOWN = 5  # how many bad paths a message lists


class UnreadableImagesError(ValueError):
    """Raised with `strict=True` when some files of an image folder cannot be decoded.

    Attributes:
      paths: every unreadable file, sorted.
    """

    def __init__(self, root: str, paths: Sequence[str]):
        self.paths = tuple(paths)
        super().__init__(skipped_report(root, self.paths, skipped=False))


def skipped_report(root: str, paths: Sequence[str], skipped: bool = True) -> str:
    """One message naming how many files are unreadable and the first few of them."""
    shown = ", ".join(repr(p) for p in paths[:_SHOWN])
    more = f" and {len(paths) - _SHOWN} more" if len(paths) > _SHOWN else ""
    verdict = "skipped" if skipped else f"pass {_STRICT_FLAG}=False to skip them"
    return (
        f"{len(paths)} unreadable image file(s) under {root!r} ({verdict}): {shown}{more}. "
        f"Readable formats: {', '.join(IMAGE_EXTENSIONS)} that TensorFlow's decoder accepts."
    )


def _is_image(filename: str) -> bool:
    return not filename.startswith(".") and filename.lower().endswith(IMAGE_EXTENSIONS)


def _images_under(folder: str, recursive: bool) -> list[str]:
    if not recursive:
        names = tf.io.gfile.listdir(folder)
        return sorted(posixpath.join(folder, n) for n in names if _is_image(n.rstrip("/")))
    found = []
    for dirname, subdirs, files in tf.io.gfile.walk(folder):
        subdirs[:] = [d for d in subdirs if not d.startswith(".")]
        found.extend(posixpath.join(dirname, f) for f in files if _is_image(f))
    return sorted(found)


def list_image_files(root: str) -> tuple[list[str], list[int], tuple[str, ...]]:
    """Lists the image files under `root` by extension (no decoding).

    Returns:
      `(paths, labels, class_names)`: labels index `class_names`, which are the sorted names of
      every sub-folder, including those without any image file (`image_folder_source` drops
      those); when no sub-folder holds an image, the images directly in `root` form the single
      class named after `root`.

    Raises:
      FileNotFoundError: `root` is not a directory.
      ValueError: no image file was found.
    """
    if not tf.io.gfile.isdir(root):
        raise FileNotFoundError(f"image folder {root!r} does not exist or is not a directory")
    subdirs = sorted(
        name.rstrip("/")
        for name in tf.io.gfile.listdir(root)
        if not name.startswith(".") and tf.io.gfile.isdir(posixpath.join(root, name.rstrip("/")))
    )
    per_class = {d: _images_under(posixpath.join(root, d), recursive=True) for d in subdirs}
    top_level = _images_under(root, recursive=False)
    if any(per_class.values()):
        if top_level:
            logging.warning(
                "Ignoring %d image(s) directly in %r: with class sub-folders, only their images "
                "are used.",
                len(top_level),
                root,
            )
    elif top_level:
        if subdirs:
            logging.warning(
                "Sub-folders %s of %r hold no image file: the %d image(s) directly in it are "
                "used as one class.",
                subdirs,
                root,
                len(top_level),
            )
        per_class = {posixpath.basename(root.rstrip("/")) or root: top_level}
    else:
        raise ValueError(
            f"no image files under {root!r}: expected {root}/<class>/<image> or {root}/<image> "
            f"with an extension among {', '.join(IMAGE_EXTENSIONS)}"
        )
    class_names = tuple(per_class)
    paths = [p for files in per_class.values() for p in files]
    labels = [i for i, files in enumerate(per_class.values()) for _ in files]
    return paths, labels, class_names


def _drop_unusable_classes(
    root: str,
    paths: list[str],
    labels: list[int],
    class_names: tuple[str, ...],
    listed: Sequence[int],
    strict: bool,
) -> tuple[list[int], tuple[str, ...]]:
    """Drops the classes without a readable image (rejects them when `strict`), renumbering the
    labels of the others in order; logs the class-to-id map. Returns `(labels, class_names)`.

    `listed[i]` is how many image files class i had before unreadable ones were left out.
    """
    counts = [0] * len(class_names)
    for label in labels:
        counts[label] += 1
    unusable = [
        f"{name!r} ({'no image file' if listed[i] == 0 else 'no readable image'})"
        for i, name in enumerate(class_names)
        if counts[i] == 0
    ]
    kept = [i for i in range(len(class_names)) if counts[i] > 0]
    new_id = {old: new for new, old in enumerate(kept)}
    class_names = tuple(class_names[i] for i in kept)
    id_map = ", ".join(f"{name!r}: {i}" for i, name in enumerate(class_names))
    if unusable:
        problem = f"class folder(s) under {root!r} without a usable image: {', '.join(unusable)}"
        if strict:
            raise ValueError(
                f"{problem}. Add images, remove the folder(s), or pass {_STRICT_FLAG}=False to "
                "drop them."
            )
        logging.warning(
            "%s; dropped, so label ids number the remaining classes: {%s}.", problem, id_map
        )
    logging.info(
        "Image folder %r: %d images in %d classes, label ids {%s}.",
        root,
        len(paths),
        len(class_names),
        id_map,
    )
    return [new_id[label] for label in labels], class_names


def find_unreadable(paths: Sequence[str]) -> list[str]:
    """Returns the paths (sorted) that TensorFlow cannot read or decode as a non-empty image.

    Decodes every file once, in parallel through tf.data, with the pipeline's own decoder.
    """
    if not paths:
        return []
    table = tf.constant(list(paths))

    def check(index: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        image = decode_image(tf.io.read_file(table[index]))
        return index, tf.size(image)  # depending on the image keeps the decode from being pruned

    checked = (
        tf.data.Dataset.range(len(paths))
        .map(check, num_parallel_calls=tf.data.AUTOTUNE, deterministic=False)
        .ignore_errors()
    )
    good = {int(index) for index, size in checked.as_numpy_iterator() if size > 0}
    return sorted(p for i, p in enumerate(paths) if i not in good)


def image_folder_source(
    root: str, resolution: int, split: str = "train", strict: bool = False, validate: bool = True
) -> Source:
    """Builds the source for `folder:<root>`.

    Args:
      root: the folder (local or `gs://`).
      resolution: output image side.
      split: only `"train"`: a folder is one split.
      strict: raise `UnreadableImagesError` on any unreadable file instead of skipping it, and a
        `ValueError` on a class folder without a readable image instead of dropping the class.
      validate: decode every file up front (the default). Turning it off saves that pass on huge
        folders; unreadable files are then dropped during training with a logged warning.

    Returns:
      The source; its `info.class_names[i]` is the class folder of label i.

    Raises:
      FileNotFoundError, ValueError: no folder, no images, or no readable image; with
        `strict=True`, a class folder without a readable image.
      UnreadableImagesError: with `strict=True`, when some file cannot be decoded.
    """
    if split != "train":
        raise ValueError(f"an image folder has only the split 'train', got split={split!r}")
    paths, labels, class_names = list_image_files(root)
    listed = [labels.count(i) for i in range(len(class_names))]
    if strict:  # an empty class folder is refused before the decode pass, not after it
        labels, class_names = _drop_unusable_classes(root, paths, labels, class_names, listed, True)
    bad: list[str] = []
    if validate:
        start = time.monotonic()
        bad = find_unreadable(paths)
        logging.info(
            "Checked %d image files under %r in %.1f s.", len(paths), root, time.monotonic() - start
        )
    if bad and strict:
        raise UnreadableImagesError(root, bad)
    if bad:
        logging.warning(skipped_report(root, bad))
        bad_set = set(bad)
        kept = [(p, y) for p, y in zip(paths, labels, strict=True) if p not in bad_set]
        if not kept:
            raise ValueError(f"no readable image under {root!r}: all {len(paths)} files failed")
        paths, labels = (list(column) for column in zip(*kept, strict=True))
    if not strict:
        labels, class_names = _drop_unusable_classes(
            root, paths, labels, class_names, listed, False
        )

    def make_records(
        seed: int | None, input_context: tf.distribute.InputContext | None = None
    ) -> tf.data.Dataset:
        del seed  # paths are cheap: the pipeline's shuffle buffer covers the whole list
        records = tf.data.Dataset.from_tensor_slices(
            (tf.constant(paths), tf.constant(labels, tf.int32))
        )
        return shard_records(records, input_context)

    def decode(path: tf.Tensor, label: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return preprocess_image(decode_image(tf.io.read_file(path)), resolution), label

    info = DatasetInfo(
        name=PREFIX + root,
        resolution=resolution,
        num_classes=len(class_names),
        num_examples=len(paths),
        class_names=class_names,
        skipped_files=tuple(bad),
    )
    return Source(
        info=info,
        make_records=make_records,
        decode=decode,
        shuffle_buffer=len(paths),
        ignore_errors=True,
    )
