"""Finding and restoring a run's checkpoints without ever starting over by accident.

The checkpoints of a run are the `ckpt-<step>` files in `checkpoints/`, whatever the `checkpoint`
state file says: a deleted or garbled state file must not hide them. `restore_newest` restores
the newest one that reads; an unreadable one is named in one log line, and (for the training
process, which owns the directory) moved into `checkpoints/unreadable/`, where
`tf.train.CheckpointManager` never deletes it. When checkpoints exist and none restores, it
refuses with the list of what it tried: only a directory without checkpoints starts at step 0.
"""

from __future__ import annotations

import os
import re

import tensorflow as tf
from absl import logging

from ylg_tf.runs import files

__all__ = [
    "CheckpointError",
    "checkpoint_steps",
    "remove_temp_dirs",
    "restore_newest",
    "write_state",
]

UNREADABLE = "unreadable"
_NAME = re.compile(r"^ckpt-(\d+)\.(?:index|data-\d+-of-\d+)$")


class CheckpointError(ValueError):
    """Checkpoints exist but none restores (the message lists each one and its error)."""


def checkpoint_steps(directory: str | os.PathLike) -> list[int]:
    """The steps of the `ckpt-<step>` files in `directory`, ascending."""
    directory = os.fspath(directory)
    if not tf.io.gfile.isdir(directory):
        return []
    steps = {int(m.group(1)) for name in tf.io.gfile.listdir(directory) if (m := _NAME.match(name))}
    return sorted(steps)


def remove_temp_dirs(directory: str | os.PathLike) -> list[str]:
    """Removes `*_temp` folders that a killed or failed save left behind (with a log line)."""
    directory = os.fspath(directory)
    if not tf.io.gfile.isdir(directory):
        return []
    removed = []
    for name in tf.io.gfile.listdir(directory):
        name = name.rstrip("/")
        if name.endswith("_temp"):
            path = files.join(directory, name)
            logging.warning("Removing %s, left by an interrupted checkpoint save.", path)
            files.remove_tree(path)
            removed.append(path)
    return removed


def write_state(directory: str | os.PathLike, steps: list[int]) -> None:
    """Rewrites the `checkpoint` state file to list `ckpt-<step>` for `steps` (newest last).

    `tf.train.CheckpointManager` reads it to know what it may delete and what is latest; the
    training process rewrites it from the files on disk so that a lost or garbled state file
    neither hides checkpoints nor lets old ones go unmanaged.
    """
    if not steps:
        return
    lines = [f'model_checkpoint_path: "ckpt-{steps[-1]}"']
    lines += [f'all_model_checkpoint_paths: "ckpt-{step}"' for step in steps]
    files.write_text(files.join(directory, "checkpoint"), "\n".join(lines) + "\n")


def _set_aside(directory: str, step: int) -> str:
    """Moves every file of `ckpt-<step>` into `unreadable/` (a name the manager never lists)."""
    target = files.join(directory, UNREADABLE)
    files.makedirs(target)
    for path in tf.io.gfile.glob(files.join(directory, f"ckpt-{step}.*")):
        name = os.path.basename(path)
        tf.io.gfile.rename(path, files.join(target, name), overwrite=True)
    return target


def _short(error: BaseException) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text[:200]}"


def restore_newest(
    restore,
    directory: str | os.PathLike,
    *,
    step: int | None = None,
    set_aside: bool = False,
) -> tuple[int, str] | None:
    """Restores the newest readable checkpoint of `directory` (or exactly `ckpt-<step>`).

    Args:
      restore: called with a checkpoint prefix; raises if it cannot restore it.
      directory: the run's `checkpoints/`.
      step: restore this checkpoint only (no fallback: the user asked for it).
      set_aside: move unreadable checkpoints into `unreadable/` (the training process only).

    Returns:
      `(step, prefix)` of the restored checkpoint, or None when there are no checkpoints.

    Raises:
      CheckpointError: checkpoints exist but none restores, or `step` does not restore.
      FileNotFoundError: there is no `ckpt-<step>`.
    """
    directory = os.fspath(directory)
    steps = checkpoint_steps(directory)
    if step is not None:
        if step not in steps:
            raise FileNotFoundError(
                f"No checkpoint ckpt-{step} in {directory}; it has {[f'ckpt-{s}' for s in steps]}."
            )
        steps = [step]
    tried, unreadable = [], []
    for candidate in reversed(steps):
        prefix = files.join(directory, f"ckpt-{candidate}")
        try:
            restore(prefix)
        except Exception as error:  # noqa: BLE001 - any failure to read is "unreadable"
            tried.append(f"{prefix} ({_short(error)})")
            unreadable.append(candidate)
            logging.warning(
                "Checkpoint %s is unreadable (%s); trying the previous one.", prefix, _short(error)
            )
            continue
        if set_aside and unreadable:  # only once another restored: never empty the directory
            for bad in unreadable:
                logging.warning("Moved ckpt-%d into %s.", bad, _set_aside(directory, bad))
        if tried:
            logging.warning("Restored %s instead of the newest checkpoint.", prefix)
        return candidate, prefix
    if tried:
        raise CheckpointError(
            f"No checkpoint of {directory} restores; tried: " + "; ".join(tried) + ". Fix or "
            "remove them (or use another --workdir); nothing was started."
        )
    return None
