"""README's `ylg-train ... --strategy=mirrored --cpu_replicas=2`, run as users run it.

The test process itself has split its CPU already (conftest.py), so only a fresh process shows
whether the binary splits the CPU before anything starts TensorFlow's runtime.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import tensorflow as tf

from ylg_tf.training import make_strategy

ROOT = Path(__file__).resolve().parents[1]
YLG_TRAIN = Path(sys.executable).with_name("ylg-train")

#: Tiny sizes on top of README's command line; the strategy flags are exactly README's.
OVERRIDES = (
    "--config.model.variant=no_attention",
    "--config.model.generator.base_channels=8",
    "--config.model.discriminator.base_channels=8",
    "--config.model.generator.z_dim=16",
    "--config.train.batch_size=4",
    "--config.train.steps=2",
    "--config.train.ema_decay=0",
    "--config.train.log_every=1",
    "--config.train.sample_every=2",
    "--config.train.checkpoint_every=2",
    "--config.eval.every=0",
)


@pytest.mark.integration
def test_readme_command_trains_on_two_cpu_replicas(tmp_path):
    workdir = tmp_path / "run"
    command = [
        str(YLG_TRAIN),
        "--config=experiments/configs/ylg_digits32.py",
        f"--workdir={workdir}",
        "--strategy=mirrored",
        "--cpu_replicas=2",
        *OVERRIDES,
    ]
    env = dict(os.environ, KERAS_BACKEND="tensorflow", CUDA_VISIBLE_DEVICES="")
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "Strategy 'mirrored': 2 replicas (" in output, output[-4000:]
    assert "device:CPU:0, " in output and "device:CPU:1)" in output
    latest = tf.train.latest_checkpoint(str(workdir / "checkpoints"))
    assert latest is not None and latest.endswith("ckpt-2"), latest


def test_too_late_to_split_is_a_clear_error():
    # This process runs with conftest.py's two logical CPUs; once the runtime has started (as
    # listing logical devices does), a third cannot be added any more.
    assert len(tf.config.list_logical_devices("CPU")) == 2
    with pytest.raises(ValueError, match="cpu_replicas=3 needs the CPU split before"):
        make_strategy("mirrored", cpu_replicas=3)
