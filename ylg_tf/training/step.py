"""The replicated train step: D step(s), G step and EMA update, run by `strategy.run`."""

from __future__ import annotations

import keras
import ml_collections
import tensorflow as tf

from ylg_tf.training.ada import ada_augment
from ylg_tf.training.augment import diff_augment, parse_policy
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


def augmentation_seed(config, step, use: int, which: int, replica_id):
    """The stateless seed of one DiffAugment call: a function of the run's seed, the train step,
    the update (`use`: D step 0 .. d_steps - 1, then the G step), the image set (`which`: 0 real,
    1 fake) and the replica, so runs repeat and replicas draw different augmentations."""
    base = tf.stack(
        [tf.constant(config.seed, tf.int64), tf.cast(step, tf.int64) * (config.train.d_steps + 1)]
    )
    seed = tf.random.experimental.stateless_fold_in(base, use * 2 + which + 1)
    return tf.random.experimental.stateless_fold_in(seed, tf.cast(replica_id, tf.int64))


class ReplicatedStep:
    """`steps` train steps per call of `__call__` (a `tf.function`), under `strategy`.

    Each replica first draws its inputs (latents, augmentation seeds, the EMA decay) in its
    replica context, then runs the update: D step(s), G step and EMA. With `jit_compile` the
    update is one XLA-compiled `tf.function` per replica (each traced with its own replica's
    variables; XLA pins a compiled function's variables to one device). Under TPUStrategy
    `strategy.run` compiles everything with XLA itself, so the update is not wrapped again.
    The latents are drawn outside the compiled update because XLA's stateless sampling draws
    other values for the same seed: compiled and uncompiled runs use the same z. With
    `config.train.augment`, D sees DiffAugment of its real and fake inputs in every D and G step
    (G's gradient passes through it), with seeds from `augmentation_seed`; with `ada` (an
    `AdaptiveAugmentation`, `config.train.ada_target`), the ADA pipeline at its p instead, and
    each step's sign(D(real)) goes to `ada.update`, which tunes p.

    Args:
      config: the run config (`train` and `model.generator.z_dim`, `seed`).
      strategy: the `tf.distribute` strategy the models were built under.
      generator, discriminator, ema_generator: the models (`ema_generator` None without EMA).
      g_optimizer, d_optimizer: from `make_optimizer`.
      step: the run's int64 step variable, incremented once per train step.
      ada: the run's `AdaptiveAugmentation`, or None.
    """

    def __init__(
        self, config, strategy, generator, discriminator, ema_generator, g_optimizer, d_optimizer,
        step, ada=None,
    ) -> None:  # fmt: skip
        self.config, self.strategy = config, strategy
        self.generator, self.discriminator, self.ema_generator = (
            generator,
            discriminator,
            ema_generator,
        )
        self.g_optimizer, self.d_optimizer, self.step = g_optimizer, d_optimizer, step
        self.ada = ada
        self.policy = parse_policy(config.train.augment)
        # "auto" means XLA only under TPUStrategy, which compiles `strategy.run` itself.
        tpu = isinstance(strategy, tf.distribute.TPUStrategy)
        self.jit_compile = config.train.jit_compile == "on" and not tpu
        self._compiled = {}  # replica id -> the XLA-compiled update of that replica

    def _latents(self, use: int, local_batch: int):
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

    def _augmentation_seeds(self):
        """`[d_steps + 1, 2, 2]`: per update, the seeds of the real and the fake images."""
        replica = tf.distribute.get_replica_context().replica_id_in_sync_group
        seeds = [
            [augmentation_seed(self.config, self.step, use, which, replica) for which in (0, 1)]
            for use in range(self.config.train.d_steps + 1)
        ]
        return tf.stack([tf.stack(pair) for pair in seeds])

    def _augment(self, images, seeds, p, use: int, which: int):
        """ADA (at probability `p`) or DiffAugment of the images D sees; the identity without
        either."""
        if self.ada is not None:
            return ada_augment(images, p, seeds[use, which])
        return diff_augment(images, self.policy, seeds[use, which]) if self.policy else images

    @staticmethod
    def _apply(optimizer, tape: tf.GradientTape, scaled_loss, model: keras.Model) -> None:
        """One update from `scaled_loss`, which `optimizer.scale_loss` scaled inside `tape`: the
        tape must see the scaling, or a `LossScaleOptimizer` gets None gradients. It unscales
        them and skips the update (halving its scale) when they overflowed.

        Embedding gradients (the class-conditional gains and biases) arrive as IndexedSlices,
        one slice per example: Keras's Adam would square each slice into its second moment, so a
        class seen twice in a batch gets g1^2 + g2^2 instead of (g1 + g2)^2. Dense gradients give
        Adam as the papers (TF1) and the JAX engine apply it."""
        gradients = [
            tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g
            for g in tape.gradient(scaled_loss, model.trainable_variables)
        ]
        optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))

    def _replica_step(self, batches):
        local_batch = batches[0][0].shape[0]
        if local_batch is None:  # a dataset without drop_remainder
            local_batch = tf.shape(batches[0][0])[0]
        latents = tuple(self._latents(use, local_batch) for use in range(len(batches) + 1))
        augmented = self.policy or self.ada is not None
        seeds = self._augmentation_seeds() if augmented else tf.zeros([0], tf.int64)
        p = self.ada.p.read_value() if self.ada is not None else tf.constant(0.0)
        decay = tf.constant(0.0)
        if self.ema_generator is not None:
            train = self.config.train
            decay = ema_decay(self.step, train.ema_decay, train.ema_start)
        return self._update_function()(batches, latents, seeds, p, decay)

    def _update_function(self):
        """The update to run on this replica: `_update`, or its XLA-compiled copy."""
        if not self.jit_compile:
            return self._update
        replica = int(
            tf.get_static_value(tf.distribute.get_replica_context().replica_id_in_sync_group)
        )
        if replica not in self._compiled:
            self._compiled[replica] = tf.function(self._update, jit_compile=True)
        return self._compiled[replica]

    def _update(self, batches, latents, seeds, p, decay):
        global_batch = self.config.train.batch_size
        G, D = self.generator, self.discriminator
        real_signs = tf.constant(0.0)  # sum of sign(D(real)) over the D steps, for ADA
        for use, (images, labels) in enumerate(batches):
            with tf.GradientTape() as tape:
                fake = G((latents[use], labels), training=True)
                real_logits = D((self._augment(images, seeds, p, use, 0), labels), training=True)
                fake_logits = D((self._augment(fake, seeds, p, use, 1), labels), training=True)
                d_loss = tf.nn.compute_average_loss(
                    discriminator_hinge_loss(real_logits, fake_logits),
                    global_batch_size=global_batch,
                )
                scaled = self.d_optimizer.scale_loss(d_loss)  # identity unless float16
            self._apply(self.d_optimizer, tape, scaled, D)
            real_signs += tf.reduce_sum(tf.sign(tf.cast(real_logits, tf.float32)))
        use = len(batches)
        with tf.GradientTape() as tape:
            fake = self._augment(G((latents[use], labels), training=True), seeds, p, use, 1)
            g_logits = D((fake, labels), training=True)
            g_loss = tf.nn.compute_average_loss(
                generator_hinge_loss(g_logits), global_batch_size=global_batch
            )
            scaled = self.g_optimizer.scale_loss(g_loss)
        self._apply(self.g_optimizer, tape, scaled, G)
        if self.ema_generator is not None:
            update_ema(G, self.ema_generator, decay)
        return {
            "d_loss": d_loss,
            "g_loss": g_loss,
            "d_real": tf.reduce_mean(real_logits),
            "d_fake": tf.reduce_mean(fake_logits),
            "real_signs": real_signs,
            "real_count": tf.cast(tf.shape(real_logits)[0] * len(batches), tf.float32),
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
            if self.ada is not None:
                signs, count = (
                    reduce(tf.distribute.ReduceOp.SUM, per_replica[name], axis=None)
                    for name in ("real_signs", "real_count")
                )
                self.ada.update(signs, count, self.step)
        if self.ada is not None:
            metrics = {
                **metrics,
                "ada_p": self.ada.p.read_value(),
                "ada_r": self.ada.r.read_value(),
            }
        return metrics
