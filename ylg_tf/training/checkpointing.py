"""The training run's checkpoints: what they hold, resuming, saving, and preemption.

A checkpoint holds the step, G, D, the EMA G, both optimizers and ADA's state (when on), each
model also as a dict of its weights by path (`ylg_tf.runs.loading.model_weights`). Resuming goes
through `ylg_tf.runs.checkpoints.restore_newest`: the newest checkpoint that restores, unreadable
ones set aside, never a silent start at step 0 while checkpoints exist.
"""

from __future__ import annotations

import tensorflow as tf
from absl import logging

from ylg_tf.runs import checkpoints as run_checkpoints
from ylg_tf.runs.loading import model_weights

PREEMPTIBLE = (tf.distribute.MultiWorkerMirroredStrategy, tf.distribute.TPUStrategy)


class TrainingCheckpoints:
    """Builds the checkpoint of a trainer's state, restores it and saves it.

    Args:
      directory: the run's checkpoint folder, read by every worker.
      own_directory: where this worker saves (`directory` on the chief; saving is collective,
        so other workers save into a folder of their own).
      state: the trackables by name (`step`, `generator`, `discriminator`, `ema_generator`,
        `g_optimizer`, `d_optimizer`, `ada`).
      keep: checkpoints kept by the manager.
      chief: whether this worker owns the run directory (sets unreadable checkpoints aside).
      strategy: a multi-worker or TPU strategy gets TensorFlow's preemption handler.
    """

    def __init__(
        self,
        directory: str,
        own_directory: str,
        state: dict,
        keep: int,
        chief: bool,
        strategy,
    ) -> None:
        self.step = state["step"]
        tracked = dict(state)
        for name in [k for k in state if k.endswith(("generator", "discriminator"))]:
            tracked[f"{name}_weights"] = model_weights(state[name])  # lists of layers too
        self.checkpoint = tf.train.Checkpoint(**tracked)
        if chief:
            run_checkpoints.remove_temp_dirs(directory)
        self.restored = run_checkpoints.restore_newest(self._restore, directory, set_aside=chief)
        if self.restored is not None:
            logging.info("Resumed from %s at step %d.", self.restored[1], int(self.step.numpy()))
            if chief:  # the state file lists what is on disk, whatever happened to it
                run_checkpoints.write_state(directory, run_checkpoints.checkpoint_steps(directory))
        self.manager = tf.train.CheckpointManager(self.checkpoint, own_directory, max_to_keep=keep)
        self.preemption = None
        if isinstance(strategy, PREEMPTIBLE):  # saves and exits when the cluster preempts us
            self.preemption = tf.distribute.experimental.PreemptionCheckpointHandler(
                strategy.cluster_resolver, self.manager
            )

    def _restore(self, prefix: str) -> None:
        self.checkpoint.restore(prefix).assert_existing_objects_matched()

    def run(self, function, *args):
        """Calls `function` (a train call) under the preemption handler when there is one."""
        if self.preemption is not None:
            return self.preemption.run(function, *args)
        return function(*args)

    def save(self, step: int) -> str:
        return self.manager.save(checkpoint_number=step)

    @property
    def latest(self) -> str | None:
        return self.manager.latest_checkpoint
