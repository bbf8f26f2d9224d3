"""The run directory: where every binary finds and puts a run's files (WORKSPACE.md).

```
<workdir>/config.json            the resolved config, with its format `version`
<workdir>/run.json               dataset facts: classes, class names and their label ids, size
<workdir>/lock.json              the lease of the training process that holds the run
<workdir>/checkpoints/           ckpt-<step>.{index,data-*}, the `checkpoint` state file
                                 (the JAX engine: step_<step>.npz);
                    unreadable/  checkpoints that failed to restore, kept for inspection
<workdir>/logs/                  TensorBoard events
<workdir>/samples/               step_<step>.png grids (training), ylg-sample grids
<workdir>/eval/                  step_<step>.json scores, truncation sweeps
<workdir>/export/<step>/         SavedModels
<workdir>/inversion/<method>/    ylg-invert outputs
<workdir>/../.ylg_cache/         classifiers and real-set statistics shared by sibling runs
```

Paths are strings (`gs://bucket/runs/a/config.json`) for URL work directories and `Path`s for
local ones; all I/O goes through `ylg_tf.runs.files`.
"""

from __future__ import annotations

import os

import ml_collections

from ylg_tf.data import DatasetInfo, resolve_source
from ylg_tf.runs import files
from ylg_tf.runs.config import config_from_json, config_to_json, sections
from ylg_tf.runs.validation import validate

__all__ = ["RunDirectory"]


class RunDirectory:
    """Every path of one run directory, and reading and writing its JSON files.

    Args:
      workdir: a local path or a URL (`gs://bucket/runs/a`, `file:///data/runs/a`).
    """

    def __init__(self, workdir: str | os.PathLike) -> None:
        if isinstance(workdir, RunDirectory):
            workdir = workdir.path
        self.path = files.as_path(os.fspath(workdir).rstrip("/") or "/")

    def __repr__(self) -> str:
        return f"RunDirectory({str(self.path)!r})"

    def __str__(self) -> str:
        return str(self.path)

    def join(self, *parts: str):
        """A path inside the run directory, of the same kind as `path`."""
        return files.as_path(files.join(self.path, *parts))

    # --- where things are -----------------------------------------------------------------

    @property
    def config_file(self):
        return self.join("config.json")

    @property
    def info_file(self):
        return self.join("run.json")

    @property
    def lock_file(self):
        return self.join("lock.json")

    @property
    def checkpoints(self):
        return self.join("checkpoints")

    @property
    def logs(self):
        return self.join("logs")

    @property
    def samples(self):
        return self.join("samples")

    @property
    def eval(self):
        return self.join("eval")

    def sample_grid(self, step: int):
        """The training run's fixed-latent grid at `step`."""
        return self.join("samples", f"step_{step:07d}.png")

    def scores(self, step: int, suffix: str = ""):
        """The evaluation JSON of the checkpoint at `step` (`suffix` names a variant)."""
        return self.join("eval", f"step_{step:07d}{suffix}.json")

    def training_scores(self) -> list[dict]:
        """Every evaluation training wrote (`eval/step_<step>.json`; not the variants `ylg-eval`
        names by their settings), ordered by step."""
        paths = files.glob(self.join("eval", f"step_{'?' * 7}.json"))
        return [files.read_json(path) for path in paths]

    def export(self, step: int):
        return self.join("export", str(step))

    def inversion(self, method: str):
        return self.join("inversion", method)

    def worker(self, task_id: int) -> RunDirectory:
        """A non-chief worker's own directory (collective saves need a target on every worker)."""
        return RunDirectory(self.join(f"worker_{task_id}"))

    @property
    def default_cache(self):
        """The evaluation cache shared by the runs next to this one: `<workdir>/../.ylg_cache`."""
        return files.as_path(files.join(files.parent(self.path), ".ylg_cache"))

    # --- config.json and run.json -----------------------------------------------------------

    def has_config(self) -> bool:
        return files.exists(self.config_file)

    def read_config(self) -> ml_collections.ConfigDict:
        """The saved config (any version, fields it predates at their defaults), validated."""
        if not self.has_config():
            raise FileNotFoundError(f"{self.path} is not a run directory: it has no config.json.")
        config = config_from_json(files.read_text(self.config_file))
        validate(config)
        return config

    def check_config(self, config: ml_collections.ConfigDict) -> None:
        """Refuses to continue a run whose saved `model` or `data` config differs from `config`,
        or to switch ADA on for a run trained without it (its checkpoints hold no p)."""
        if not self.has_config():
            return
        saved_config = self.read_config()
        saved = sections(saved_config, "model", "data")
        current = sections(config, "model", "data")
        for name in ("model", "data"):
            if saved[name] != current[name]:
                raise ValueError(
                    f"{self.path} holds a run with a different `{name}` config "
                    f"({saved[name]} vs {current[name]}); use another --workdir."
                )
        if config.train.ada_target and not saved_config.train.ada_target:
            raise ValueError(
                f"{self.path} holds a run trained without ADA (config.train.ada_target=0), whose "
                "checkpoints hold no augmentation probability; train with ADA in another --workdir."
            )

    def write_config(self, config: ml_collections.ConfigDict):
        return files.write_text(self.config_file, config_to_json(config))

    def write_info(self, info: DatasetInfo):
        """Writes `run.json`: the dataset facts a run needs to be rebuilt without its data.

        `class_to_id` spells out which label id each class name got (an image folder numbers
        only the classes with a readable image), so the labels can be read without the data.
        """
        names = list(info.class_names) if info.class_names else None
        content = {
            "dataset": info.name,
            "resolution": info.resolution,
            "num_classes": info.num_classes,
            "num_examples": info.num_examples,
            "class_names": names,
            "class_to_id": {name: i for i, name in enumerate(names)} if names else None,
        }
        return files.write_json(self.info_file, content)

    def read_info(self, config: ml_collections.ConfigDict) -> DatasetInfo:
        """The run's `DatasetInfo` from `run.json`, or from the dataset for runs made before it."""
        if files.exists(self.info_file):
            content = files.read_json(self.info_file)
            names = content.get("class_names")
            return DatasetInfo(
                name=content["dataset"],
                resolution=content["resolution"],
                num_classes=content["num_classes"],
                num_examples=content.get("num_examples"),
                class_names=tuple(names) if names else None,
            )
        return resolve_source(**config.data).info
