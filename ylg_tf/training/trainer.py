"""`GANTrainer`: the training loop (`loop.py`) over the TensorFlow back end
(`tensorflow_backend.py`: `tf.distribute`, the replicated step, `tf.train.Checkpoint`)."""

from __future__ import annotations

import ml_collections

from ylg_tf.training.loop import TrainingLoop
from ylg_tf.training.tensorflow_backend import TensorFlowBackend


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

    @property
    def strategy(self):
        return self.backend.strategy

    @property
    def step(self):
        return self.backend.step_variable

    @property
    def g_optimizer(self):
        return self.backend.g_optimizer

    @property
    def d_optimizer(self):
        return self.backend.d_optimizer

    @property
    def train_step(self):
        return self.backend.train_step

    @property
    def checkpoints(self):
        return self.backend.checkpoints

    @property
    def manager(self):
        return self.backend.checkpoints.manager
