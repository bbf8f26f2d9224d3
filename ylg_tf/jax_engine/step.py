"""The GAN train step as one pure, jitted JAX function of the models' and optimizers' state.

It does what the TensorFlow engine's replicated step does (`d_steps` hinge-loss D updates, one G
update, the EMA generator), but with every variable passed in and returned as arrays. Layers are
run in a `keras.StatelessScope`, so whatever a layer assigns in `call` (batch-norm statistics,
spectral norm's power-iteration vector, or a kernel normalized in place) is carried to the next
step like the TF engine's variable assignments. Losses are means over the global batch: sharded
over devices, that is the TF engine's per-replica sum divided by the global batch size.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import keras

from ylg_tf.training.losses import discriminator_hinge_loss, generator_hinge_loss


@dataclasses.dataclass
class GANModels:
    """The Keras objects whose variables the step's state holds (built, under one distribution)."""

    generator: keras.Model
    discriminator: keras.Model
    ema_generator: keras.Model | None
    g_optimizer: keras.optimizers.Optimizer
    d_optimizer: keras.optimizers.Optimizer

    def variable_groups(self) -> dict[str, list]:
        """State name -> the variables it holds, in a fixed order."""
        G, D = self.generator, self.discriminator
        groups = {
            "g_trainable": G.trainable_variables,
            "g_other": G.non_trainable_variables,
            "d_trainable": D.trainable_variables,
            "d_other": D.non_trainable_variables,
            "g_optimizer": self.g_optimizer.variables,
            "d_optimizer": self.d_optimizer.variables,
        }
        if self.ema_generator is not None:  # aligned with G's lists position by position
            groups["ema_trainable"] = self.ema_generator.trainable_variables
            groups["ema_other"] = self.ema_generator.non_trainable_variables
        return groups

    def state(self) -> dict[str, list]:
        """The variables' current values (the arrays the step takes)."""
        return {k: [v.value for v in vs] for k, vs in self.variable_groups().items()}

    def assign(self, state: dict[str, list]) -> None:
        """Writes a step's output state back into the Keras variables."""
        for key, variables in self.variable_groups().items():
            for variable, value in zip(variables, state[key], strict=True):
                variable.assign(value)


def make_train_step(
    models: GANModels, d_steps: int, ema_decay: float, ema_start: int, replicated=None
):
    """`step(state, images, labels, z, step) -> (state, metrics)`, jitted, state donated.

    `replicated`: a sharding for the outputs (state and metrics) under data parallelism.
    `images` `[d_steps, B, r, r, 3]` and `labels` `[d_steps, B]` are D's batches (G's update reuses
    the last labels, as in the TF engine); `z` `[d_steps + 1, B, z_dim]`, one latent batch per use.
    """
    G, D = models.generator, models.discriminator
    model_keys = ("g_trainable", "g_other", "d_trainable", "d_other")
    groups = models.variable_groups()

    def run_models(values: dict, function):
        """`function()` with the models' variables bound to `values`; returns it and new values."""
        mapping = [(v, x) for k in model_keys for v, x in zip(groups[k], values[k], strict=True)]
        with keras.StatelessScope(state_mapping=mapping) as scope:
            outputs = function()
        return outputs, {k: [scope.get_current_value(v) for v in groups[k]] for k in model_keys}

    def d_loss(d_trainable, values, images, labels, z):
        def forward():
            fake = G((z, labels), training=True)
            real_logits = D((images, labels), training=True)
            return real_logits, D((fake, labels), training=True)

        (real, fake), values = run_models({**values, "d_trainable": d_trainable}, forward)
        return jnp.mean(discriminator_hinge_loss(real, fake)), (values, real, fake)

    def g_loss(g_trainable, values, labels, z):
        def forward():
            return D((G((z, labels), training=True), labels), training=True)

        logits, values = run_models({**values, "g_trainable": g_trainable}, forward)
        return jnp.mean(generator_hinge_loss(logits)), values

    def update(optimizer, key, gradients, values, optimizer_values):
        # The optimizer updates the values after the forward pass (those a layer may have
        # rewritten in place, as the TF engine's variables hold them when it applies gradients).
        new_values, new_optimizer = optimizer.stateless_apply(
            optimizer_values, gradients, values[key]
        )
        return {**values, key: new_values}, new_optimizer

    def train_step(state, images, labels, z, step):
        values = {k: state[k] for k in model_keys}
        g_opt, d_opt = state["g_optimizer"], state["d_optimizer"]
        for use in range(d_steps):
            (loss_d, (values, real, fake)), grads = jax.value_and_grad(d_loss, has_aux=True)(
                values["d_trainable"], values, images[use], labels[use], z[use]
            )
            values, d_opt = update(models.d_optimizer, "d_trainable", grads, values, d_opt)
        (loss_g, values), grads = jax.value_and_grad(g_loss, has_aux=True)(
            values["g_trainable"], values, labels[d_steps - 1], z[d_steps]
        )
        values, g_opt = update(models.g_optimizer, "g_trainable", grads, values, g_opt)
        new_state = {**values, "g_optimizer": g_opt, "d_optimizer": d_opt}
        if "ema_trainable" in state:
            decay = jnp.where(step >= ema_start, ema_decay, 0.0).astype(jnp.float32)
            new_state["ema_trainable"] = [
                decay * average + (1.0 - decay) * weight
                for average, weight in zip(
                    state["ema_trainable"], values["g_trainable"], strict=True
                )
            ]
            new_state["ema_other"] = list(values["g_other"])  # statistics are copied
        metrics = {
            "d_loss": loss_d,
            "g_loss": loss_g,
            "d_real": jnp.mean(real),
            "d_fake": jnp.mean(fake),
        }
        return new_state, metrics

    return jax.jit(train_step, donate_argnums=0, out_shardings=replicated)
