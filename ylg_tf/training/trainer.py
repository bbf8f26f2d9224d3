"""`GANTrainer`: the training loop (`loop.py`) over the TensorFlow back end
(`tensorflow_backend.py`: `tf.distribute`, the replicated step, `tf.train.Checkpoint`)."""

from __future__ import annotations

import ml_collections

from ylg_tf.training.loop import TrainingLoop
from ylg_tf.training.tensorflow_backend import TensorFlowBackend


def _from_backend(name: str) -> property:
    """The back end's attribute `name`, read through the trainer."""
    return property(lambda self: getattr(self.backend, name))


class GANTrainer(TrainingLoop):
    """Trains one G/D pair of a run config under a `tf.distribute` strategy (`TrainingLoop`).

    Besides the loop's attributes it shows its back end's TensorFlow objects: `strategy`,
    `step` (the int64 step variable), both optimizers, `train_step`, `checkpoints` and its
    `manager`.

    Args:
      config: a run config (`ylg_tf.runs.config.default_config()` and overrides).
      strategy: from `ylg_tf.training.strategy.make_strategy`.
      workdir: run directory (WORKSPACE.md): a local path or a URL (`gs://...`).
    """

    def __init__(self, config: ml_collections.ConfigDict, strategy, workdir) -> None:
        super().__init__(config, TensorFlowBackend(config, strategy), workdir)

    strategy = _from_backend("strategy")
    step = _from_backend("step_variable")
    g_optimizer = _from_backend("g_optimizer")
    d_optimizer = _from_backend("d_optimizer")
    train_step = _from_backend("train_step")
    checkpoints = _from_backend("checkpoints")
    manager = property(lambda self: self.backend.checkpoints.manager)
