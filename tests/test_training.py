"""The training binary's library: hinge losses, EMA, config checks, distribution and resume."""

import numpy as np
import pytest
import tensorflow as tf
from distribute_util import two_cpu_strategy
from shared_runs import copy_run
from shared_runs import tiny_config as shared_tiny_config

from ylg_tf.runs.config import parse_config_arg
from ylg_tf.training import (
    GANTrainer,
    NonFiniteLossError,
    default_config,
    discriminator_hinge_loss,
    generator_hinge_loss,
    make_strategy,
    validate,
)
from ylg_tf.training import loop as trainer_module
from ylg_tf.training.ema import update_ema
from ylg_tf.viz import image_grid


def tiny_config(variant="ylg", resolution=32, **train):
    config = default_config()
    config.model.variant = variant
    config.data.resolution = resolution
    config.model.generator.base_channels = 16
    config.model.discriminator.base_channels = 16
    config.train.batch_size = 4
    config.train.steps = 2
    config.train.log_every = config.train.sample_every = config.train.checkpoint_every = 2
    config.train.update(train)
    return config


def small_step_config(steps, **train):
    """No attention, base width 8: the step's and the loop's own mechanics at the least tracing
    cost."""
    config = tiny_config("no_attention", steps=steps, log_every=1, **train)
    config.model.generator.base_channels = config.model.discriminator.base_channels = 8
    return config


def test_hinge_losses_by_hand():
    real = tf.constant([2.0, 0.5, -1.0])
    fake = tf.constant([-2.0, 0.0, 1.5])
    # relu(1 - real) = [0, 0.5, 2]; relu(1 + fake) = [0, 1, 2.5]
    np.testing.assert_allclose(discriminator_hinge_loss(real, fake), [0.0, 1.5, 4.5])
    np.testing.assert_allclose(generator_hinge_loss(fake), [2.0, 0.0, -1.5])


def test_ema_update_against_numpy():
    import keras

    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(2), keras.layers.BatchNormalization()]
    )
    average = keras.models.clone_model(model)
    average.set_weights([w + 1.0 for w in model.get_weights()])
    before = [w.copy() for w in average.get_weights()]
    update_ema(model, average, 0.9)
    for weight, old, new in zip(model.weights, before, average.get_weights(), strict=True):
        current = weight.numpy()
        expected = 0.9 * old + 0.1 * current if weight.trainable else current
        # float32 terms of size ~1 (the weights + 1): a sum that cancels near 0 keeps their
        # absolute rounding (~1e-7), not a relative one; the initial weights follow whatever
        # seeded Keras before, so some orders of the tests drew such a sum.
        np.testing.assert_allclose(new, expected, rtol=1e-6, atol=1e-6)


def test_config_errors_name_the_field():
    config = default_config()
    config.model.variant = "ylg3"
    with pytest.raises(ValueError, match="ylg3"):
        validate(config)
    config = default_config()
    config.train.mixed_precision = "float8"
    with pytest.raises(ValueError, match="float8"):
        validate(config)
    with pytest.raises(ValueError, match="'varaint'"):
        parse_config_arg("varaint=sagan", {"variant": "ylg"})
    assert parse_config_arg(
        "variant=sagan,runlocal=true", {"variant": "ylg", "runlocal": False}
    ) == {
        "variant": "sagan",
        "runlocal": True,
    }


def test_image_grid_layout():
    images = np.stack([np.full((2, 2, 3), v, np.float32) for v in (-1.0, 0.0, 1.0)])
    grid = image_grid(images, columns=2)
    assert grid.shape == (5, 5, 3)  # 2 rows x 2 columns of 2x2 with 1px gaps
    assert grid[0, 0, 0] == 0 and grid[0, 3, 0] == 127 and grid[3, 0, 0] == 255
    assert grid[0, 2, 0] == 255 and grid[4, 4, 0] == 255  # gap and empty cell stay white
    large = image_grid(images, columns=2, scale=3)
    assert large.shape == (13, 13, 3)  # 6x6 images, one 1px gap
    np.testing.assert_array_equal(large[:6, 7:, 0], 127)


def _weights(trainer):
    return {w.path: w.numpy() for w in trainer.generator.weights + trainer.discriminator.weights}


def _feeds_batch_norm(path):
    """G's block convolution biases: batch norm removes them, so their true gradient is 0 and
    Adam's first step amplifies float noise in it (|step| <= lr) differently per reduction order."""
    return path.startswith("G/block_") and path.endswith("_conv2d/bias")


def trainable(model):
    return {w.path: np.asarray(w).copy() for w in model.trainable_weights}


def check_ema(trainer, ema_before, decay):
    """EMA G = decay * its value before + (1 - decay) * G after the step, on every replica."""
    raw = {w.path.split("/", 1)[1]: np.asarray(w) for w in trainer.generator.trainable_weights}
    for weight in trainer.ema_generator.trainable_weights:
        expected = decay * ema_before[weight.path] + (1 - decay) * raw[weight.path.split("/", 1)[1]]
        for replica_value in trainer.strategy.experimental_local_results(weight):
            np.testing.assert_allclose(replica_value, expected, rtol=1e-5, atol=1e-7)


def test_mirrored_first_update_equals_single_device(tmp_path):
    """Two replicas make the single device's first update, and the EMA update inside the
    mirrored step reaches both. The strategy's mechanics (the per-replica loss scaling, the
    gradient reduction, spectral norm's and batch norm's state) need no attention."""
    config = small_step_config(1, batch_size=8, ema_decay=0.9)
    single = GANTrainer(config, make_strategy("default"), tmp_path / "single")
    mirrored = GANTrainer(config, two_cpu_strategy(), tmp_path / "mirrored")
    ema_before = trainable(mirrored.ema_generator)
    initial = _weights(single)
    for path, value in _weights(mirrored).items():
        np.testing.assert_array_equal(value, initial[path])  # same seed, same initial weights
    assert single.train() == pytest.approx(mirrored.train(), rel=1e-4, abs=1e-5)
    after_single, after_mirrored = _weights(single), _weights(mirrored)
    changed = 0
    for path, start in initial.items():
        a, b = after_single[path], after_mirrored[path]
        lr = config.train.g_lr if path.startswith("G/") else config.train.d_lr
        if _feeds_batch_norm(path):
            assert np.abs(a - b).max() <= 2 * lr, path
            continue
        # Adam's first step is +-lr whatever the gradient's size, so the rare element whose
        # gradient is within float noise of 0 (spectral norm's two gradient terms cancelling)
        # may step either way per reduction order (also a class-embedding element whose two
        # replicas' gradients cancel): at most 0.1% of a weight or 2 elements, by at most 2 lr.
        off = ~np.isclose(a, b, rtol=1e-4, atol=1e-5)
        assert off.sum() <= max(2, 1e-3 * off.size), path
        assert np.abs(a - b)[off].max(initial=0) <= 2 * lr, path
        changed += not np.allclose(a, start)
    assert changed > len(initial) // 2
    check_ema(mirrored, ema_before, 0.9)


def test_resume_restores_everything_saved(shared_tiny_run, tmp_path, monkeypatch):
    """A copy of the shared run resumes at its newest checkpoint with every value it saved
    (training on after a resume: test_runs_files.py's ram:// run and test_runs_signals.py);
    a run already at its last step says so and trains nothing."""
    workdir = copy_run(shared_tiny_run, tmp_path / "run")
    resumed = GANTrainer(shared_tiny_config(4), make_strategy("default"), workdir)
    logged = []  # absl.logging.info calls (caplog sees them or not by what ran before)
    monkeypatch.setattr(
        trainer_module.logging, "info", lambda *args: logged.append(args[0] % args[1:])
    )
    assert resumed.train(steps=0) == {}
    resumed.close()
    assert "Nothing to train: the run is at step 2 and trains to step 2." in logged
    assert int(resumed.step.numpy()) == 2
    # Everything restored (G, D, EMA G, both optimizers' slots) equals what was saved at step 2.
    saved = _checkpoint_values(workdir / "checkpoints" / "ckpt-2")
    live = _checkpoint_values(resumed.checkpoints.checkpoint.write(str(tmp_path / "live" / "ckpt")))
    assert saved.keys() == live.keys() and len(saved) > 100
    assert any("optimizer" in name for name in saved) and any("ema" in name for name in saved)
    for name, value in saved.items():
        np.testing.assert_array_equal(value, live[name], err_msg=name)


def test_resume_refuses_another_model(tmp_path):
    GANTrainer(tiny_config(steps=1), make_strategy("default"), tmp_path)
    with pytest.raises(ValueError, match="different `model`"):
        GANTrainer(tiny_config("sagan", steps=1), make_strategy("default"), tmp_path)


def test_non_finite_loss_stops_and_keeps_the_last_checkpoint(tmp_path):
    config = small_step_config(4, checkpoint_every=2, sample_every=4)
    trainer = GANTrainer(config, make_strategy("default"), tmp_path)
    trainer.train(steps=2)
    index = (tmp_path / "checkpoints" / "ckpt-2.index").read_bytes()
    bias = trainer.discriminator.linear.layer.bias  # a diverged weight: D's logits become NaN
    bias.assign(tf.fill(bias.shape, float("nan")))
    with pytest.raises(NonFiniteLossError, match="step 3"):
        trainer.train()
    assert tf.train.latest_checkpoint(str(tmp_path / "checkpoints")).endswith("ckpt-2")
    assert (tmp_path / "checkpoints" / "ckpt-2.index").read_bytes() == index


@pytest.mark.integration
def test_tfds_dataset_under_mock_data(tmp_path):
    import tensorflow_datasets as tfds

    config = small_step_config(1, sample_every=1, checkpoint_every=1)
    config.data.name = "cifar10"
    with tfds.testing.mock_data(num_examples=16, policy=tfds.testing.MockPolicy.USE_CODE):
        trainer = GANTrainer(config, make_strategy("default"), tmp_path)
        metrics = trainer.train()
    assert trainer.info.num_classes == 10
    assert all(np.isfinite(list(metrics.values())))


def _checkpoint_values(path):
    reader = tf.train.load_checkpoint(str(path))
    return {
        name: reader.get_tensor(name)
        for name, _ in tf.train.list_variables(str(path))
        if "save_counter" not in name and name != "_CHECKPOINTABLE_OBJECT_GRAPH"
    }
