"""`TensorFlowBackend`: the `TrainingBackend` of `tf.distribute` (one CPU or GPU, mirrored,
multi-worker, TPU), with the replicated step of `step.py` and the checkpoints of
`checkpointing.py`."""

from __future__ import annotations

import keras
import ml_collections
import tensorflow as tf

from ylg_tf.data import Source, distributed_batches
from ylg_tf.models import build_discriminator, build_generator
from ylg_tf.runs.validation import validate_for_strategy
from ylg_tf.training.ada import AdaptiveAugmentation
from ylg_tf.training.backend import TrainingBackend
from ylg_tf.training.checkpointing import TrainingCheckpoints
from ylg_tf.training.step import ReplicatedStep, make_optimizer
from ylg_tf.training.strategy import is_chief


class TensorFlowBackend(TrainingBackend):
    """The run's models and step under `strategy` (from `ylg_tf.training.make_strategy`).

    After `build`: `step` is also the int64 `tf.Variable` `step_variable`; `train_step` is the
    `ReplicatedStep`; `ada` the `AdaptiveAugmentation` under `config.train.ada_target` (else
    None); `checkpoints` the `TrainingCheckpoints` (a `tf.train.Checkpoint` of the step, G, D,
    EMA G, both optimizers and ADA's state, resumed from on build).
    """

    def __init__(self, config: ml_collections.ConfigDict, strategy) -> None:
        self.config, self.strategy = config, strategy

    def prepare(self) -> None:
        validate_for_strategy(self.config, self.strategy)
        backend = keras.backend.backend()
        if backend != "tensorflow":  # else it fails deep inside `tf.train.Checkpoint`
            raise ValueError(
                f"GANTrainer needs Keras's TensorFlow backend, but Keras runs on {backend!r} "
                "(KERAS_BACKEND): unset KERAS_BACKEND, or train on JAX with "
                "`ylg-train --engine=jax`."
            )
        if self.config.train.deterministic:
            tf.config.experimental.enable_op_determinism()

    @property
    def chief(self) -> bool:
        return is_chief(self.strategy)

    @property
    def worker(self) -> int:
        return getattr(getattr(self.strategy, "cluster_resolver", None), "task_id", None) or 0

    def batches(self, source: Source) -> tf.distribute.DistributedDataset:
        train = self.config.train
        return distributed_batches(self.strategy, source, train.batch_size, self.config.seed)

    def build(self, num_classes: int, checkpoint_dir: str, own_checkpoint_dir: str) -> None:
        config, strategy, train = self.config, self.strategy, self.config.train
        with strategy.scope():
            self.generator = build_generator(config, num_classes, strategy.num_replicas_in_sync > 1)
            self.discriminator = build_discriminator(config, num_classes)
            self.ema_generator = None
            if train.ema_decay:
                self.ema_generator = build_generator(config, num_classes, name="G_ema")
                self.ema_generator.set_weights(self.generator.get_weights())
            self.g_optimizer = make_optimizer(config, train.g_lr, self.generator, "g_optimizer")
            self.d_optimizer = make_optimizer(config, train.d_lr, self.discriminator, "d_optimizer")
            self.step_variable = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
            self.ada = AdaptiveAugmentation(train) if train.ada_target else None
        state = dict(
            step=self.step_variable,
            generator=self.generator,
            discriminator=self.discriminator,
            g_optimizer=self.g_optimizer,
            d_optimizer=self.d_optimizer,
        )
        if self.ema_generator is not None:
            state["ema_generator"] = self.ema_generator
        if self.ada is not None:
            state["ada"] = self.ada
        self.checkpoints = TrainingCheckpoints(
            checkpoint_dir, own_checkpoint_dir, state, train.keep_checkpoints, self.chief, strategy
        )
        self.train_step = ReplicatedStep(
            config, strategy, self.generator, self.discriminator, self.ema_generator,
            self.g_optimizer, self.d_optimizer, self.step_variable, self.ada,
        )  # fmt: skip

    @property
    def step(self) -> int:
        return int(self.step_variable.numpy())

    def train(self, batches, steps: int) -> dict[str, float]:
        values = self.checkpoints.run(self.train_step, batches, tf.constant(steps))
        return {name: float(value) for name, value in values.items()}

    def loss_scale(self) -> float | None:
        if self.config.train.mixed_precision != "float16":
            return None
        return min(float(o.dynamic_scale.numpy()) for o in (self.g_optimizer, self.d_optimizer))

    def save(self, step: int) -> str:
        return self.checkpoints.save(step)

    @property
    def latest_checkpoint(self) -> str | None:
        return self.checkpoints.latest

    def saved(self, step: int) -> bool:
        latest = self.checkpoints.latest
        return latest is not None and latest.endswith(f"ckpt-{step}")

    @property
    def saves_on_preemption(self) -> bool:
        return self.checkpoints.preemption is not None
