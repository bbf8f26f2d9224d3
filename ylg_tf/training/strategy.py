"""The one place that creates a `tf.distribute` strategy: nothing else in the project does."""

from __future__ import annotations

import tensorflow as tf
from absl import logging

STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")


def make_strategy(name: str = "default", tpu: str = "", cpu_replicas: int = 0):
    """Returns the strategy `name`.

    Args:
      name: `"default"` (one device), `"mirrored"` (all local GPUs, or `cpu_replicas` logical CPU
        devices when given), `"multi_worker"` (MultiWorkerMirroredStrategy configured by the
        `TF_CONFIG` environment variable) or `"tpu"` (TPUStrategy through TPUClusterResolver).
      tpu: TPU name or address for `"tpu"` (`""` on a TPU VM, `"local"` for its local chips).
      cpu_replicas: with `"mirrored"`, split the CPU into this many logical devices (before
        TensorFlow starts its runtime) so that replication can run without GPUs.
    """
    if name not in STRATEGIES:
        raise ValueError(f"Unknown strategy {name!r}; expected one of {STRATEGIES}.")
    strategy = _make(name, tpu, cpu_replicas)
    if name != "default":  # the default strategy has no device list
        devices = ", ".join(strategy.extended.worker_devices)
        logging.info("Strategy %r: %d replicas (%s)", name, strategy.num_replicas_in_sync, devices)
    return strategy


def _make(name: str, tpu: str, cpu_replicas: int):
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        if cpu_replicas:
            return tf.distribute.MirroredStrategy(_logical_cpus(cpu_replicas))
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def _logical_cpus(count: int) -> list[str]:
    """Names of `count` logical CPU devices, splitting the CPU first if it is not yet split.

    Only the physical device list and the logical configuration are read before the split:
    listing logical devices would start the runtime, after which the CPU can no longer be split.
    """
    (cpu,) = tf.config.list_physical_devices("CPU")
    configured = tf.config.get_logical_device_configuration(cpu) or []
    if len(configured) < count:
        try:
            tf.config.set_logical_device_configuration(
                cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(count)]
            )
        except RuntimeError as error:
            running = len(tf.config.list_logical_devices("CPU"))
            raise ValueError(
                f"cpu_replicas={count} needs the CPU split before TensorFlow starts; it already "
                f"runs with {running} logical CPU devices."
            ) from error
    return [device.name for device in tf.config.list_logical_devices("CPU")[:count]]


def is_chief(strategy) -> bool:
    """Whether this worker writes summaries, samples and config (worker 0, or the only one)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    return resolver.task_type == "chief" or (
        resolver.task_type == "worker" and resolver.task_id == 0
    )
