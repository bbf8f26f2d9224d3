"""Engine-neutral weight files: G, D, EMA G (and optimizer state) as one `.npz` of named arrays.

Keys are `"<role>/<variable path inside the model>"` (roles `G`, `D`, `G_ema`); a path comes from
layer names, so it is the same under Keras's TensorFlow and JAX backends and for a model of any
name. The JAX engine checkpoints in this format (`checkpoints/step_<step>.npz`, which `load_run`
reads); `load_models` puts a file's weights into models built by either engine, and
`save_models` writes TF-engine models in it (for example to continue a TF run under JAX in a new
run directory, with fresh optimizer state). Files go through `ylg_tf.runs.files`
(`tf.io.gfile`), so that they can live on `gs://`.
"""

from __future__ import annotations

import keras
import numpy as np

from ylg_tf.runs import files

ROLES = ("G", "D", "G_ema")
STEP_KEY = "step"


def _key(role: str, model: keras.Model, variable) -> str:
    path = variable.path
    inside = path[len(model.name) + 1 :] if path.startswith(f"{model.name}/") else path
    return f"{role}/{inside}"


def model_arrays(model: keras.Model, role: str) -> dict[str, np.ndarray]:
    """`{"<role>/<path>": value}` for every weight of `model`; paths must be unique."""
    arrays = {
        _key(role, model, v): np.asarray(keras.ops.convert_to_numpy(v)) for v in model.weights
    }
    if len(arrays) != len(model.weights):
        raise ValueError(f"{model.name}: weight paths are not unique; cannot save by path.")
    return arrays


def optimizer_arrays(optimizer: keras.optimizers.Optimizer, role: str) -> dict[str, np.ndarray]:
    """An optimizer's variables by position (iterations first), for resuming on the same engine."""
    return {
        f"{role}/{i:05d}": np.asarray(keras.ops.convert_to_numpy(v))
        for i, v in enumerate(optimizer.variables)
    }


def write_npz(path: str, arrays: dict[str, np.ndarray]) -> str:
    """Writes `arrays` to `path` (any `tf.io.gfile` path) atomically (`ylg_tf.runs.files`)."""
    return files.save_npz(path, **arrays)


def read_npz(path: str) -> dict[str, np.ndarray]:
    """All arrays of an `.npz` written by `write_npz`; FileNotFoundError when there is none."""
    return files.load_npz(path)


def models_arrays(
    step: int,
    generator: keras.Model | None = None,
    discriminator: keras.Model | None = None,
    ema_generator: keras.Model | None = None,
) -> dict[str, np.ndarray]:
    """The step and the given models' weights, keyed as a weight file holds them."""
    arrays = {STEP_KEY: np.asarray(step, np.int64)}
    for role, model in zip(ROLES, (generator, discriminator, ema_generator), strict=True):
        if model is not None:
            arrays.update(model_arrays(model, role))
    return arrays


def save_models(
    path: str,
    generator: keras.Model,
    discriminator: keras.Model,
    ema_generator: keras.Model | None = None,
    step: int = 0,
) -> str:
    """Writes the models' weights (no optimizer state) as a weight file; returns `path`."""
    return write_npz(path, models_arrays(step, generator, discriminator, ema_generator))


def has_role(arrays: dict[str, np.ndarray], role: str) -> bool:
    """Whether a weight file's arrays hold the weights of `role` (`G_ema`: a run with EMA)."""
    return any(key.startswith(f"{role}/") for key in arrays)


def assign_model(model: keras.Model, arrays: dict[str, np.ndarray], role: str) -> None:
    """Assigns `arrays["<role>/<path>"]` to each weight of `model` (all and only those exist)."""
    expected = {_key(role, model, v) for v in model.weights}
    present = {k for k in arrays if k.startswith(f"{role}/")}
    if expected != present:
        raise ValueError(
            f"The weight file's {role!r} entries do not match model {model.name!r}: missing "
            f"{sorted(expected - present)[:5]}, unexpected {sorted(present - expected)[:5]}. "
            "Build the model from the run's own config."
        )
    for variable in model.weights:
        value = arrays[_key(role, model, variable)]
        if value.shape != tuple(variable.shape):
            raise ValueError(
                f"{variable.path}: the weight file holds shape {value.shape}, the model "
                f"{tuple(variable.shape)}; build the model from the run's own config."
            )
        variable.assign(value)


def assign_models(
    arrays: dict[str, np.ndarray],
    generator: keras.Model | None = None,
    discriminator: keras.Model | None = None,
    ema_generator: keras.Model | None = None,
) -> int:
    """Assigns a weight file's arrays to the given models; returns the step they were saved at.

    `ema_generator` falls back to the file's `G` weights when the run kept no EMA generator.
    """
    for role, model in zip(ROLES, (generator, discriminator, ema_generator), strict=True):
        if model is not None:
            fallback = role == "G_ema" and not has_role(arrays, role)
            assign_model(model, arrays, "G" if fallback else role)
    return int(arrays.get(STEP_KEY, 0))


def assign_optimizer(
    optimizer: keras.optimizers.Optimizer, arrays: dict[str, np.ndarray], role: str
) -> None:
    """Assigns `optimizer_arrays`' entries of `role` back, when the file holds any (a file of
    `save_models` holds none: the optimizer stays fresh)."""
    values = [arrays[key] for key in sorted(arrays) if key.startswith(f"{role}/")]
    if not values:
        return
    if len(values) != len(optimizer.variables):
        raise ValueError(f"{len(values)} {role} arrays in the weight file for a different model.")
    for variable, value in zip(optimizer.variables, values, strict=True):
        variable.assign(value)


def load_models(
    path: str,
    generator: keras.Model | None = None,
    discriminator: keras.Model | None = None,
    ema_generator: keras.Model | None = None,
) -> int:
    """Loads a weight file into the given models (either engine); returns the step it was saved at.

    `ema_generator` falls back to the file's `G` weights when the run kept no EMA generator.
    """
    return assign_models(read_npz(path), generator, discriminator, ema_generator)
