"""Test-session set-up shared by every test module.

TensorFlow must see its devices configured before anything runs, so this file splits the one
physical CPU into two logical devices, so that `tf.distribute.MirroredStrategy` runs in-process.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _split_cpu_in_two() -> None:
    try:
        import tensorflow as tf
    except ImportError:  # the masks tests run without TensorFlow
        return
    (cpu,) = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
    )


_split_cpu_in_two()
