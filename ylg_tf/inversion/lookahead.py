"""Lookahead (Zhang et al., 2019) around any Keras 3 optimizer, as tensorflow-addons defined it."""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["Lookahead"]


@keras.saving.register_keras_serializable(package="ylg_tf")
class Lookahead(keras.optimizers.Optimizer):
    """Runs `optimizer` ("fast" weights) and every `sync_period` steps pulls them to slow weights.

    tensorflow-addons' semantics: the slow weights start at the variables' values when the
    wrapper is built (at its first `apply`, or an explicit `build`); after the fast step number
    `k * sync_period`, `slow += slow_step_size * (fast - slow)` and then `fast = slow`. YLG's
    inversion uses it because it needs fewer random restarts (supplementary §5).

    The sync is a `where` on the step count, not a Python branch, so the wrapper works eagerly,
    inside `tf.function` and on plain `tf.Variable`s (inversion optimizes a latent variable).

    Args:
      optimizer: the inner (fast) `keras.optimizers.Optimizer`, e.g. `Adam(0.05)`.
      sync_period: k >= 1, fast steps between synchronizations.
      slow_step_size: alpha in [0, 1], how far the slow weights move towards the fast ones.
      name: optimizer name.

    Example:
      >>> z = tf.Variable(tf.zeros([4, 128]))
      >>> optimizer = Lookahead(keras.optimizers.Adam(0.05), sync_period=5, slow_step_size=0.5)
      >>> optimizer.apply([tf.ones_like(z)], [z])

    References:
      - [Zhang et al., Lookahead Optimizer: k steps forward, 1 step back, 2019](
        https://arxiv.org/abs/1907.08610)
    """

    def __init__(
        self,
        optimizer: keras.optimizers.Optimizer,
        sync_period: int = 5,
        slow_step_size: float = 0.5,
        name: str = "lookahead",
        **kwargs,
    ) -> None:
        if kwargs:
            raise ValueError(
                f"Lookahead takes no optimizer arguments of its own ({sorted(kwargs)}); "
                "set them on the inner optimizer."
            )
        if not isinstance(optimizer, keras.optimizers.Optimizer):
            raise ValueError(f"optimizer must be a keras.optimizers.Optimizer, got {optimizer!r}.")
        if isinstance(sync_period, bool) or int(sync_period) != sync_period or sync_period < 1:
            raise ValueError(f"sync_period={sync_period!r}; expected an integer >= 1.")
        if not 0.0 <= float(slow_step_size) <= 1.0:
            raise ValueError(f"slow_step_size={slow_step_size!r}; expected a number in [0, 1].")
        super().__init__(learning_rate=0.0, name=name)
        self.inner_optimizer = optimizer
        self.sync_period = int(sync_period)
        self.slow_step_size = float(slow_step_size)

    def build(self, var_list) -> None:
        if self.built:
            return
        self.inner_optimizer.build(var_list)
        self._slow_weights = []
        for variable in var_list:
            # Keras initializes optimizer variables under `tf.init_scope`, so this reads the
            # variable's current value even when the first `apply` runs inside a tf.function.
            self._slow_weights.append(
                self.add_variable_from_reference(variable, "slow", initializer=_value_of(variable))
            )
        super().build(var_list)

    @property
    def variables(self) -> list:
        return self._variables + self.inner_optimizer.variables

    @property
    def learning_rate(self):
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, learning_rate) -> None:
        if hasattr(self, "inner_optimizer"):  # the base __init__ sets a placeholder first
            self.inner_optimizer.learning_rate = learning_rate

    @property
    def iterations(self):
        return self.inner_optimizer.iterations

    def apply(self, grads, trainable_variables=None) -> None:
        trainable_variables = list(trainable_variables or self._trainable_variables)
        if not self.built:
            self.build(trainable_variables)
        self.inner_optimizer.apply(grads, trainable_variables)
        sync = ops.equal(ops.mod(self.inner_optimizer.iterations, self.sync_period), 0)
        for fast, slow in zip(trainable_variables, self._slow_weights, strict=True):
            fast_value = ops.convert_to_tensor(fast)
            slow_value = ops.convert_to_tensor(slow)
            pulled = slow_value + ops.cast(self.slow_step_size, slow_value.dtype) * (
                fast_value - slow_value
            )
            slow.assign(ops.where(sync, pulled, slow_value))
            fast.assign(ops.where(sync, pulled, fast_value))

    def apply_gradients(self, grads_and_vars) -> None:
        grads, variables = zip(*grads_and_vars, strict=True)
        self.apply(list(grads), list(variables))

    def finalize_variable_values(self, var_list) -> None:
        self.inner_optimizer.finalize_variable_values(var_list)

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "optimizer": keras.saving.serialize_keras_object(self.inner_optimizer),
            "sync_period": self.sync_period,
            "slow_step_size": self.slow_step_size,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        optimizer = keras.saving.deserialize_keras_object(
            config.pop("optimizer"), custom_objects=custom_objects
        )
        return cls(optimizer, **config)


def _value_of(variable):
    """An initializer that copies `variable`'s value when the slow weight is created."""

    def initializer(shape, dtype=None):
        del shape
        return ops.cast(ops.convert_to_tensor(variable), dtype or variable.dtype)

    return initializer
