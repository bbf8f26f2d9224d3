"""The replicated train step: float16 loss scaling and overflow skips, EMA inside the step (one
replica; mirrored in test_training.py), several D steps, and both mixed precisions through
`ylg-train`."""

import re
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from binaries import run_binary
from test_training import check_ema, small_step_config, trainable

from ylg_tf.training import GANTrainer, make_strategy

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _float32_policy_after():
    yield
    keras.mixed_precision.set_global_policy("float32")


def test_float16_trains_through_the_loss_scaler_and_skips_overflows(tmp_path):
    """The loss is scaled inside the tape, so gradients reach every weight of G and D: the first
    updates overflow at the initial scale 2**15 and are skipped (the scale halves), later ones
    apply. Overflows later in the run are skipped too, and the run goes on."""
    trainer = GANTrainer(small_step_config(8, mixed_precision="float16"), make_strategy(), tmp_path)
    assert isinstance(trainer.g_optimizer, keras.optimizers.LossScaleOptimizer)
    models = (trainer.generator, trainer.discriminator)
    before = [trainable(model) for model in models]
    assert all(np.isfinite(list(trainer.train().values())))
    for model, start in zip(models, before, strict=True):
        after = trainable(model)
        changed = [path for path in start if not np.array_equal(start[path], after[path])]
        assert len(changed) > 0.8 * len(start), model.name
        assert all(w.dtype == "float32" for w in model.weights)
    for optimizer in (trainer.g_optimizer, trainer.d_optimizer):
        assert float(optimizer.dynamic_scale.numpy()) < 2.0**15  # overflows were skipped

    # Gradients beyond float16's range (a loss scale far too high): both updates are skipped and
    # the scales halve.
    for optimizer in (trainer.g_optimizer, trainer.d_optimizer):
        optimizer.dynamic_scale.assign(2.0**40)
    before = [trainable(model) for model in models]
    assert all(np.isfinite(list(trainer.train(steps=1).values())))
    for model, start in zip(models, before, strict=True):
        for path, value in trainable(model).items():
            np.testing.assert_array_equal(value, start[path], err_msg=path)
    for optimizer in (trainer.g_optimizer, trainer.d_optimizer):
        assert float(optimizer.dynamic_scale.numpy()) == 2.0**39

    # Logits beyond float16's range make the losses infinite: the run goes on (under float32
    # the same loss stops the run, test_training.py).
    bias = trainer.discriminator.linear.layer.bias  # D's logits: x . w + bias
    bias.assign(tf.fill(bias.shape, 1e5))  # > 65504, float16's largest value
    assert not all(np.isfinite(list(trainer.train(steps=1).values())))
    assert int(trainer.step.numpy()) == 10


def test_ema_update_and_two_d_steps_in_one_step(tmp_path):
    trainer = GANTrainer(small_step_config(1, d_steps=2, ema_decay=0.9), make_strategy(), tmp_path)
    ema_before = trainable(trainer.ema_generator)
    trainer.train()
    check_ema(trainer, ema_before, 0.9)
    assert int(trainer.d_optimizer.iterations.numpy()) == 2
    assert int(trainer.g_optimizer.iterations.numpy()) == 1


def train_two_steps_through_the_binary(
    tmp_path, config: str, base_channels: int, *flags: str
) -> None:
    """`ylg-train` (its `main`, in-process) of `config` with G and D of `base_channels`, batch 4,
    for 2 steps, plus `flags`: it exits 0, saves `ckpt-2` and logs step 2."""
    result = run_binary(
        "ylg-train",
        f"--config={ROOT / config}",
        f"--workdir={tmp_path / 'run'}",
        *flags,
        f"--config.model.generator.base_channels={base_channels}",
        f"--config.model.discriminator.base_channels={base_channels}",
        "--config.train.batch_size=4",
        "--config.train.steps=2",
        "--config.train.log_every=1",
        "--config.eval.every=0",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "run" / "checkpoints" / "ckpt-2.index").is_file()
    text = result.stderr + result.stdout
    assert "step 2/2" in text
    # The config as given, not its 55 lines (those are in config.json, or --show_config).
    summary = re.search(r"Config: (\S+) with (.*) \(the whole config: (\S+), or", text)
    assert summary and summary.group(1) == str(ROOT / config), text[:3000]
    assert "train.batch_size=4" in summary.group(2) and "z_dim" not in text
    assert summary.group(3) == str(tmp_path / "run" / "config.json")


@pytest.mark.integration
@pytest.mark.parametrize("precision", ["bfloat16", "float16"])
def test_mixed_precision_trains_through_the_binary(tmp_path, precision):
    """Two steps of the main job's YLG model (blocked sparse attention: 64 keys)."""
    train_two_steps_through_the_binary(
        tmp_path,
        "experiments/configs/ylg_digits32.py",
        16,
        f"--config.train.mixed_precision={precision}",
    )


def test_a_class_twice_in_a_batch_gets_adams_update_of_the_summed_gradient():
    """Adam (beta1 = 0) on an embedding row that two examples share: the first step is
    lr * g / (|g| + eps) of the row's summed gradient g, as a NumPy float64 recomputation gives;
    Keras's Adam on the raw IndexedSlices gives lr * g / sqrt(g1^2 + g2^2) instead."""
    from ylg_tf.training.step import ReplicatedStep

    embedding = keras.layers.Embedding(3, 2)
    model = keras.Sequential([keras.Input((), dtype="int32"), embedding])
    before = embedding.embeddings.numpy().astype(np.float64)
    optimizer = keras.optimizers.Adam(0.1, beta_1=0.0, beta_2=0.9)
    target = np.array([[1.0, -1.0], [-3.0, 0.5]], np.float32)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(tf.constant([0, 0])) * target)
    ReplicatedStep._apply(optimizer, tape, loss, model)
    gradient = np.zeros((3, 2))
    gradient[0] = target.sum(axis=0)
    velocity = (1 - 0.9) * gradient**2 / (1 - 0.9)  # bias-corrected second moment
    expected = before - 0.1 * gradient / (np.sqrt(velocity) + 1e-7)
    np.testing.assert_allclose(embedding.embeddings.numpy(), expected, rtol=1e-5, atol=1e-6)
