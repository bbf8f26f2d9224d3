"""Hinge losses of SAGAN / YLG, per example, so that distribution can scale them by global batch."""

from __future__ import annotations

import tensorflow as tf


def discriminator_hinge_loss(real_logits, fake_logits):
    """`relu(1 - D(x)) + relu(1 + D(G(z)))` per example; its batch mean is D's loss."""
    return tf.nn.relu(1.0 - real_logits) + tf.nn.relu(1.0 + fake_logits)


def generator_hinge_loss(fake_logits):
    """`-D(G(z))` per example; its batch mean is G's loss."""
    return -fake_logits
