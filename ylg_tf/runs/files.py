"""File operations of run directories, through `tf.io.gfile`, so that `gs://` (and any other
file system TensorFlow knows, such as `ram://` in tests) works like a local path.

Writes are atomic: the content goes to a hidden temporary name in the target's directory, which
is then renamed over the target, so that a reader (or a crash) never sees half a file. The
temporary name is created by the file system like any new file, so the result has the modes the
umask gives (0644 under umask 022), not the 0600 of `tempfile.mkstemp`.
"""

from __future__ import annotations

import io
import json
import os
import posixpath
import uuid
from pathlib import Path

import numpy as np
import tensorflow as tf

__all__ = [
    "as_path",
    "atomic_directory",
    "check_directory",
    "exists",
    "glob",
    "is_url",
    "join",
    "load_npz",
    "makedirs",
    "parent",
    "remove",
    "remove_if_empty",
    "read_json",
    "read_text",
    "remove_tree",
    "save_npz",
    "write_bytes",
    "write_json",
    "write_png",
    "write_text",
]


def is_url(path: str | os.PathLike) -> bool:
    """Whether a path names a file system by scheme (`gs://`, `file://`, `ram://`)."""
    return "://" in os.fspath(path)


def join(path: str | os.PathLike, *parts: str) -> str:
    """`path/part/...` as a string; URL paths keep their `//` (pathlib would fold it)."""
    path = os.fspath(path)
    if is_url(path):
        return posixpath.join(path, *parts)
    return os.path.join(path, *parts)


def parent(path: str | os.PathLike) -> str:
    """The directory holding `path` (its scheme kept)."""
    path = os.fspath(path).rstrip("/")
    return posixpath.dirname(path) if is_url(path) else os.path.dirname(os.path.abspath(path))


def exists(path: str | os.PathLike) -> bool:
    return tf.io.gfile.exists(os.fspath(path))


def glob(pattern: str | os.PathLike) -> list[str]:
    """The paths matching `pattern` (`*`, `?`), sorted."""
    return sorted(tf.io.gfile.glob(os.fspath(pattern)))


def makedirs(path: str | os.PathLike) -> str:
    tf.io.gfile.makedirs(os.fspath(path))
    return os.fspath(path)


def remove(path: str | os.PathLike) -> None:
    tf.io.gfile.remove(os.fspath(path))


def remove_tree(path: str | os.PathLike) -> None:
    if tf.io.gfile.exists(os.fspath(path)):
        tf.io.gfile.rmtree(os.fspath(path))


def check_directory(path: str | os.PathLike) -> str | None:
    """Raises an OSError naming `path` when it cannot be (or become) a writable directory: it or
    a folder above it is a file, or (local paths) the nearest existing folder is not writable.
    Creates nothing; returns the outermost folder that making `path` would create (None when
    `path` exists), for a start that fails to remove (`remove_if_empty`)."""
    path = os.fspath(path)
    current, missing = path, None
    while not tf.io.gfile.exists(current):
        above = parent(current)
        if above == current:
            return missing
        current, missing = above, current
    if not tf.io.gfile.isdir(current):
        where = "" if current == path else f" (in the way of {path})"
        raise NotADirectoryError(
            f"{current} is a file, not a folder{where}: give a folder, or a path where one can be "
            "made."
        )
    if not is_url(current) and not os.access(current, os.W_OK | os.X_OK):
        action = "write to" if current == path else f"create {path} in"
        raise PermissionError(
            f"cannot {action} {current}: it is read-only here; give a folder you can write to."
        )
    return missing


def remove_if_empty(path: str | os.PathLike) -> bool:
    """Removes the folder `path` if it holds no file (empty subfolders included); whether it did."""
    path = os.fspath(path)
    if not tf.io.gfile.isdir(path):
        return False
    for _, _, names in tf.io.gfile.walk(path):
        if names:
            return False
    tf.io.gfile.rmtree(path)
    return True


def _scratch_name(path: str) -> str:
    """A hidden sibling of `path` for its content in the making."""
    directory, name = posixpath.split(path) if is_url(path) else os.path.split(path)
    return join(directory, f".{name}.tmp-{uuid.uuid4().hex[:12]}")


def write_bytes(path: str | os.PathLike, data: bytes) -> str:
    """Writes `data` to `path` atomically (creating the directory)."""
    path = os.fspath(path)
    makedirs(parent(path))
    scratch = _scratch_name(path)
    try:
        with tf.io.gfile.GFile(scratch, "wb") as file:
            file.write(data)
        tf.io.gfile.rename(scratch, path, overwrite=True)
    finally:
        if tf.io.gfile.exists(scratch):
            tf.io.gfile.remove(scratch)
    return path


def write_text(path: str | os.PathLike, text: str) -> str:
    return write_bytes(path, text.encode())


def _read(path: str | os.PathLike, mode: str):
    """The file's content; a missing file is Python's FileNotFoundError (an OSError, which the
    binaries report in one line), not TensorFlow's NotFoundError."""
    try:
        with tf.io.gfile.GFile(os.fspath(path), mode) as file:
            return file.read()
    except tf.errors.NotFoundError:
        raise FileNotFoundError(f"No file at {os.fspath(path)}.") from None


def read_text(path: str | os.PathLike) -> str:
    return _read(path, "r")


def write_json(path: str | os.PathLike, content) -> str:
    return write_text(path, json.dumps(content, indent=2, sort_keys=True) + "\n")


def read_json(path: str | os.PathLike):
    return json.loads(read_text(path))


def save_npz(path: str | os.PathLike, compressed: bool = False, **arrays) -> str:
    """`np.savez` (or `savez_compressed`) to any file system, atomically."""
    buffer = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buffer, **arrays)
    return write_bytes(path, buffer.getvalue())


def load_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(_read(path, "rb"))) as arrays:
        return {key: arrays[key] for key in arrays.files}


def write_png(path: str | os.PathLike, image: np.ndarray) -> str:
    """Writes a uint8 `[H, W]` or `[H, W, C]` array as a PNG, atomically."""
    image = np.asarray(image, np.uint8)
    image = image[..., None] if image.ndim == 2 else image
    return write_bytes(path, tf.io.encode_png(image).numpy())


class atomic_directory:  # noqa: N801 - used like a function, in a `with`
    """A directory built under a hidden scratch name and renamed into place on success.

    >>> with atomic_directory("runs/a/export/7") as scratch:
    ...     write_files_into(scratch)

    On an error the scratch directory is removed and the target left as it was. With
    `replace=True` an existing target is removed just before the rename.
    """

    def __init__(self, path: str | os.PathLike, replace: bool = False) -> None:
        self.path, self.replace = os.fspath(path).rstrip("/"), replace
        self.scratch = _scratch_name(self.path)

    def __enter__(self) -> str:
        makedirs(self.scratch)
        return self.scratch

    def __exit__(self, kind, error, traceback) -> None:
        if kind is not None:
            remove_tree(self.scratch)
            return
        if self.replace:
            remove_tree(self.path)
        _move_tree(self.scratch, self.path)


def _move_tree(source: str, target: str) -> None:
    """Renames a directory: in one step on a local disk; object by object on object stores
    (whose directories are name prefixes: `gs://` renames each object anyway, `ram://` only
    renames the name it is given)."""
    if not is_url(source) or source.startswith("file://"):
        tf.io.gfile.rename(source, target)
        return
    for directory, _, names in tf.io.gfile.walk(source):
        relative = directory[len(source) :].strip("/")
        makedirs(join(target, relative) if relative else target)
        for name in names:
            path = join(directory, name)
            if not tf.io.gfile.exists(path):  # `ram://` lists `assets/.extra` for `assets.extra`
                continue
            parts = [relative, name] if relative else [name]
            tf.io.gfile.rename(path, join(target, *parts), overwrite=True)
    try:
        remove_tree(source)  # what is left: empty directory markers
    except tf.errors.NotFoundError:
        pass


def as_path(path: str | os.PathLike) -> str | Path:
    """A `Path` for a local path (what callers join with `/`), the string for a URL."""
    return os.fspath(path) if is_url(path) else Path(path)
