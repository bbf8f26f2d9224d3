"""`ylg-train --engine=jax`: refused with a short message on the TensorFlow backend, and (slow) a
two-step run under `KERAS_BACKEND=jax` through the training loop: progress lines, a sample grid,
and a weight file in the run directory's own folders, which `load_run` reads under TensorFlow."""

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from test_cpu_replicas import OVERRIDES, YLG_TRAIN

from ylg_tf.runs.checkpoints import CheckpointError
from ylg_tf.runs.loading import load_run
from ylg_tf.training import GANTrainer, make_strategy

ROOT = Path(__file__).resolve().parents[1]
CONFIG = "--config=experiments/configs/ylg_digits32.py"
TINY = [flag for flag in OVERRIDES if "ema_decay" not in flag]  # the JAX engine keeps its EMA G


def _train(tmp_path, backend):
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env.update(KERAS_BACKEND=backend, XLA_FLAGS="--xla_force_host_platform_device_count=2")
    command = [str(YLG_TRAIN), CONFIG, *TINY, f"--workdir={tmp_path / 'run'}", "--engine=jax"]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)


@pytest.mark.integration
def test_jax_engine_needs_the_jax_backend(tmp_path):
    result = _train(tmp_path, "tensorflow")
    assert result.returncode == 2
    assert "ylg-train: error: --engine=jax needs Keras's JAX backend" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "run").exists()


@pytest.mark.slow
def test_jax_engine_trains_through_the_binary(tmp_path):
    result = _train(tmp_path, "jax")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "step_0000002.npz)" in result.stdout and "d_loss" in result.stderr
    run = tmp_path / "run"
    assert [p.name for p in (run / "checkpoints").iterdir()] == ["step_0000002.npz"]
    assert (run / "samples" / "step_0000002.png").exists() and (run / "config.json").exists()
    # The TF-side tools read the run; the TF engine refuses to go on with it.
    loaded = load_run(run)
    assert (loaded.step, loaded.ema) == (2, True)
    images = np.asarray(
        loaded.generator((np.zeros((2, 16), "float32"), np.arange(2)), training=False)
    )
    assert images.shape == (2, 32, 32, 3) and np.isfinite(images).all() and images.std() > 0
    with pytest.raises(CheckpointError, match="JAX engine .*--engine=jax"):
        GANTrainer(loaded.config, make_strategy("default"), run)
