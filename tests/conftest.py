"""Test-session set-up shared by every test module.

TensorFlow must see its devices configured before anything runs, so this file splits the one
physical CPU into two logical devices, so that `tf.distribute.MirroredStrategy` runs in-process.
"""

import os

import pytest

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


# --- shared fixtures of the evaluation, sampling and export tests --------------------------------


@pytest.fixture(scope="session")
def digits_cache(tmp_path_factory):
    """An evaluation cache directory holding a digits classifier (3 epochs, about 10 s)."""
    from ylg_tf.evaluation.digits_classifier import train_digits_classifier

    cache = tmp_path_factory.mktemp("ylg_cache")
    train_digits_classifier(cache / "classifiers" / "digits", epochs=3)
    return cache


@pytest.fixture(scope="session")
def tiny_trainer(tmp_path_factory, digits_cache):
    """The trainer of a 2-step YLG run (digits 32x32, base channels 16) with an EMA generator,
    which evaluated itself (12 samples, `digits_cache`) after steps 1 and 2."""
    from ylg_tf.training import GANTrainer, default_config, make_strategy

    config = default_config()
    config.model.generator.base_channels = config.model.discriminator.base_channels = 16
    config.train.update(batch_size=4, steps=2, ema_decay=0.9, log_every=1)
    config.train.sample_every = config.train.checkpoint_every = 2
    config.eval.update(every=1, num_samples=12, cache_dir=str(digits_cache))
    workdir = tmp_path_factory.mktemp("runs") / "tiny"
    trainer = GANTrainer(config, make_strategy("default"), workdir)
    trainer.train()
    return trainer


@pytest.fixture(scope="session")
def tiny_run(tiny_trainer):
    """The run directory of `tiny_trainer`."""
    return tiny_trainer.workdir
