"""Finding and restoring a run's checkpoints without ever starting over by accident.

The checkpoints of a run are the files of one engine's format in `checkpoints/`: the TensorFlow
engine's `ckpt-<step>` (`TF_CHECKPOINTS`), whatever the `checkpoint` state file says (a deleted or
garbled state file must not hide them), or the JAX engine's `step_<step>.npz` (`NPZ_CHECKPOINTS`).
`restore_newest` restores the newest one that reads; an unreadable one is named in one log line,
and (for the training process, which owns the directory) moved into `checkpoints/unreadable/`,
where neither engine deletes it. When checkpoints exist and none restores, it refuses with the
list of what it tried: only a directory without checkpoints starts at step 0. A directory that
holds the other engine's checkpoints is refused by name: neither engine reads the other's state.
"""

from __future__ import annotations

import dataclasses
import os
import re

import tensorflow as tf
from absl import logging

from ylg_tf.runs import files

__all__ = [
    "NPZ_CHECKPOINTS",
    "TF_CHECKPOINTS",
    "CheckpointError",
    "CheckpointFormat",
    "check_engine",
    "checkpoint_steps",
    "remove_temp_dirs",
    "restore_newest",
    "write_state",
]

UNREADABLE = "unreadable"


@dataclasses.dataclass(frozen=True)
class CheckpointFormat:
    """How one engine names its checkpoints in `checkpoints/`.

    Attributes:
      engine: the engine's name in messages.
      flag: its `ylg-train --engine` value.
      files: matches a file of a checkpoint; group 1 is its step.
      name: the checkpoint's path below the folder (a prefix or a file), from its step.
    """

    engine: str
    flag: str
    files: re.Pattern
    name: str

    def file(self, step: int) -> str:
        """The checkpoint of `step`'s name in the folder (a prefix or a file)."""
        return self.name.format(step=step)

    def path(self, directory: str | os.PathLike, step: int) -> str:
        return files.join(directory, self.file(step))


TF_CHECKPOINTS = CheckpointFormat(
    "TensorFlow", "tf", re.compile(r"^ckpt-(\d+)\.(?:index|data-\d+-of-\d+)$"), "ckpt-{step}"
)
NPZ_CHECKPOINTS = CheckpointFormat(
    "JAX", "jax", re.compile(r"^step_(\d+)\.npz$"), "step_{step:07d}.npz"
)


class CheckpointError(ValueError):
    """Checkpoints exist but none restores (the message lists each one and its error)."""


def _names(directory: str, form: CheckpointFormat) -> dict[str, int]:
    """`{file name: step}` of the checkpoint files of `form` in `directory`."""
    if not tf.io.gfile.isdir(directory):
        return {}
    matches = ((name, form.files.match(name)) for name in tf.io.gfile.listdir(directory))
    return {name: int(match.group(1)) for name, match in matches if match}


def checkpoint_steps(
    directory: str | os.PathLike, form: CheckpointFormat = TF_CHECKPOINTS
) -> list[int]:
    """The steps of the checkpoints of `form` in `directory`, ascending."""
    return sorted(set(_names(os.fspath(directory), form).values()))


def check_engine(directory: str | os.PathLike, form: CheckpointFormat) -> None:
    """Refuses `directory` when it holds the other engine's checkpoints (CheckpointError)."""
    other = NPZ_CHECKPOINTS if form is TF_CHECKPOINTS else TF_CHECKPOINTS
    if steps := checkpoint_steps(directory, other):
        raise CheckpointError(
            f"{os.fspath(directory)} holds checkpoints of the {other.engine} engine "
            f"({other.file(steps[-1])}), which the {form.engine} engine cannot read: "
            f"go on with --engine={other.flag}, or use another --workdir."
        )


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
    """Rewrites TF's `checkpoint` state file to list `ckpt-<step>` for `steps` (newest last).

    `tf.train.CheckpointManager` reads it to know what it may delete and what is latest; the
    training process rewrites it from the files on disk so that a lost or garbled state file
    neither hides checkpoints nor lets old ones go unmanaged.
    """
    if not steps:
        return
    lines = [f'model_checkpoint_path: "ckpt-{steps[-1]}"']
    lines += [f'all_model_checkpoint_paths: "ckpt-{step}"' for step in steps]
    files.write_text(files.join(directory, "checkpoint"), "\n".join(lines) + "\n")


def _set_aside(directory: str, step: int, form: CheckpointFormat) -> str:
    """Moves every file of the checkpoint of `step` into `unreadable/` (a folder neither engine
    lists or prunes)."""
    target = files.join(directory, UNREADABLE)
    files.makedirs(target)
    for name, at in _names(directory, form).items():
        if at == step:
            tf.io.gfile.rename(
                files.join(directory, name), files.join(target, name), overwrite=True
            )
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
    form: CheckpointFormat = TF_CHECKPOINTS,
) -> tuple[int, str] | None:
    """Restores the newest readable checkpoint of `directory` (or exactly that of `step`).

    Args:
      restore: called with a checkpoint's path (`form.path`); raises if it cannot restore it.
      directory: the run's `checkpoints/`.
      step: restore this checkpoint only (no fallback: the user asked for it).
      set_aside: move unreadable checkpoints into `unreadable/` (the training process only).
      form: the engine's checkpoint format; the other engine's checkpoints are refused.

    Returns:
      `(step, path)` of the restored checkpoint, or None when there are no checkpoints.

    Raises:
      CheckpointError: checkpoints exist but none restores, or `step` does not restore, or the
        directory holds the other engine's checkpoints.
      FileNotFoundError: there is no checkpoint of `step`.
    """
    directory = os.fspath(directory)
    check_engine(directory, form)
    steps = checkpoint_steps(directory, form)
    if step is not None:
        if step not in steps:
            names = [form.file(s) for s in steps]
            raise FileNotFoundError(
                f"No checkpoint {form.file(step)} in {directory}; it has {names}."
            )
        steps = [step]
    tried, unreadable = [], []
    for candidate in reversed(steps):
        prefix = form.path(directory, candidate)
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
                aside = _set_aside(directory, bad, form)
                logging.warning("Moved %s into %s.", form.file(bad), aside)
        if tried:
            logging.warning("Restored %s instead of the newest checkpoint.", prefix)
        return candidate, prefix
    if tried:
        raise CheckpointError(
            f"No checkpoint of {directory} restores; tried: " + "; ".join(tried) + ". Fix or "
            "remove them (or use another --workdir); nothing was started."
        )
    return None
