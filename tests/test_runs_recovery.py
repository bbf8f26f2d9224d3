"""Resuming never silently restarts: lost state files, corrupt checkpoints, failed starts."""

import logging as py_logging

import numpy as np
import pytest
import tensorflow as tf

from ylg_tf.runs.checkpoints import CheckpointError, checkpoint_steps
from ylg_tf.runs.loading import load_run
from ylg_tf.training import GANTrainer, default_config, make_strategy


def tiny_config(steps=2, **train):
    """A YLG run small enough to build and train 2 steps in seconds."""
    config = default_config()
    config.model.generator.base_channels = config.model.discriminator.base_channels = 16
    config.model.generator.z_dim = 16
    config.train.update(batch_size=2, steps=steps, log_every=1, sample_every=2)
    config.train.update(checkpoint_every=2, keep_checkpoints=5)
    config.train.update(train)
    return config


def train(workdir, steps, **train):
    trainer = GANTrainer(tiny_config(steps, **train), make_strategy("default"), workdir)
    try:
        trainer.train()
    finally:
        trainer.close()
    return trainer


@pytest.fixture(scope="module")
def four_steps(tmp_path_factory):
    """A run directory with ckpt-2 and ckpt-4, and the step-4 generator weights."""
    workdir = tmp_path_factory.mktemp("recovery") / "run"
    trainer = train(workdir, 4)
    return workdir, [w.numpy() for w in trainer.generator.weights]


def copy_run(source, target):
    tf.io.gfile.makedirs(str(target / "checkpoints"))
    for path in source.rglob("*"):
        if path.is_file():
            (target / path.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
            (target / path.relative_to(source)).write_bytes(path.read_bytes())
    return target


def resumed_step(workdir):
    trainer = GANTrainer(tiny_config(4), make_strategy("default"), workdir)
    trainer.close()
    return int(trainer.step.numpy()), trainer


@pytest.mark.parametrize("damage", ["deleted", "garbled"])
def test_a_lost_state_file_still_resumes_from_the_newest_checkpoint(four_steps, tmp_path, damage):
    workdir = copy_run(four_steps[0], tmp_path / "run")
    state = workdir / "checkpoints" / "checkpoint"
    if damage == "deleted":
        state.unlink()
    else:
        state.write_bytes(b"\x00\xffmodel_checkpoint_path: ckpt-9\n{{{")
    step, trainer = resumed_step(workdir)
    assert step == 4  # today's code: 0, then overwrote the samples and deleted old checkpoints
    for weight, saved in zip(trainer.generator.weights, four_steps[1], strict=True):
        np.testing.assert_array_equal(weight.numpy(), saved)
    assert tf.train.latest_checkpoint(str(workdir / "checkpoints")).endswith("ckpt-4")


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
    four_steps, tmp_path, how, caplog
):
    workdir = copy_run(four_steps[0], tmp_path / "run")
    corrupt(workdir / "checkpoints" / "ckpt-4", how)
    with caplog.at_level(py_logging.WARNING):
        step, _ = resumed_step(workdir)
    assert step == 2
    warnings = [r.getMessage() for r in caplog.records if "ckpt-4" in r.getMessage()]
    assert any("is unreadable" in w for w in warnings), warnings
    assert all("\n" not in w for w in warnings)  # one line each, not a traceback
    aside = workdir / "checkpoints" / "unreadable"
    assert sorted(p.name for p in aside.iterdir()) == [
        "ckpt-4.data-00000-of-00001",
        "ckpt-4.index",
    ]
    assert checkpoint_steps(workdir / "checkpoints") == [2]


def test_load_run_falls_back_without_moving_anything(four_steps, tmp_path):
    workdir = copy_run(four_steps[0], tmp_path / "run")
    corrupt(workdir / "checkpoints" / "ckpt-4", "truncated_data")
    run = load_run(workdir)
    assert run.step == 2 and run.checkpoint.endswith("ckpt-2")
    assert checkpoint_steps(workdir / "checkpoints") == [2, 4]  # readers leave the files alone


def test_no_restorable_checkpoint_refuses_with_the_list(four_steps, tmp_path):
    workdir = copy_run(four_steps[0], tmp_path / "run")
    for name in ("ckpt-2", "ckpt-4"):
        corrupt(workdir / "checkpoints" / name, "bad_index")
    with pytest.raises(CheckpointError, match=r"ckpt-4 \(.*ckpt-2 \("):
        resumed_step(workdir)
    with pytest.raises(CheckpointError, match="ckpt-4"):
        load_run(workdir)
    assert checkpoint_steps(workdir / "checkpoints") == [2, 4]  # nothing moved: no restart


def test_leftover_temp_folders_are_removed_at_start(four_steps, tmp_path, caplog):
    workdir = copy_run(four_steps[0], tmp_path / "run")
    leftover = workdir / "checkpoints" / "ckpt-6_temp"
    (leftover / "part-00000-of-00001").mkdir(parents=True)
    with caplog.at_level(py_logging.WARNING):
        step, _ = resumed_step(workdir)
    assert step == 4 and not leftover.exists()
    assert any("ckpt-6_temp" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    "field,bad", [("name", "digitz"), ("name", "folder:/no/such/folder"), ("split", "tset")]
)
def test_a_failed_start_leaves_nothing_that_blocks_the_fixed_command(tmp_path, field, bad):
    workdir = tmp_path / "run"
    config = tiny_config(1)
    config.data[field] = bad
    with pytest.raises(Exception, match=bad.split("/")[-1]):
        GANTrainer(config, make_strategy("default"), workdir)
    assert not (workdir / "config.json").exists() and not (workdir / "lock.json").exists()
    # today's code: "holds a run with a different `data` config"
    GANTrainer(tiny_config(1), make_strategy("default"), workdir).close()
    assert (workdir / "config.json").exists()
