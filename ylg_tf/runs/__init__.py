"""The run: its config, its directory, its lock, its checkpoints, and loading a trained model.

Everything that trains, evaluates, samples, exports or inverts a run finds its files here, so
that the layout of a run directory (WORKSPACE.md) is written down once:

- `ylg_tf.runs.config`: the run config (`default_config`, config files, `config.json` versions);
  free of Keras and TensorFlow, which is why this package's top level imports only it;
- `ylg_tf.runs.validation`: the config's own fields checked against the model zoo's rules
  (with `config.eval`: `ylg_tf.training.validate`; this package imports nothing from
  `ylg_tf.training` or `ylg_tf.evaluation`, which build on it);
- `ylg_tf.runs.files`: atomic, umask-respecting file I/O through `tf.io.gfile` (`gs://` works);
- `ylg_tf.runs.directory`: `RunDirectory`, every path of a run and its JSON files;
- `ylg_tf.runs.lock`: the lease a training process holds on its directory;
- `ylg_tf.runs.checkpoints`: restoring the newest readable checkpoint, never starting over;
- `ylg_tf.runs.loading`: `load_run`, a trained generator back from its directory.
"""

from ylg_tf.runs.config import (
    CONFIG_VERSION,
    config_from_json,
    config_to_json,
    default_config,
    import_file,
    migrate,
    parse_config_arg,
)

__all__ = [
    "CONFIG_VERSION",
    "config_from_json",
    "config_to_json",
    "default_config",
    "import_file",
    "migrate",
    "parse_config_arg",
]
