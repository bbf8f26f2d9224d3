"""Resuming never silently restarts: lost state files, corrupt checkpoints, failed starts."""

import logging as py_logging

import numpy as np
import pytest
import tensorflow as tf
from shared_runs import copy_run, live_weights, tiny_config

from ylg_tf.runs.checkpoints import (
    NPZ_CHECKPOINTS,
    TF_CHECKPOINTS,
    CheckpointError,
    check_engine,
    checkpoint_steps,
)
from ylg_tf.runs.loading import load_run, model_weights
from ylg_tf.training import GANTrainer, make_strategy


def resumed_step(workdir):
    """The step a trainer resumes `workdir` (a copy of the shared run) at, and the trainer."""
    trainer = GANTrainer(tiny_config(4), make_strategy("default"), workdir)
    trainer.close()
    return int(trainer.step.numpy()), trainer


@pytest.mark.parametrize("damage", ["deleted", "garbled"])
def test_a_lost_state_file_still_resumes_from_the_newest_checkpoint(
    shared_tiny_run, tiny_live, tmp_path, damage
):
    workdir = copy_run(shared_tiny_run, tmp_path / "run")
    state = workdir / "checkpoints" / "checkpoint"
    if damage == "deleted":
        state.unlink()
    else:
        state.write_bytes(b"\x00\xffmodel_checkpoint_path: ckpt-9\n{{{")
    step, trainer = resumed_step(workdir)
    assert step == 2  # today's code: 0, then overwrote the samples and deleted old checkpoints
    saved = live_weights(tiny_live, "generator")  # step 2
    for path, weight in model_weights(trainer.generator).items():
        np.testing.assert_array_equal(weight, saved[path], err_msg=path)
    assert tf.train.latest_checkpoint(str(workdir / "checkpoints")).endswith("ckpt-2")


def corrupt(prefix, how):
    data = prefix.parent / f"{prefix.name}.data-00000-of-00001"
    index = prefix.parent / f"{prefix.name}.index"
    if how == "truncated_data":
        data.write_bytes(data.read_bytes()[:1000])
    elif how == "bad_index":
        index.write_bytes(b"not an index" * 10)
    else:  # flipped bytes in the middle of the tensors
        content = bytearray(data.read_bytes())
        for k in range(len(content) // 3, len(content) // 3 + 64):
            content[k] ^= 0xFF
        data.write_bytes(bytes(content))


@pytest.mark.parametrize("how", ["truncated_data", "bad_index", "flipped_bytes"])
def test_a_corrupt_latest_checkpoint_falls_back_and_is_kept_aside(
    shared_tiny_run, tmp_path, how, caplog
):
    workdir = copy_run(shared_tiny_run, tmp_path / "run")
    corrupt(workdir / "checkpoints" / "ckpt-2", how)
    with caplog.at_level(py_logging.WARNING):
        step, _ = resumed_step(workdir)
    assert step == 1
    warnings = [r.getMessage() for r in caplog.records if "ckpt-2" in r.getMessage()]
    assert any("is unreadable" in w for w in warnings), warnings
    assert all("\n" not in w for w in warnings)  # one line each, not a traceback
    aside = workdir / "checkpoints" / "unreadable"
    assert sorted(p.name for p in aside.iterdir()) == [
        "ckpt-2.data-00000-of-00001",
        "ckpt-2.index",
    ]
    assert checkpoint_steps(workdir / "checkpoints") == [1]


def test_load_run_falls_back_without_moving_anything(shared_tiny_run, tmp_path):
    workdir = copy_run(shared_tiny_run, tmp_path / "run")
    corrupt(workdir / "checkpoints" / "ckpt-2", "truncated_data")
    run = load_run(workdir)
    assert run.step == 1 and run.checkpoint.endswith("ckpt-1")
    assert checkpoint_steps(workdir / "checkpoints") == [1, 2]  # readers leave the files alone


def test_no_restorable_checkpoint_refuses_with_the_list(shared_tiny_run, tmp_path):
    workdir = copy_run(shared_tiny_run, tmp_path / "run")
    for name in ("ckpt-1", "ckpt-2"):
        corrupt(workdir / "checkpoints" / name, "bad_index")
    with pytest.raises(CheckpointError, match=r"ckpt-2 \(.*ckpt-1 \("):
        resumed_step(workdir)
    with pytest.raises(CheckpointError, match="ckpt-2"):
        load_run(workdir)
    assert checkpoint_steps(workdir / "checkpoints") == [1, 2]  # nothing moved: no restart


def test_the_other_engines_checkpoints_are_refused_by_name(shared_tiny_run, tmp_path):
    """A TF run's folder given to the JAX engine, and one holding the JAX engine's `.npz` given
    to the TF engine: refused, naming the engine to go on with."""
    workdir = copy_run(shared_tiny_run, tmp_path / "run")
    checkpoints = workdir / "checkpoints"
    with pytest.raises(CheckpointError, match=r"TensorFlow engine \(ckpt-2\).*--engine=tf"):
        check_engine(checkpoints, NPZ_CHECKPOINTS)
    check_engine(checkpoints, TF_CHECKPOINTS)  # its own
    for name in list(checkpoints.iterdir()):
        if name.name.startswith("ckpt-"):
            name.unlink()
    (checkpoints / "step_0000005.npz").write_bytes(b"a JAX run's state")
    assert checkpoint_steps(checkpoints, NPZ_CHECKPOINTS) == [5] and not checkpoint_steps(
        checkpoints
    )
    message = r"holds checkpoints of the JAX engine \(step_0000005.npz\).*--engine=jax"
    with pytest.raises(CheckpointError, match=message):
        resumed_step(workdir)  # not a start at step 0 beside them
    with pytest.raises(CheckpointError, match=r"restores; tried: .*step_0000005.npz \("):
        load_run(workdir)  # reads either engine's: this one is not a weight file
    assert (checkpoints / "step_0000005.npz").exists()


def test_leftover_temp_folders_are_removed_at_start(shared_tiny_run, tmp_path, caplog):
    workdir = copy_run(shared_tiny_run, tmp_path / "run")
    leftover = workdir / "checkpoints" / "ckpt-6_temp"
    (leftover / "part-00000-of-00001").mkdir(parents=True)
    with caplog.at_level(py_logging.WARNING):
        step, _ = resumed_step(workdir)
    assert step == 2 and not leftover.exists()
    assert any("ckpt-6_temp" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    "field,bad", [("name", "digitz"), ("name", "folder:/no/such/folder"), ("split", "tset")]
)
def test_a_bad_dataset_fails_before_anything_is_written(tmp_path, field, bad):
    workdir = tmp_path / "run"
    config = tiny_config(1)
    config.data[field] = bad
    with pytest.raises((ValueError, FileNotFoundError), match=bad.split("/")[-1]):
        GANTrainer(config, make_strategy("default"), workdir)
    assert not workdir.exists()  # today's code: an empty folder (config.json before: a block)


def test_a_start_that_fails_later_removes_only_the_folder_it_made(tmp_path, monkeypatch):
    """A failure once the lease was taken (here: building the models) releases it and removes
    the folders the start created; a folder that was there before stays."""

    def broken(trainer):
        raise ValueError("no models today")

    monkeypatch.setattr(GANTrainer, "_build", broken)
    for workdir, existed in ((tmp_path / "new" / "run", False), (tmp_path / "old", True)):
        if existed:
            workdir.mkdir()
        with pytest.raises(ValueError, match="no models today"):
            GANTrainer(tiny_config(1), make_strategy("default"), workdir)
        assert workdir.exists() == existed and not (workdir / "lock.json").exists()
    assert not (tmp_path / "new").exists()  # the folders made for it go too
