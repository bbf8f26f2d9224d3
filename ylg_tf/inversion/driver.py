"""The inversion driver: R random restarts per image optimized as one batch, the best one kept."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import keras
import numpy as np
import tensorflow as tf

from ylg_tf.inversion.lookahead import Lookahead
from ylg_tf.inversion.losses import check_method, inversion_loss, prepare_target
from ylg_tf.sampling import truncated_normal

__all__ = ["InversionResult", "invert"]


@dataclasses.dataclass
class InversionResult:
    """What `invert` found.

    Attributes:
      z: `[B, z_dim]` the best latent per image (over restarts and steps).
      images: `[B, R, R, 3]` G(z, label) of those latents.
      labels: `[B]` the class labels used.
      loss_curve: `[steps_run, B]` the loss at every step of the restart finally chosen for
        each image (the loss of its latent before that step's update).
      final_loss: `[B]` the loss of `z` (the minimum of the chosen restart's curve and of the
        loss after the last update).
      initial_loss: `[B]` the chosen restart's loss at its starting latent.
      restart_losses: `[restarts, B]` every restart's best loss; `final_loss` is its column min.
      best_restart: `[B]` which restart was kept.
      saliency: `[B, heads, h0, w0]` S'_h of the targets, or None when D has no attention.
      steps_run: optimizer steps taken (< `steps` after an early stop).
      method: the loss used.
    """

    z: np.ndarray
    images: np.ndarray
    labels: np.ndarray
    loss_curve: np.ndarray
    final_loss: np.ndarray
    initial_loss: np.ndarray
    restart_losses: np.ndarray
    best_restart: np.ndarray
    saliency: np.ndarray | None
    steps_run: int
    method: str


def invert(
    generator,
    discriminator,
    images,
    labels,
    method: str = "ylg",
    steps: int = 1500,
    restarts: int = 4,
    learning_rate: float = 0.05,
    truncation: float = 2.0,
    heads: Sequence[int] | None = None,
    patience: int = 100,
    tolerance: float = 1e-3,
    seed: int = 0,
    progress: Callable[[int, float], None] | None = None,
    initial_z=None,
) -> InversionResult:
    """Finds z with G(z, label) close to each image under `method` (docs/background.md, Inversion).

    z starts from a normal truncated at `truncation` standard deviations; Adam(`learning_rate`)
    inside Lookahead(5, 0.5) updates all `restarts x B` latents as one batch (targets tiled
    restart-major) in one `tf.function` step; per latent the best z seen is kept and per image
    the best restart. G and D run in inference mode (`training=False`) and are not changed.

    Early stop: with L_t the mean over images of the best loss so far after t steps (best over
    restarts and steps, so non-increasing), the run stops after step t > `patience` when
    `L_{t-patience} - L_t <= tolerance * L_{t-patience}`, i.e. when the last `patience` steps
    improved it by at most the relative `tolerance`. `patience=0` never stops early.

    Args:
      generator: `ylg_tf.models.Generator` (the EMA one of a run, when it has one).
      discriminator: `ylg_tf.models.Discriminator` (its D0 and attention are used).
      images: `[B, R, R, 3]` targets in [-1, 1].
      labels: `[B]` class labels (given, not inferred).
      method: one of `METHODS`.
      steps: maximum optimizer steps.
      restarts: random starts per image.
      learning_rate: Adam's learning rate.
      truncation: threshold of the initial latents.
      heads: head indices for `"ylg_heads"`.
      patience, tolerance: the early-stop rule above.
      seed: seed of the initial latents.
      progress: called as `progress(step, L_t)` after every step.
      initial_z: optional `[restarts, B, z_dim]` starting latents instead of random ones.

    Returns:
      An `InversionResult`.
    """
    check_method(method)
    images = tf.convert_to_tensor(images, tf.float32)
    labels_np = np.asarray(labels, np.int32).reshape(-1)
    batch = int(images.shape[0])
    if labels_np.shape != (batch,):
        raise ValueError(f"Got {batch} images but {labels_np.size} labels.")
    if restarts < 1 or steps < 0 or patience < 0:
        raise ValueError(f"restarts={restarts} (>= 1), steps={steps}, patience={patience} (>= 0).")
    z_dim = int(generator.z_dim)
    target = prepare_target(discriminator, images, labels_np, method, heads)
    tiled = target.tile(restarts)
    tiled_labels = tf.constant(np.tile(labels_np, restarts))
    if initial_z is None:
        start = truncated_normal((restarts * batch, z_dim), threshold=truncation, seed=seed)
    else:
        start = np.asarray(initial_z, np.float32)
        if start.shape != (restarts, batch, z_dim):
            raise ValueError(f"initial_z must be {(restarts, batch, z_dim)}, got {start.shape}.")
        start = tf.constant(start.reshape(restarts * batch, z_dim))
    z = tf.Variable(start, name="z")
    best_z = tf.Variable(start, name="best_z")
    best_loss = tf.Variable(tf.fill([restarts * batch], np.float32(np.inf)), name="best_loss")
    optimizer = Lookahead(keras.optimizers.Adam(learning_rate), sync_period=5, slow_step_size=0.5)
    optimizer.build([z])

    def loss_of(latents):
        fake = generator((latents, tiled_labels), training=False)
        return inversion_loss(method, fake, tiled, discriminator)

    def keep_best(loss):
        improved = loss < best_loss
        best_z.assign(tf.where(improved[:, None], z, best_z))
        best_loss.assign(tf.minimum(loss, best_loss))

    @tf.function
    def train_step():
        with tf.GradientTape() as tape:
            loss = loss_of(z)
            total = tf.reduce_sum(loss)  # a sum: each latent's gradient is its own loss's
        keep_best(loss)
        optimizer.apply(tape.gradient(total, [z]), [z])
        return loss

    @tf.function
    def evaluate():
        loss = loss_of(z)
        keep_best(loss)
        return loss

    curve, best_means = [], []
    for step in range(steps):
        curve.append(train_step().numpy())
        per_image = best_loss.numpy().reshape(restarts, batch).min(axis=0)
        best_means.append(float(per_image.mean()))
        if progress is not None:
            progress(step + 1, best_means[-1])
        if patience and step >= patience:
            before, now = best_means[step - patience], best_means[step]
            if before - now <= tolerance * before:
                break
    after = evaluate().numpy()  # the latents after the last update
    steps_run = len(curve)

    restart_losses = best_loss.numpy().reshape(restarts, batch)
    chosen = restart_losses.argmin(axis=0)
    rows = chosen * batch + np.arange(batch)
    z_best = best_z.numpy()[rows]
    inverted = generator((tf.constant(z_best), tf.constant(labels_np)), training=False)
    history = np.stack(curve) if curve else np.zeros((0, restarts * batch), np.float32)
    initial = history[0] if steps_run else after
    return InversionResult(
        z=z_best,
        images=np.asarray(inverted, np.float32),
        labels=labels_np,
        loss_curve=history[:, rows],
        final_loss=restart_losses[chosen, np.arange(batch)],
        initial_loss=initial[rows],
        restart_losses=restart_losses,
        best_restart=chosen,
        saliency=None if target.saliency is None else target.saliency.numpy(),
        steps_run=steps_run,
        method=method,
    )
