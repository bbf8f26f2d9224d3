"""One MirroredStrategy over the two logical CPUs (see conftest.py) for the whole test session.

Every strategy object numbers its collective ops from the same keys, so a second strategy over
the same devices in one process reuses the first one's keys and TensorFlow aborts with a shape
mismatch between "members of the collective". Tests share this one instead of making their own.
"""

import functools

import tensorflow as tf


@functools.cache
def two_cpu_strategy() -> tf.distribute.MirroredStrategy:
    return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
