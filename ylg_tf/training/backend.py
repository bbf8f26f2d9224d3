"""`TrainingBackend`: what a training loop needs from the framework that runs the models.

The loop (`ylg_tf.training.loop.TrainingLoop`) owns the run: its config and directory, the lease,
logging, progress, summaries, sample grids, evaluation, the schedule of logs, samples,
checkpoints and evaluations, signals, the NaN stop, standing statistics and the seeds. A back end
owns the framework: the distribution, the models and optimizers built under it, the compiled
train step and the training state's files. It never touches run directories, configs (beyond
reading the run config it was given), logging, summaries, signals or schedules: the loop gives it
the folders to keep its state in and the number of steps to run.

`ylg_tf.training.tensorflow_backend.TensorFlowBackend` implements it with `tf.distribute`,
`ylg_tf.jax_engine.backend.JaxBackend` with Keras's JAX backend (docs/architecture.md).
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator

import keras

from ylg_tf.data import Source


class TrainingBackend(abc.ABC):
    """The models and the train step of one run, under one framework's distribution.

    After `build`, `generator`, `discriminator` and `ema_generator` (None without EMA) are
    Keras models holding the current weights, which the loop samples, scores and re-estimates
    batch-norm statistics of in eager calls.
    """

    generator: keras.Model
    discriminator: keras.Model
    ema_generator: keras.Model | None

    @abc.abstractmethod
    def prepare(self) -> None:
        """Checks the run config against this back end (raises ValueError naming the field
        or setting) and sets the framework's process-wide options; builds and writes nothing."""

    @property
    @abc.abstractmethod
    def chief(self) -> bool:
        """Whether this process writes the run (one process of a multi-process run)."""

    @property
    @abc.abstractmethod
    def worker(self) -> int:
        """This process's index among the run's processes (0 on the chief)."""

    @abc.abstractmethod
    def batches(self, source: Source) -> Iterable:
        """The endless training batches of `source` in the layout `train` takes, in the run's
        data order (`config.seed`); each `iter` starts at the first batch."""

    @abc.abstractmethod
    def build(self, num_classes: int, checkpoint_dir: str, own_checkpoint_dir: str) -> None:
        """Builds G, D, EMA G and both optimizers, then restores the newest readable state in
        `checkpoint_dir` (setting unreadable ones aside on the chief; see
        `ylg_tf.runs.checkpoints.restore_newest`). This process saves into
        `own_checkpoint_dir`."""

    @property
    @abc.abstractmethod
    def step(self) -> int:
        """Train steps taken (restored ones included)."""

    @abc.abstractmethod
    def train(self, batches: Iterator, steps: int) -> dict[str, float]:
        """Runs `steps` train steps (D step(s), G step, EMA update each) on `batches`; the last
        step's `d_loss`, `g_loss`, `d_real`, `d_fake` (losses summed over the replicas), and
        ADA's `ada_p` and `ada_r` when the run has ADA."""

    @abc.abstractmethod
    def loss_scale(self) -> float | None:
        """The smaller dynamic loss scale of the two optimizers under float16, else None."""

    @abc.abstractmethod
    def save(self, step: int) -> str:
        """Saves the whole training state as of `step`; the path written."""

    @property
    @abc.abstractmethod
    def latest_checkpoint(self) -> str | None:
        """The newest saved state's path, or None."""

    @abc.abstractmethod
    def saved(self, step: int) -> bool:
        """Whether the newest saved state is that of `step`."""

    @property
    @abc.abstractmethod
    def saves_on_preemption(self) -> bool:
        """Whether the framework saves and exits on a preemption signal itself (multi-worker
        runs, where saving is collective); then the loop installs no signal handlers."""
