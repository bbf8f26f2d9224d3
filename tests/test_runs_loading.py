"""Loading a trained run back (`load_run`): the checkpoint holds every weight of every model."""

import json

import numpy as np
import pytest
import tensorflow as tf

from ylg_tf.runs.loading import load_run, model_weights


def _checkpoint_names(path):
    return {name for name, _ in tf.train.list_variables(str(path))}


def test_checkpoint_holds_every_weight_of_g_d_and_ema_g(tiny_trainer):
    # Keras 3 does not track lists of layers (the residual blocks) in tf.train.Checkpoint: the
    # trainer saves every weight by path as well, so nothing is left at its initial value.
    names = _checkpoint_names(tiny_trainer.manager.latest_checkpoint)
    for slot, model in (
        ("generator", tiny_trainer.generator),
        ("discriminator", tiny_trainer.discriminator),
        ("ema_generator", tiny_trainer.ema_generator),
    ):
        for key in model_weights(model):
            escaped = key.replace(".", "..").replace("/", ".S")
            assert f"{slot}_weights/{escaped}/.ATTRIBUTES/VARIABLE_VALUE" in names, (slot, key)


def test_load_run_restores_the_ema_generator_exactly(tiny_trainer, tiny_run):
    run = load_run(tiny_run)
    assert (run.step, run.ema, run.info.num_classes) == (2, True, 10)
    assert json.loads((tiny_run / "run.json").read_text())["class_names"][3] == "3"
    z = np.random.default_rng(0).standard_normal((6, 128)).astype(np.float32)
    labels = np.arange(6, dtype=np.int32)
    expected = tiny_trainer.sampler((z, labels), training=False)
    np.testing.assert_array_equal(run.generator((z, labels), training=False), expected)
    for loaded, live in zip(run.generator.weights, tiny_trainer.ema_generator.weights, strict=True):
        np.testing.assert_array_equal(loaded.numpy(), live.numpy(), err_msg=live.path)
    raw = load_run(tiny_run, use_ema=False)
    assert not raw.ema
    np.testing.assert_array_equal(
        raw.generator((z, labels), training=False),
        tiny_trainer.generator((z, labels), training=False),
    )


def test_load_run_errors_name_the_problem(tiny_run, tmp_path):
    with pytest.raises(FileNotFoundError, match="no config.json"):
        load_run(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"ckpt-7.*ckpt-2"):
        load_run(tiny_run, step=7)
    other = tmp_path / "other"
    (other / "checkpoints").mkdir(parents=True)
    config = json.loads((tiny_run / "config.json").read_text())
    config["model"]["generator"]["base_channels"] = 32  # another generator than the checkpoint's
    (other / "config.json").write_text(json.dumps(config))
    (other / "run.json").write_text((tiny_run / "run.json").read_text())
    for path in (tiny_run / "checkpoints").iterdir():
        (other / "checkpoints" / path.name).write_bytes(path.read_bytes())
    with pytest.raises(ValueError, match="does not fit the generator"):
        load_run(other)
