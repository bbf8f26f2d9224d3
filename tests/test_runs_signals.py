"""SIGTERM and Ctrl-C: a checkpoint at the next step boundary, nothing lost; a second Ctrl-C
stops at once."""

import os
import signal
import threading
import time

import numpy as np
import pytest
from shared_runs import tiny_config

from ylg_tf.training import GANTrainer, TrainingInterrupted, make_strategy
from ylg_tf.training.signals import StopSignals


def test_a_second_ctrl_c_stops_at_once():
    before = signal.getsignal(signal.SIGINT)  # pytest-xdist's workers ignore SIGINT
    with StopSignals() as signals:
        os.kill(os.getpid(), signal.SIGINT)
        assert signals.received == signal.SIGINT  # the first one only asks to stop
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before  # the handler before is back


def test_sigterm_saves_at_the_next_step_and_resuming_loses_nothing(tmp_path):
    config = tiny_config(1000, checkpoint_every=1000, sample_every=1000)
    config.model.variant = "no_attention"  # the loop's signals, at the least tracing cost
    config.model.generator.base_channels = config.model.discriminator.base_channels = 8
    trainer = GANTrainer(config, make_strategy("default"), tmp_path)

    def terminate_after_the_first_step():
        while int(trainer.step.numpy()) < 1:
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=terminate_after_the_first_step, daemon=True).start()
    with pytest.raises(
        TrainingInterrupted, match=r"Stopped by SIGTERM at step (\d+); saved"
    ) as stop:
        trainer.train()  # today's code: killed, nothing saved (checkpoint_every is 1000)
    trainer.close()
    step = int(trainer.step.numpy())
    assert stop.value.signum == signal.SIGTERM and f"ckpt-{step}" in str(stop.value)
    resumed = GANTrainer(config, make_strategy("default"), tmp_path)
    resumed.close()
    assert int(resumed.step.numpy()) == step
    for before, after in zip(trainer.generator.weights, resumed.generator.weights, strict=True):
        np.testing.assert_array_equal(before.numpy(), after.numpy())
    for before, after in zip(trainer.d_optimizer.variables, resumed.d_optimizer.variables,
                             strict=True):  # fmt: skip
        np.testing.assert_array_equal(before.numpy(), after.numpy())
