"""`TrainingLoop`: one run's training loop, driving a `TrainingBackend`.

The loop owns everything but the framework: the run config (validated once, here), the run
directory and its lease, the dataset's source and seeds, the schedule of logs, sample grids,
checkpoints and evaluations, progress lines and summaries, signals, the NaN stop and the EMA
generator's standing statistics. The back end (`backend.py`) builds the models, runs the train
steps and keeps the training state's files. `GANTrainer` (`trainer.py`) is this loop over the
TensorFlow back end, `ylg_tf.jax_engine.jax_loop` this loop over the JAX back end.
"""

from __future__ import annotations

import contextlib
import signal

import keras
import ml_collections
import numpy as np
from absl import logging

from ylg_tf.data import resolve_source
from ylg_tf.evaluation import make_evaluator, write_score_summaries, write_scores
from ylg_tf.runs import files
from ylg_tf.runs.directory import RunDirectory
from ylg_tf.runs.lock import RunLock
from ylg_tf.training import monitor
from ylg_tf.training.backend import TrainingBackend
from ylg_tf.training.signals import StopSignals, TrainingInterrupted
from ylg_tf.training.standing_statistics import standing_statistics
from ylg_tf.training.summaries import RunSummaries
from ylg_tf.training.validation import validate


class NonFiniteLossError(RuntimeError):
    """A loss became NaN or infinite; the last checkpoint (if any) was written before it."""


class TrainingLoop:
    """Trains one G/D pair of a run config with `backend`, in `workdir`.

    Re-creating a loop on the same `workdir` resumes from its newest readable checkpoint
    (step, G, D, EMA G, both optimizers, ADA's state); the data order restarts at the resumed
    step. The chief holds the run directory's lease (`ylg_tf.runs.lock`) from construction to
    `close()` or process exit. Everything a user can get wrong (the config, the back end's
    settings, the work directory, the dataset) is checked before anything is written;
    `config.json` and `run.json` are written once the models were built, and a start that fails
    removes the work directory it created, so that it leaves nothing behind.

    Args:
      config: a run config (`ylg_tf.runs.config.default_config()` and overrides).
      backend: the framework that runs the models, not yet built.
      workdir: run directory (WORKSPACE.md): a local path or a URL (`gs://...`).
    """

    def __init__(
        self, config: ml_collections.ConfigDict, backend: TrainingBackend, workdir
    ) -> None:
        validate(config)
        backend.prepare()
        self.config, self.backend = config, backend
        self.run_dir = RunDirectory(workdir)
        self.workdir = self.run_dir.path
        created = files.check_directory(self.workdir)  # the folder this start makes, if any
        self.source = resolve_source(**config.data)
        keras.utils.set_random_seed(config.seed)
        precision = config.train.mixed_precision
        keras.mixed_precision.set_global_policy(f"mixed_{precision}" if precision else "float32")
        self.run_dir.check_config(config)
        self._chief = backend.chief
        self.lock = None
        try:
            self.lock = RunLock(self.run_dir.lock_file).acquire() if self._chief else None
            self._build()
        except BaseException:
            self.close()
            if created and self._chief:
                files.remove_if_empty(created)
            raise

    def _build(self) -> None:
        config, backend = self.config, self.backend
        self.dataset = backend.batches(self.source)
        self.info = self.source.info
        classes = self.info.num_classes
        own = self.run_dir if self._chief else self.run_dir.worker(backend.worker)
        backend.build(classes, str(self.run_dir.checkpoints), str(own.checkpoints))
        self.generator, self.discriminator = backend.generator, backend.discriminator
        self.ema_generator = backend.ema_generator
        if self._chief:  # only now: a failed start must not leave a config behind
            self.run_dir.write_config(config)
            self.run_dir.write_info(self.info)
        self.summaries = RunSummaries(
            self.run_dir, own, classes, config.model.generator.z_dim, config.data.resolution,
            config.seed,
            self._chief,
        )  # fmt: skip
        self._evaluator = None  # built on the first evaluation (it may train a classifier)

    def close(self) -> None:
        """Releases the run directory (also done at process exit)."""
        if self.lock is not None:
            self.lock.release()

    @property
    def sampler(self) -> keras.Model:
        """The generator to sample from: the EMA one when the run keeps it."""
        return self.ema_generator if self.ema_generator is not None else self.generator

    # --- the loop -----------------------------------------------------------------------------

    def train(self, steps: int | None = None) -> dict[str, float]:
        """Trains until `config.train.steps` (or `steps` more); returns the last metrics.

        Raises:
          TrainingInterrupted: SIGTERM or SIGINT arrived; a checkpoint was saved first.
          NonFiniteLossError: a loss became NaN or infinite.
        """
        train = self.config.train
        start = self.backend.step
        total = train.steps if steps is None else start + steps
        iterator = iter(self.dataset)
        progress = monitor.Progress(total, train.batch_size, start)
        metrics: dict[str, float] = {}
        signals = None if self.backend.saves_on_preemption else StopSignals()
        if start >= total:  # e.g. a finished run's command run again
            logging.info(
                "Nothing to train: the run is at step %d and trains to step %d.", start, total
            )
        with signals or contextlib.nullcontext():
            while (step := self.backend.step) < total:
                chunk = min(train.steps_per_call, total - step, _until_next(step, self.config))
                metrics = self.backend.train(iterator, chunk)
                step = self.backend.step
                if not all(np.isfinite(list(metrics.values()))) and not self._overflow(step):
                    raise NonFiniteLossError(
                        f"Non-finite loss at step {step}: {metrics}. The last good checkpoint "
                        f"is {self.backend.latest_checkpoint} and was left as it is; try lower "
                        "learning rates or no mixed precision."
                    )
                self._at_boundary(step, total, metrics, progress)
                if signals is not None and signals.received is not None:
                    self._stop(step, signals.received)
        self.summaries.flush()
        return metrics

    def _overflow(self, step: int) -> bool:
        """Whether a non-finite loss is a float16 overflow that the loss scalers skipped.

        A `LossScaleOptimizer` skips an update whose gradients overflowed and halves its scale;
        training goes on. Only a scale driven below 1 (it keeps overflowing) means divergence.
        """
        scale = self.backend.loss_scale()
        if scale is None or scale < 1.0:
            return False
        logging.warning(
            "Non-finite loss at step %d under float16: the loss scaler skipped that update "
            "(loss scale now %g).",
            step,
            scale,
        )
        return True

    def _at_boundary(self, step: int, total: int, metrics, progress) -> None:
        train = self.config.train
        if step % train.log_every == 0 or step == total:
            progress.report(step, metrics)
            self.summaries.scalars(step, metrics)
        every = self.config.eval.every if "eval" in self.config else 0
        sample = step % train.sample_every == 0 or step == total
        save = step % train.checkpoint_every == 0 or step == total
        evaluate = every and (step % every == 0 or step == total)
        if sample or save or evaluate:
            self._standing_statistics(step)
        if sample:
            self.write_samples(step)
        if save:
            self.backend.save(step)
        if evaluate:
            self.evaluate(step)

    def _standing_statistics(self, step: int) -> None:
        """The EMA generator's own batch-norm statistics, before it is sampled, saved or scored
        (`update_ema` copies the raw generator's every step)."""
        batches = self.config.train.ema_standing_batches
        if self.ema_generator is None or not batches:
            return
        standing_statistics(
            self.ema_generator,
            self.info.num_classes,
            self.config.model.generator.z_dim,
            batches=batches,
            batch_size=self.config.train.batch_size,
            seed=self.config.seed + step,
        )

    def _stop(self, step: int, signum: int) -> None:
        latest = self.backend.latest_checkpoint
        if not self.backend.saved(step):
            self._standing_statistics(step)
            latest = self.backend.save(step)
        self.summaries.flush()
        name = signal.Signals(signum).name
        raise TrainingInterrupted(
            f"Stopped by {name} at step {step}; saved {latest}. Run the same command to resume.",
            signum,
        )

    # --- what the run writes --------------------------------------------------------------------

    def write_samples(self, step: int):
        """A grid of fixed-z samples (one row per class) as PNG and summary, plus attention maps."""
        return self.summaries.samples(step, self.sampler)

    def evaluate(self, step: int) -> dict | None:
        """FID / IS / KID of the sampler (`config.eval`): `eval/step_<step>.json` and summaries."""
        if not self._chief:
            return None
        if self._evaluator is None:
            self._evaluator = make_evaluator(self.config, self.run_dir)
        scores = self._evaluator.evaluate_generator(
            self.sampler, self.info.num_classes, seed=self.config.seed
        )
        scores.update(step=step, generator="ema" if self.ema_generator is not None else "raw")
        write_scores(self.run_dir.scores(step), scores)
        logging.info(
            "eval at step %d: FID %.3f, IS %.3f, KID %.5f (%d real, %d generated)",
            step,
            scores["fid"],
            scores["is"],
            scores["kid"],
            scores["num_real"],
            scores["num_generated"],
        )
        write_score_summaries(self.summaries.writer, step, scores)
        return scores


def _until_next(step: int, config: ml_collections.ConfigDict) -> int:
    """Steps until the next log, sample, checkpoint or eval boundary (a call never crosses one)."""
    train = config.train
    boundaries = [train.log_every, train.sample_every, train.checkpoint_every]
    if "eval" in config and config.eval.every:
        boundaries.append(config.eval.every)
    return min(every - step % every for every in boundaries)
