"""The replicated train step: D step(s), G step and EMA update, run by `strategy.run`."""

from __future__ import annotations

import keras
import ml_collections
import tensorflow as tf

from ylg_tf.training.ema import ema_decay, update_ema
from ylg_tf.training.losses import discriminator_hinge_loss, generator_hinge_loss

METRICS = ("d_loss", "g_loss", "d_real", "d_fake")


def make_optimizer(
    config: ml_collections.ConfigDict, learning_rate: float, model: keras.Model, name: str
):
    """Adam with the run's betas (loss-scaled under float16), built so that a restore fills
    its slots."""
    train = config.train
    optimizer = keras.optimizers.Adam(
        learning_rate, beta_1=train.beta1, beta_2=train.beta2, name=name
    )
    if train.mixed_precision == "float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer, name=f"{name}_scaled")
    optimizer.build(model.trainable_variables)
    return optimizer


class ReplicatedStep:
    """`steps` train steps per call of `__call__` (a `tf.function`), under `strategy`.

    Args:
      config: the run config (`train` and `model.generator.z_dim`, `seed`).
      strategy: the `tf.distribute` strategy the models were built under.
      generator, discriminator, ema_generator: the models (`ema_generator` None without EMA).
      g_optimizer, d_optimizer: from `make_optimizer`.
      step: the run's int64 step variable, incremented once per train step.
    """

    def __init__(
        self, config, strategy, generator, discriminator, ema_generator, g_optimizer, d_optimizer,
        step,
    ) -> None:  # fmt: skip
        self.config, self.strategy = config, strategy
        self.generator, self.discriminator, self.ema_generator = (
            generator,
            discriminator,
            ema_generator,
        )
        self.g_optimizer, self.d_optimizer, self.step = g_optimizer, d_optimizer, step

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
            [local_batch * context.num_replicas_in_sync, self.config.model.generator.z_dim], seed
        )
        start = context.replica_id_in_sync_group * local_batch
        return z[start : start + local_batch]

    @staticmethod
    def _apply(optimizer, tape: tf.GradientTape, scaled_loss, model: keras.Model) -> None:
        """One update from `scaled_loss`, which `optimizer.scale_loss` scaled inside `tape`: the
        tape must see the scaling, or a `LossScaleOptimizer` gets None gradients. It unscales
        them and skips the update (halving its scale) when they overflowed."""
        gradients = tape.gradient(scaled_loss, model.trainable_variables)
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
                scaled = self.d_optimizer.scale_loss(d_loss)  # identity unless float16
            self._apply(self.d_optimizer, tape, scaled, D)
        z = self._latents(len(batches), tf.shape(images)[0])
        with tf.GradientTape() as tape:
            g_logits = D((G((z, labels), training=True), labels), training=True)
            g_loss = tf.nn.compute_average_loss(
                generator_hinge_loss(g_logits), global_batch_size=global_batch
            )
            scaled = self.g_optimizer.scale_loss(g_loss)
        self._apply(self.g_optimizer, tape, scaled, G)
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
    def __call__(self, iterator, steps):
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
