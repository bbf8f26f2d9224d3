"""Test-session set-up shared by every test module.

TensorFlow must see its devices configured before anything runs, so this file splits the one
physical CPU into two logical devices, so that `tf.distribute.MirroredStrategy` runs in-process.
"""

import os

import pytest
from shared_runs import build_shared_run, built_once, copy_run, live_values

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


# --- shared fixtures of the evaluation, sampling, export and run tests ---------------------------


@pytest.fixture(scope="session")
def shared_dir(tmp_path_factory, worker_id):
    """A folder of this test session that every pytest-xdist worker sees."""
    base = tmp_path_factory.getbasetemp()
    return base if worker_id == "master" else base.parent


@pytest.fixture(scope="session")
def digits_cache(shared_dir):
    """An evaluation cache directory holding a digits classifier (3 epochs, about 10 s), made
    once per test session."""
    from ylg_tf.evaluation.digits_classifier import train_digits_classifier

    def build(cache):
        train_digits_classifier(cache / "classifiers" / "digits", epochs=3)

    return built_once(shared_dir / "ylg_cache", build)


@pytest.fixture(scope="session")
def shared_tiny_run(shared_dir, digits_cache):
    """The session's one trained run (`shared_runs.shared_run_config`), trained once for every
    worker. Never changed by a test: use `tiny_run`, or `copy_run` it."""
    return built_once(shared_dir / "tiny", lambda path: build_shared_run(path, digits_cache))


@pytest.fixture(scope="session")
def tiny_run(shared_tiny_run, tmp_path_factory):
    """This worker's copy of the shared run, which its read-only tests share (evaluation,
    sampling and export write their outputs into it)."""
    return copy_run(shared_tiny_run, tmp_path_factory.mktemp("runs") / "tiny")


@pytest.fixture(scope="session")
def tiny_live(shared_tiny_run):
    """What the trainer of the shared run held in memory (`shared_runs.LIVE_FILE`)."""
    return live_values(shared_tiny_run)
