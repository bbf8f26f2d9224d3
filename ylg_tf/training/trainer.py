"""`GANTrainer`: models, optimizers, the distributed train step, checkpoints and summaries."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import ml_collections
import numpy as np
import tensorflow as tf
from absl import logging

from ylg_tf.data import distributed_batches
from ylg_tf.models import build_discriminator, build_generator
from ylg_tf.training import monitor
from ylg_tf.training.config import saved_config, validate
from ylg_tf.training.ema import ema_decay, update_ema
from ylg_tf.training.losses import discriminator_hinge_loss, generator_hinge_loss
from ylg_tf.training.run import local_workdir, model_weights, write_run_info
from ylg_tf.training.strategy import is_chief
from ylg_tf.viz import colorize_segments, image_grid, segment_map

METRICS = ("d_loss", "g_loss", "d_real", "d_fake")
PREEMPTIBLE = (tf.distribute.MultiWorkerMirroredStrategy, tf.distribute.TPUStrategy)


class NonFiniteLossError(RuntimeError):
    """A loss became NaN or infinite; the last checkpoint (if any) was written before it."""


class GANTrainer:
    """Trains one G/D pair of a run config under a `tf.distribute` strategy.

    Re-creating a trainer on the same `workdir` resumes from its latest checkpoint (step, G, D,
    EMA G and both optimizers). The data order restarts at the resumed step.

    Args:
      config: a run config (`ylg_tf.training.config.default_config()` and overrides).
      strategy: from `ylg_tf.training.strategy.make_strategy`.
      workdir: run directory (WORKSPACE.md).
    """

    def __init__(self, config: ml_collections.ConfigDict, strategy, workdir: str | Path) -> None:
        validate(config)
        self.config, self.strategy, self.workdir = config, strategy, local_workdir(workdir)
        train = config.train
        if train.deterministic:
            tf.config.experimental.enable_op_determinism()
        keras.utils.set_random_seed(config.seed)
        precision = train.mixed_precision
        keras.mixed_precision.set_global_policy(f"mixed_{precision}" if precision else "float32")
        self._check_saved_config()

        self.dataset, self.info = distributed_batches(
            strategy,
            config.data.name,
            config.data.resolution,
            train.batch_size,
            config.seed,
            split=config.data.split,
            data_dir=config.data.data_dir or None,
            manual_dir=config.data.manual_dir or None,
            strict=config.data.strict,
        )
        if is_chief(strategy):
            write_run_info(self.workdir, self.info)
        synchronized = strategy.num_replicas_in_sync > 1
        with strategy.scope():
            self.generator = build_generator(config, self.info.num_classes, synchronized)
            self.discriminator = build_discriminator(config, self.info.num_classes)
            self.ema_generator = None
            if train.ema_decay:
                self.ema_generator = build_generator(config, self.info.num_classes, name="G_ema")
                self.ema_generator.set_weights(self.generator.get_weights())
            self.g_optimizer = self._optimizer(train.g_lr, self.generator, "g_optimizer")
            self.d_optimizer = self._optimizer(train.d_lr, self.discriminator, "d_optimizer")
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        tracked = dict(
            step=self.step,
            generator=self.generator,
            discriminator=self.discriminator,
            g_optimizer=self.g_optimizer,
            d_optimizer=self.d_optimizer,
        )
        if self.ema_generator is not None:
            tracked["ema_generator"] = self.ema_generator
        for name in [k for k in tracked if k.endswith(("generator", "discriminator"))]:
            tracked[f"{name}_weights"] = model_weights(tracked[name])  # lists of layers too
        self.checkpoint = tf.train.Checkpoint(**tracked)
        self._chief = is_chief(strategy)
        # Saving is collective, so every worker saves; only the chief into the run directory.
        checkpoints = self.workdir / "checkpoints"
        own = self.workdir if self._chief else self.workdir / f"worker_{_task_id(strategy)}"
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, str(own / "checkpoints"), max_to_keep=train.keep_checkpoints
        )
        latest = tf.train.latest_checkpoint(str(checkpoints))
        if latest:
            self.checkpoint.restore(latest).assert_existing_objects_matched()
            logging.info("Resumed from %s at step %d.", latest, int(self.step.numpy()))
        self._preemption = None
        if isinstance(strategy, PREEMPTIBLE):  # saves and exits when the cluster preempts us
            self._preemption = tf.distribute.experimental.PreemptionCheckpointHandler(
                strategy.cluster_resolver, self.manager
            )
        self._writer = tf.summary.create_file_writer(str(own / "logs"))
        self._fixed_z, self._fixed_labels = self._sample_inputs()
        self._evaluator = None  # built on the first evaluation (it may train a classifier)

    # --- the distributed train step ---------------------------------------------------------

    def _optimizer(self, learning_rate: float, model: keras.Model, name: str):
        train = self.config.train
        optimizer = keras.optimizers.Adam(
            learning_rate, beta_1=train.beta1, beta_2=train.beta2, name=name
        )
        if train.mixed_precision == "float16":
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer, name=f"{name}_scaled")
        optimizer.build(model.trainable_variables)  # before a restore, so slots are restored
        return optimizer

    def _latents(self, use: int, local_batch):
        """Replica's slice of one global z batch: the same z whatever the replica count."""
        context = tf.distribute.get_replica_context()
        seed = tf.stack(
            [
                tf.constant(self.config.seed, tf.int64),
                self.step * (self.config.train.d_steps + 1) + use,
            ]
        )
        z = tf.random.stateless_normal(
            [local_batch * context.num_replicas_in_sync, self.config.model.z_dim], seed
        )
        start = context.replica_id_in_sync_group * local_batch
        return z[start : start + local_batch]

    def _apply(self, optimizer, tape: tf.GradientTape, loss, model: keras.Model) -> None:
        scaled = optimizer.scale_loss(loss)  # identity unless a LossScaleOptimizer
        gradients = tape.gradient(scaled, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))

    def _replica_step(self, batches):
        global_batch = self.config.train.batch_size
        G, D = self.generator, self.discriminator
        for use, (images, labels) in enumerate(batches):
            z = self._latents(use, tf.shape(images)[0])
            with tf.GradientTape() as tape:
                fake = G((z, labels), training=True)
                real_logits = D((images, labels), training=True)
                fake_logits = D((fake, labels), training=True)
                d_loss = tf.nn.compute_average_loss(
                    discriminator_hinge_loss(real_logits, fake_logits),
                    global_batch_size=global_batch,
                )
            self._apply(self.d_optimizer, tape, d_loss, D)
        z = self._latents(len(batches), tf.shape(images)[0])
        with tf.GradientTape() as tape:
            g_logits = D((G((z, labels), training=True), labels), training=True)
            g_loss = tf.nn.compute_average_loss(
                generator_hinge_loss(g_logits), global_batch_size=global_batch
            )
        self._apply(self.g_optimizer, tape, g_loss, G)
        if self.ema_generator is not None:
            train = self.config.train
            update_ema(
                G, self.ema_generator, ema_decay(self.step, train.ema_decay, train.ema_start)
            )
        return {
            "d_loss": d_loss,
            "g_loss": g_loss,
            "d_real": tf.reduce_mean(real_logits),
            "d_fake": tf.reduce_mean(fake_logits),
        }

    @tf.function
    def _train_steps(self, iterator, steps):
        reduce = self.strategy.reduce
        metrics = {name: tf.constant(0.0) for name in METRICS}
        for _ in tf.range(steps):
            batches = tuple(next(iterator) for _ in range(self.config.train.d_steps))
            per_replica = self.strategy.run(self._replica_step, args=(batches,))
            self.step.assign_add(1)
            metrics = {
                name: reduce(
                    tf.distribute.ReduceOp.SUM
                    if name.endswith("loss")
                    else tf.distribute.ReduceOp.MEAN,
                    per_replica[name],
                    axis=None,
                )
                for name in METRICS
            }
        return metrics

    # --- the loop -----------------------------------------------------------------------------

    def train(self, steps: int | None = None) -> dict[str, float]:
        """Trains until `config.train.steps` (or `steps` more); returns the last metrics."""
        train = self.config.train
        total = train.steps if steps is None else int(self.step.numpy()) + steps
        iterator = iter(self.dataset)
        progress = monitor.Progress(total, train.batch_size, int(self.step.numpy()))
        metrics: dict[str, float] = {}
        while (step := int(self.step.numpy())) < total:
            chunk = min(train.steps_per_call, total - step, _until_next(step, self.config))
            run = self._preemption.run if self._preemption else _call
            metrics = {
                k: float(v) for k, v in run(self._train_steps, iterator, tf.constant(chunk)).items()
            }
            step = int(self.step.numpy())
            if not all(np.isfinite(list(metrics.values()))):
                raise NonFiniteLossError(
                    f"Non-finite loss at step {step}: {metrics}. The last good checkpoint is "
                    f"{self.manager.latest_checkpoint} and was left as it is; try lower learning "
                    "rates or no mixed precision."
                )
            if step % train.log_every == 0 or step == total:
                progress.report(step, metrics)
                self._write_scalars(step, metrics)
            if step % train.sample_every == 0 or step == total:
                self.write_samples(step)
            if step % train.checkpoint_every == 0 or step == total:
                self.manager.save(checkpoint_number=step)
            every = self.config.eval.every if "eval" in self.config else 0
            if every and (step % every == 0 or step == total):
                self.evaluate(step)
        self._writer.flush()
        return metrics

    # --- what the run writes --------------------------------------------------------------------

    def _check_saved_config(self) -> None:
        """Writes config.json, or refuses to resume a run whose model or data differ.

        Fields the saved config predates count with their defaults (`saved_config`).
        """
        path = self.workdir / "config.json"
        current = json.loads(self.config.to_json_best_effort())
        if path.exists():
            saved = json.loads(saved_config(json.loads(path.read_text())).to_json_best_effort())
            for section in ("model", "data"):
                before = saved[section]
                if before != current[section]:
                    raise ValueError(
                        f"{self.workdir} holds a run with a different `{section}` config "
                        f"({before} vs {current[section]}); use another --workdir."
                    )
        if is_chief(self.strategy):
            self.workdir.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")

    def _sample_inputs(self):
        classes = self.info.num_classes
        per_class = max(1, 64 // classes) if classes <= 64 else 1
        labels = np.repeat(np.arange(min(classes, 64)), per_class).astype(np.int32)
        z = np.random.default_rng(self.config.seed).standard_normal(
            (len(labels), self.config.model.z_dim)
        )
        self._grid_columns = per_class if 1 < per_class <= 8 else 8  # a row per class if few
        return z.astype(np.float32), labels

    @property
    def sampler(self) -> keras.Model:
        """The generator to sample from: the EMA one when the run keeps it."""
        return self.ema_generator if self.ema_generator is not None else self.generator

    def write_samples(self, step: int) -> Path | None:
        """A grid of fixed-z samples (one row per class) as PNG and summary, plus attention maps."""
        if not self._chief:
            return None
        images, probs = self.sampler(
            (self._fixed_z, self._fixed_labels), training=False, return_attention_scores=True
        )
        grid = image_grid(np.asarray(images), self._grid_columns)
        scale = max(1, 64 // self.config.data.resolution)  # PNGs of at least 64px a sample
        large = image_grid(np.asarray(images), self._grid_columns, scale)
        path = monitor.write_png(self.workdir / "samples" / f"step_{step:07d}.png", large)
        with self._writer.as_default(step=step):
            tf.summary.image("samples", grid[None], max_outputs=1)
            layers = probs if isinstance(probs, tuple) else () if probs is None else (probs,)
            for k, layer_probs in enumerate(np.asarray(p) for p in layers):
                queries, keys = layer_probs.shape[-2:]
                if keys * 4 == queries:  # image keys, 2x2 pooled: where the centre query looks
                    side = int(np.sqrt(keys))
                    maps = (monitor.attention_grid(layer_probs, (side, side)) + 1) / 2
                    tf.summary.image(f"attention_{k}/centre_query_per_head", maps, max_outputs=16)
                else:  # latents (GANformer): which latent each position attends to most
                    segments = colorize_segments(segment_map(layer_probs[0]))
                    tf.summary.image(f"attention_{k}/latent_segments", segments[None] / 255.0)
        return path

    def evaluate(self, step: int) -> dict | None:
        """FID / IS / KID of the sampler (`config.eval`): `eval/step_<step>.json` and summaries."""
        if not self._chief:
            return None
        from ylg_tf.evaluation import make_evaluator, write_scores  # it imports ylg_tf.training

        if self._evaluator is None:
            self._evaluator = make_evaluator(self.config, self.workdir)
        scores = self._evaluator.evaluate_generator(
            self.sampler, self.info.num_classes, seed=self.config.seed
        )
        scores.update(step=step, generator="ema" if self.ema_generator is not None else "raw")
        write_scores(self.workdir / "eval" / f"step_{step:07d}.json", scores)
        logging.info(
            "eval at step %d: FID %.3f, IS %.3f, KID %.5f (%d real, %d generated)",
            step,
            scores["fid"],
            scores["is"],
            scores["kid"],
            scores["num_real"],
            scores["num_generated"],
        )
        with self._writer.as_default(step=step):
            for name in ("fid", "is", "kid"):
                tf.summary.scalar(f"eval/{name}", scores[name])
        return scores

    def _write_scalars(self, step: int, metrics: dict[str, float]) -> None:
        with self._writer.as_default(step=step):
            for name, value in metrics.items():
                tf.summary.scalar(name, value)


def _call(function, *args):
    return function(*args)


def _task_id(strategy) -> int:
    resolver = getattr(strategy, "cluster_resolver", None)
    return int(resolver.task_id or 0) if resolver is not None else 0


def _until_next(step: int, config: ml_collections.ConfigDict) -> int:
    """Steps until the next log, sample, checkpoint or eval boundary (a call never crosses one)."""
    train = config.train
    boundaries = [train.log_every, train.sample_every, train.checkpoint_every]
    if "eval" in config and config.eval.every:
        boundaries.append(config.eval.every)
    return min(every - step % every for every in boundaries)
