"""`ylg-train --engine=jax`: refused with a short message on the TensorFlow backend, and (slow) a
two-step run under `KERAS_BACKEND=jax` through the training loop: progress lines, a sample grid,
scores and a weight file in the run directory's own folders, which `load_run` and the evaluator
read under TensorFlow."""

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from test_cpu_replicas import OVERRIDES, YLG_TRAIN

from ylg_tf.evaluation.runs import evaluate_run
from ylg_tf.runs.checkpoints import CheckpointError
from ylg_tf.runs.loading import load_run
from ylg_tf.training import GANTrainer, make_strategy

ROOT = Path(__file__).resolve().parents[1]
CONFIG = "--config=experiments/configs/ylg_digits32.py"
TINY = [flag for flag in OVERRIDES if "ema_decay" not in flag]  # the JAX engine keeps its EMA G


def _train(tmp_path, backend, *flags):
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env.update(KERAS_BACKEND=backend, XLA_FLAGS="--xla_force_host_platform_device_count=2")
    command = [str(YLG_TRAIN), CONFIG, *TINY, *flags, f"--workdir={tmp_path / 'run'}"]
    command.append("--engine=jax")
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)


@pytest.mark.integration
def test_jax_engine_needs_the_jax_backend(tmp_path):
    result = _train(tmp_path, "tensorflow")
    assert result.returncode == 2
    assert "ylg-train: error: --engine=jax needs Keras's JAX backend" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "run").exists()


@pytest.mark.slow
def test_jax_engine_trains_through_the_binary(tmp_path, digits_cache):
    evaluation = ["--config.eval.every=2", "--config.eval.num_samples=12"]
    result = _train(tmp_path, "jax", *evaluation, f"--config.eval.cache_dir={digits_cache}")
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
    # Scores written during training under JAX are those of the TF evaluator on its weights.
    scores = json.loads((run / "eval" / "step_0000002.json").read_text())
    _, again = evaluate_run(run)
    assert scores["num_generated"] == again["num_generated"] == 12
    for name in ("fid", "is", "kid", "precision", "density", "coverage", "judge_accuracy"):
        assert np.isfinite(scores[name]) and scores[name] == pytest.approx(again[name], rel=1e-3)
