"""Loading a trained run back (`load_run`): the checkpoint holds every weight of every model."""

import json

import numpy as np
import pytest
import tensorflow as tf
from shared_runs import REFERENCE_LABELS, REFERENCE_Z, live_weights

from ylg_tf.runs.loading import load_run, model_weights


def test_checkpoint_holds_every_weight_of_g_d_and_ema_g(tiny_run, tiny_live):
    # Keras 3 does not track lists of layers (the residual blocks) in tf.train.Checkpoint: the
    # trainer saves every weight by path as well, so nothing is left at its initial value.
    reader = tf.train.load_checkpoint(str(tiny_run / "checkpoints" / "ckpt-2"))
    slots = [key for key in tiny_live if "/" in key]
    assert {key.split("/")[0] for key in slots} == {"generator", "discriminator", "ema_generator"}
    assert len(slots) > 100
    for key in slots:
        slot, path = key.split("/", 1)
        escaped = path.replace(".", "..").replace("/", ".S")
        name = f"{slot}_weights/{escaped}/.ATTRIBUTES/VARIABLE_VALUE"
        assert reader.has_tensor(name), key
        np.testing.assert_array_equal(reader.get_tensor(name), tiny_live[key], err_msg=key)


def test_load_run_restores_the_ema_generator_exactly(tiny_run, tiny_live):
    run = load_run(tiny_run)
    assert (run.step, run.ema, run.info.num_classes) == (2, True, 10)
    assert json.loads((tiny_run / "run.json").read_text())["class_names"][3] == "3"
    inputs = (REFERENCE_Z, REFERENCE_LABELS)
    np.testing.assert_array_equal(run.generator(inputs, training=False), tiny_live["ema_output"])
    weights, live = model_weights(run.generator), live_weights(tiny_live, "ema_generator")
    assert weights.keys() == live.keys() and len(weights) > 50
    for path, loaded in weights.items():
        np.testing.assert_array_equal(loaded, live[path], err_msg=path)
    raw = load_run(tiny_run, use_ema=False)
    assert not raw.ema
    np.testing.assert_array_equal(raw.generator(inputs, training=False), tiny_live["raw_output"])


def test_load_run_errors_name_the_problem(tiny_run, tmp_path):
    with pytest.raises(FileNotFoundError, match="no config.json"):
        load_run(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"ckpt-7.*'ckpt-1', 'ckpt-2'"):
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
