"""Loading a trained run back (`load_run`): the checkpoint holds every weight of every model."""

import json

import numpy as np
import pytest
import tensorflow as tf
from shared_runs import REFERENCE_LABELS, REFERENCE_Z, copy_run, live_weights

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


def test_load_run_reads_a_jax_engine_run(shared_tiny_run, tiny_live, tmp_path):
    """A run directory whose checkpoints are the JAX engine's `.npz` files (here written from the
    shared run's live weights, in the engine-neutral format the JAX tests prove): `load_run` and
    the inversion's D loader read them, and an absent step is named in that format."""
    from ylg_tf.inversion.runs import load_models
    from ylg_tf.runs import files

    workdir = copy_run(shared_tiny_run, tmp_path / "run")
    for path in (workdir / "checkpoints").iterdir():
        path.unlink()
    arrays = {"step": np.asarray(2, np.int64)}
    for role, slot in (("G", "generator"), ("D", "discriminator"), ("G_ema", "ema_generator")):
        arrays.update({f"{role}/{k}": v for k, v in live_weights(tiny_live, slot).items()})
    files.save_npz(workdir / "checkpoints" / "step_0000002.npz", **arrays)
    run, discriminator = load_models(workdir)
    assert (run.step, run.ema) == (2, True) and run.checkpoint.endswith("step_0000002.npz")
    inputs = (REFERENCE_Z, REFERENCE_LABELS)
    np.testing.assert_array_equal(run.generator(inputs, training=False), tiny_live["ema_output"])
    raw = load_run(workdir, use_ema=False)
    np.testing.assert_array_equal(raw.generator(inputs, training=False), tiny_live["raw_output"])
    saved_d = live_weights(tiny_live, "discriminator")
    for path, weight in model_weights(discriminator).items():
        np.testing.assert_array_equal(weight, saved_d[path], err_msg=path)
    with pytest.raises(FileNotFoundError, match=r"No checkpoint step_0000001.npz .*step_0000002"):
        load_run(workdir, step=1)
