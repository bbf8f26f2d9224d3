"""The Keras-JAX engine on CPU.

Keras fixes its backend at import, so the JAX side runs in a subprocess (this file run as a script
with `KERAS_BACKEND=jax` and 2 host devices) that writes arrays; this process (TensorFlow backend)
checks them against independent references: the same models under TensorFlow with the weights
the JAX side saved, the TF engine's own update from the same weights, data and latents, and the
JAX engine's single-device update.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ylg_tf.training import default_config


def tiny_config(**train):
    config = default_config()
    config.model.variant = "ylg"
    config.model.generator.base_channels = config.model.discriminator.base_channels = 16
    config.model.generator.z_dim = 32
    config.train.batch_size = 4
    config.train.steps = 2
    config.train.ema_decay = 0.9
    config.train.ema_start = 1  # step 0 copies G, step 1 averages: both EMA branches run
    config.train.log_every = config.train.sample_every = 100
    config.train.checkpoint_every = 1
    # The EMA G's checkpoints hold its averaged weights and G's statistics as the step left them
    # (standing statistics re-estimate them; the binary's test runs them under JAX).
    config.train.ema_standing_batches = 0
    config.train.update(train)
    return config


STANDING = dict(batches=3, batch_size=8, seed=5)  # the standing statistics both sides take


def run_jax(case: str, out: Path, timeout: int = 2400) -> dict:
    """Runs `case` of this file under Keras's JAX backend on 2 host CPU devices; its JSON."""
    env = dict(
        os.environ,
        KERAS_BACKEND="jax",
        JAX_PLATFORMS="cpu",
        XLA_FLAGS="--xla_force_host_platform_device_count=2",
    )
    result = subprocess.run(
        [sys.executable, __file__, case, str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads((out / f"{case}.json").read_text())


# --- the JAX side (run as a script) ---------------------------------------------------------------


def _jax_forward(out: Path) -> dict:
    """Blocked vs masked sparse attention, and G/D outputs with their weights, under JAX."""
    import keras

    from ylg_tf.jax_engine import save_models
    from ylg_tf.layers import SparseAttention2D
    from ylg_tf.models import build_discriminator, build_generator
    from ylg_tf.training.standing_statistics import standing_statistics

    assert keras.backend.backend() == "jax"
    x = np.random.default_rng(1).standard_normal((2, 8, 8, 64)).astype("float32")
    layers = [SparseAttention2D("ylg", implementation=kind) for kind in ("masked", "blocked")]
    for layer in layers:
        layer.build(x.shape)
    layers[0].gamma.assign(0.7)
    layers[1].set_weights(layers[0].get_weights())
    (masked, masked_probs), (blocked, blocked_probs) = (
        layer(x, return_attention_scores=True) for layer in layers
    )
    config = tiny_config()
    keras.utils.set_random_seed(3)
    generator, discriminator = build_generator(config, 10), build_discriminator(config, 10)
    z, labels, images = _model_inputs(config)
    fake = generator((z, labels), training=False)
    logits = discriminator((images, labels), training=False)
    save_models(str(out / "weights.npz"), generator, discriminator)
    np.savez(out / "jax_outputs.npz", fake=np.asarray(fake), logits=np.asarray(logits))
    standing_statistics(generator, 10, config.model.generator.z_dim, **STANDING)
    save_models(str(out / "standing.npz"), generator, discriminator)
    return {
        "attention_error": float(np.abs(np.asarray(masked) - np.asarray(blocked)).max()),
        "probs_error": float(np.abs(np.asarray(masked_probs) - np.asarray(blocked_probs)).max()),
    }


def _jax_train(out: Path) -> dict:
    """The initial weights, then 2 steps on one device and on two, as checkpoints; then one more
    step on one device, resumed."""
    import jax
    import keras

    from ylg_tf.jax_engine import save_models, train
    from ylg_tf.jax_engine.backend import build_models

    config = tiny_config()
    keras.utils.set_random_seed(config.seed)  # as `train` does before it builds the models
    initial = build_models(config, 10)
    save_models(str(out / "initial.npz"), initial.generator, initial.discriminator)
    devices = jax.devices()
    assert len(devices) == 2
    one = train(config, str(out / "one"), devices=devices[:1])
    two = train(config, str(out / "two"), devices=devices)
    # Resuming "one" for a third step past a newer checkpoint that does not read.
    (out / "one" / "checkpoints" / "step_0000009.npz").write_bytes(b"cut short")
    resumed = train(tiny_config(steps=3), str(out / "one"), devices=devices[:1])
    return {"one": one, "two": two, "resumed": resumed}


def _model_inputs(config):
    rng = np.random.default_rng(0)
    z = rng.standard_normal((3, config.model.generator.z_dim)).astype("float32")
    images = rng.uniform(-1, 1, (3, 32, 32, 3)).astype("float32")
    return z, np.array([0, 4, 9], "int32"), images


# --- the checks (TensorFlow backend) --------------------------------------------------------------


def test_weight_files_round_trip_and_refuse_another_model(tmp_path):
    from ylg_tf.jax_engine import load_models, save_models
    from ylg_tf.models import build_generator

    config = tiny_config()
    source, target = build_generator(config, 10), build_generator(config, 10, name="G_ema")
    path = save_models(str(tmp_path / "w.npz"), source, source, step=7)
    assert load_models(path, ema_generator=target) == 7  # no G_ema entries: G's weights
    for a, b in zip(source.weights, target.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    config.model.generator.base_channels = 32
    with pytest.raises(ValueError, match=r"holds shape \(1, 1024\), the model \(1, 2048\)"):
        load_models(path, generator=build_generator(config, 10))
    config.model.variant = "no_attention"
    with pytest.raises(ValueError, match="'G' entries do not match model 'G'"):
        load_models(path, generator=build_generator(config, 10))


@pytest.mark.slow
def test_layers_and_models_under_jax_equal_tensorflow(tmp_path):
    import keras

    from ylg_tf.jax_engine import load_models, read_npz
    from ylg_tf.models import build_discriminator, build_generator

    errors = run_jax("forward", tmp_path)
    assert errors["attention_error"] < 1e-5 and errors["probs_error"] < 1e-6, errors
    assert keras.backend.backend() == "tensorflow"
    config = tiny_config()
    generator, discriminator = build_generator(config, 10), build_discriminator(config, 10)
    load_models(str(tmp_path / "weights.npz"), generator, discriminator)
    z, labels, images = _model_inputs(config)
    expected = np.load(tmp_path / "jax_outputs.npz")
    assert np.abs(expected["fake"]).max() > 0.01  # a real image, not zeros
    fake = np.asarray(generator((z, labels), training=False))
    np.testing.assert_allclose(fake, expected["fake"], atol=2e-5)
    logits = np.asarray(discriminator((images, labels), training=False))
    np.testing.assert_allclose(logits, expected["logits"], rtol=1e-4, atol=1e-5)
    # The EMA generator's standing statistics (eager training-mode calls) under both backends.
    from ylg_tf.runs.weights import model_arrays
    from ylg_tf.training.standing_statistics import standing_statistics

    assert standing_statistics(generator, 10, config.model.generator.z_dim, **STANDING) > 3
    jax_standing = read_npz(str(tmp_path / "standing.npz"))
    before = read_npz(str(tmp_path / "weights.npz"))
    moved = 0
    for key, value in model_arrays(generator, "G").items():
        np.testing.assert_allclose(value, jax_standing[key], rtol=1e-4, atol=1e-5, err_msg=key)
        moved += key.endswith("moving_mean") and not np.allclose(value, before[key])
    assert moved > 3  # the statistics were re-estimated, not left as they were


def _feeds_batch_norm(key: str) -> bool:
    """G's block convolution biases: batch norm removes them, so their true gradient is 0 and
    Adam's first step amplifies float noise in it (|step| <= lr) differently per reduction order."""
    return key.startswith(("G/block_", "G_ema/block_")) and key.endswith("_conv2d/bias")


def _assert_states_match(actual: dict, expected: dict, lr: float, what: str) -> None:
    assert set(actual) == set(expected), what
    for key, value in expected.items():
        difference = np.abs(actual[key] - value)
        assert difference.max() <= 2 * lr, (what, key)
        if _feeds_batch_norm(key):
            continue
        if key.endswith("vector_u"):  # a unit vector: its direction follows the weights' noise
            assert np.linalg.norm(actual[key] - value) < 1e-3, (what, key)
            continue
        # Adam's first steps (beta1 = 0: a step of lr * g / (|g| + eps)) turn a near-zero
        # gradient's float noise (e.g. the embedding row of a class absent from the batch) into a
        # step of up to lr whose sign depends on the reduction order: allow that in at most 0.5%
        # of a tensor's elements (0.1% seen in one run; a wrong all-reduce moves most elements).
        off = difference > 2e-5 + 1e-4 * np.abs(value)
        assert off.sum() <= max(2, 5e-3 * off.size), (what, key, int(off.sum()), difference.max())


@pytest.mark.slow
def test_two_device_steps_match_one_device_and_the_tf_engine(tmp_path):
    import keras

    from ylg_tf.jax_engine import load_models, read_npz
    from ylg_tf.training import GANTrainer, make_strategy

    metrics = run_jax("train", tmp_path)
    for run in metrics.values():
        assert len(run) == 4 and all(np.isfinite(list(run.values()))), metrics
    assert metrics["one"] == pytest.approx(metrics["two"], rel=1e-4, abs=1e-5)
    # The resumed run set the unreadable file aside, went on from step 2 and kept 3 files.
    checkpoints = tmp_path / "one" / "checkpoints"
    assert sorted(p.name for p in checkpoints.glob("*.npz")) == [
        f"step_000000{s}.npz" for s in (1, 2, 3)
    ]
    assert [p.name for p in (checkpoints / "unreadable").iterdir()] == ["step_0000009.npz"]
    assert int(read_npz(str(checkpoints / "step_0000003.npz"))["step"]) == 3
    config = tiny_config()
    one, two = (
        {s: read_npz(str(tmp_path / run / "checkpoints" / f"step_000000{s}.npz")) for s in (1, 2)}
        for run in ("one", "two")
    )
    weights = [k for k in one[2] if k.startswith(("G/", "D/", "G_ema/"))]
    initial = read_npz(str(tmp_path / "initial.npz"))
    changed = sum(not np.allclose(one[2][k], initial[k]) for k in initial if k != "step")
    assert changed > len(weights) // 3  # G and D moved (the EMA G too)
    # The states after the first update: from step 2 on, Adam with beta1 = 0 (a sign-like step
    # for gradients near float noise) amplifies step 1's reduction-order noise in D into G's
    # step, so step 2 is checked through the losses above.
    _assert_states_match(
        {k: two[1][k] for k in weights},
        {k: one[1][k] for k in weights},
        config.train.d_lr,
        "2 devices vs 1 at step 1",
    )
    # The EMA generator: a copy of G at step 1 (before ema_start), then decay 0.9.
    decay = config.train.ema_decay
    for key in (k for k in weights if k.startswith("G/")):
        ema = "G_ema/" + key[2:]
        np.testing.assert_allclose(one[1][ema], one[1][key], err_msg=ema)
        is_trainable = not key.endswith(("vector_u", "moving_mean", "moving_variance"))
        average = decay * one[1][ema] + (1 - decay) * one[2][key] if is_trainable else one[2][key]
        np.testing.assert_allclose(one[2][ema], average, rtol=1e-5, atol=1e-7, err_msg=ema)

    # The TF engine from the same weights, data order and latents, one step.
    assert keras.backend.backend() == "tensorflow"
    config = tiny_config(steps=1)
    trainer = GANTrainer(config, make_strategy("default"), tmp_path / "tf")
    load_models(str(tmp_path / "initial.npz"), trainer.generator, trainer.discriminator)
    trainer.ema_generator.set_weights(trainer.generator.get_weights())
    trainer.train(steps=1)
    tf_state = {}
    for role, model in (
        ("G", trainer.generator),
        ("D", trainer.discriminator),
        ("G_ema", trainer.ema_generator),
    ):
        from ylg_tf.runs.weights import model_arrays

        tf_state.update(model_arrays(model, role))
    _assert_states_match(
        {k: one[1][k] for k in weights}, tf_state, config.train.d_lr, "JAX vs TF engine"
    )


if __name__ == "__main__":
    case, out = sys.argv[1], Path(sys.argv[2])
    results = {"forward": _jax_forward, "train": _jax_train}[case](out)
    (out / f"{case}.json").write_text(json.dumps(results))
