"""Hinge losses of SAGAN / YLG, per example, so that distribution can scale them by global batch.

Written with `keras.ops`, so that both engines (tf.distribute and Keras-on-JAX) use these.
"""

from __future__ import annotations

from keras import ops


def discriminator_hinge_loss(real_logits, fake_logits):
    """`relu(1 - D(x)) + relu(1 + D(G(z)))` per example; its batch mean is D's loss."""
    return ops.relu(1.0 - real_logits) + ops.relu(1.0 + fake_logits)


def generator_hinge_loss(fake_logits):
    """`-D(G(z))` per example; its batch mean is G's loss."""
    return -fake_logits
