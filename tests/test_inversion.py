"""YLG inversion: Lookahead, saliency, losses, the driver, targets, outputs and `ylg-invert`.

References are NumPy float64 re-computations; models are the smallest digits models (32x32,
base channels 16, untrained: inversion only needs some fixed differentiable G and D).
"""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from ylg_tf.inversion import (
    METHODS,
    InversionResult,
    Lookahead,
    check_labels,
    inversion_loss,
    invert,
    key_saliency,
    load_target,
    prepare_target,
    saliency_maps,
    write_inversion,
)
from ylg_tf.models import build_discriminator, build_generator
from ylg_tf.training import default_config

LABELS = np.array([1, 7], np.int32)


def tiny_config(variant="ylg"):
    config = default_config()
    config.model.variant = variant
    config.model.generator.base_channels = config.model.discriminator.base_channels = 16
    return config


@pytest.fixture(scope="module")
def models():
    keras.utils.set_random_seed(3)
    config = tiny_config()
    return build_generator(config, 10), build_discriminator(config, 10)


@pytest.fixture(scope="module")
def targets(models):
    generator, _ = models
    z = np.random.default_rng(0).normal(size=(2, generator.z_dim)).astype(np.float32)
    return z, generator((z, LABELS), training=False).numpy()


def np_bilinear(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Half-pixel-centre bilinear resize of `[..., h, w]` (TF2's `tf.image.resize` upsampling)."""

    def taps(n_out, n_in):
        x = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
        low = np.floor(x).astype(int)
        return low, np.minimum(low + 1, n_in - 1), x - low

    (r0, r1, fr), (c0, c1, fc) = taps(size[0], maps.shape[-2]), taps(size[1], maps.shape[-1])
    rows = maps[..., r0, :] * (1 - fr)[:, None] + maps[..., r1, :] * fr[:, None]
    return rows[..., c0] * (1 - fc) + rows[..., c1] * fc


# --- Lookahead ------------------------------------------------------------------------------------


def np_adam_lookahead(x, a, b, steps, lr, k, alpha, b1=0.9, b2=0.999, eps=1e-7):
    """Adam (Keras 3's update) on 0.5 * sum(a * (x - b)^2) inside Lookahead, in float64."""
    x = x.astype(np.float64)
    slow, m, v, path = x.copy(), np.zeros_like(x), np.zeros_like(x), []
    for t in range(1, steps + 1):
        grad = a * (x - b)
        m += (grad - m) * (1 - b1)
        v += (grad * grad - v) * (1 - b2)
        x = x - lr * np.sqrt(1 - b2**t) / (1 - b1**t) * m / (np.sqrt(v) + eps)
        if t % k == 0:
            slow = slow + alpha * (x - slow)
            x = slow.copy()
        path.append(x.copy())
    return np.stack(path)


@pytest.mark.parametrize("k, alpha, graph", [(5, 0.5, True), (3, 0.3, False)])
def test_lookahead_matches_numpy_adam(k, alpha, graph):
    rng = np.random.default_rng(1)
    x0, a, b = rng.normal(size=(2, 3)), rng.uniform(0.5, 3, (2, 3)), rng.normal(size=(2, 3))
    variable = tf.Variable(x0.astype(np.float32))
    optimizer = Lookahead(keras.optimizers.Adam(0.05), sync_period=k, slow_step_size=alpha)

    def step():
        with tf.GradientTape() as tape:
            loss = 0.5 * tf.reduce_sum(a.astype(np.float32) * tf.square(variable - b.astype("f")))
        optimizer.apply(tape.gradient(loss, [variable]), [variable])

    step = tf.function(step) if graph else step
    path = []
    for _ in range(12):
        step()
        path.append(variable.numpy())
    expected = np_adam_lookahead(x0, a, b, 12, 0.05, k, alpha)
    np.testing.assert_allclose(np.stack(path), expected, atol=2e-5)
    assert not np.allclose(expected[k - 1], expected[k - 2] - (expected[k - 3] - expected[k - 2]))


def test_lookahead_config_round_trip():
    optimizer = Lookahead(keras.optimizers.Adam(0.01), sync_period=4, slow_step_size=0.25)
    copy = Lookahead.from_config(optimizer.get_config())
    assert (copy.sync_period, copy.slow_step_size) == (4, 0.25)
    assert isinstance(copy.inner_optimizer, keras.optimizers.Adam)
    assert float(copy.learning_rate) == pytest.approx(0.01)


def test_lookahead_rejects_bad_arguments():
    with pytest.raises(ValueError, match="sync_period"):
        Lookahead(keras.optimizers.Adam(), sync_period=0)
    with pytest.raises(ValueError, match="slow_step_size"):
        Lookahead(keras.optimizers.Adam(), slow_step_size=1.5)
    with pytest.raises(ValueError, match="keras.optimizers.Optimizer"):
        Lookahead("adam")


# --- saliency -------------------------------------------------------------------------------------


def test_saliency_is_a_distribution_per_head_projected_to_d0(models, targets):
    _, discriminator = models
    _, images = targets
    _, (probs,) = discriminator((images, LABELS), training=False, return_attention_scores=True)
    probs = probs.numpy().astype(np.float64)  # [2, 8, 256, 64]
    raw = key_saliency(probs, (16, 16)).numpy()
    expected = probs.mean(axis=2).reshape(2, 8, 8, 8)
    np.testing.assert_allclose(raw, expected, atol=1e-6)
    np.testing.assert_allclose(raw.sum(axis=(2, 3)), 1.0, atol=1e-5)

    saliency = saliency_maps(discriminator, images, LABELS)
    assert saliency.shape == (2, 8) + tuple(discriminator.d0(images).shape[1:3]) == (2, 8, 16, 16)
    resized = np_bilinear(expected, (16, 16))
    resized /= resized.sum(axis=(2, 3), keepdims=True)
    np.testing.assert_allclose(saliency, resized, atol=1e-6)


def test_saliency_of_sagan_and_without_attention():
    images = np.random.default_rng(2).uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    sagan = build_discriminator(tiny_config("sagan"), 10)
    saliency = saliency_maps(sagan, images, LABELS)
    assert saliency.shape == (2, 1, 16, 16)
    np.testing.assert_allclose(saliency.sum(axis=(2, 3)), 1.0, atol=1e-5)
    plain = build_discriminator(tiny_config("no_attention"), 10)
    with pytest.raises(ValueError, match="no attention layer"):
        saliency_maps(plain, images, LABELS)
    with pytest.raises(ValueError, match="no attention layer"):
        prepare_target(plain, images, LABELS, "ylg")
    assert prepare_target(plain, images, LABELS, "d_space").saliency is None


# --- losses ---------------------------------------------------------------------------------------


def test_losses_match_numpy(models, targets):
    generator, discriminator = models
    _, images = targets
    fake = generator((np.ones((2, generator.z_dim), "f"), LABELS), training=False).numpy()
    d0_fake = discriminator.d0(fake).numpy().astype(np.float64)
    d0_real = discriminator.d0(images).numpy().astype(np.float64)
    saliency = saliency_maps(discriminator, images, LABELS).astype(np.float64)  # [2, 8, 16, 16]
    weights = saliency * 256  # mean 1 per head
    pixel = np_bilinear(saliency.mean(axis=1), (32, 32))
    pixel /= pixel.mean(axis=(1, 2), keepdims=True)
    d_diff, g_diff = d0_fake - d0_real, fake.astype(np.float64) - images

    def heads_loss(chosen):
        weighted = d_diff[:, None] * weights[:, list(chosen), :, :, None]
        return (weighted**2).mean(axis=(1, 2, 3, 4))

    expected = {
        "ylg": heads_loss(range(8)),
        "pixel": (g_diff**2).mean(axis=(1, 2, 3)),
        "saliency_pixel": ((g_diff * pixel[..., None]) ** 2).mean(axis=(1, 2, 3)),
        "d_space": (d_diff**2).mean(axis=(1, 2, 3)),
        "ylg_heads": heads_loss((0, 3)),
    }
    assert set(expected) == set(METHODS) and METHODS[0] == "ylg"
    for method in METHODS:
        heads = (0, 3) if method == "ylg_heads" else None
        target = prepare_target(discriminator, images, LABELS, method, heads)
        loss = inversion_loss(method, tf.constant(fake), target, discriminator).numpy()
        assert loss.shape == (2,)
        np.testing.assert_allclose(loss, expected[method], rtol=2e-4, err_msg=method)
    assert not np.allclose(expected["ylg"], expected["ylg_heads"], rtol=1e-2)


def test_unknown_method_and_bad_heads(models, targets):
    _, discriminator = models
    _, images = targets
    with pytest.raises(ValueError, match="accepted: ylg, pixel"):
        prepare_target(discriminator, images, LABELS, "vgg")
    with pytest.raises(ValueError, match=r"in 0\.\.7"):
        prepare_target(discriminator, images, LABELS, "ylg_heads", (0, 8))
    with pytest.raises(ValueError, match="needs heads"):
        prepare_target(discriminator, images, LABELS, "ylg_heads")
    with pytest.raises(ValueError, match="only to method 'ylg_heads'"):
        prepare_target(discriminator, images, LABELS, "ylg", (1,))


# --- the driver -----------------------------------------------------------------------------------


def test_pixel_inversion_lowers_the_loss_and_approaches_z(models, targets):
    generator, discriminator = models
    z_true, images = targets
    start = np.asarray(tf.random.stateless_normal((1, 2, generator.z_dim), (5, 0)))
    result = invert(
        generator, discriminator, images, LABELS, "pixel", steps=40, restarts=1, initial_z=start
    )
    assert isinstance(result, InversionResult) and result.steps_run == 40
    assert result.loss_curve.shape == (40, 2) and result.saliency.shape == (2, 8, 16, 16)
    assert np.all(result.final_loss < 0.5 * result.initial_loss)
    np.testing.assert_allclose(result.initial_loss, result.loss_curve[0])
    regenerated = generator((result.z, LABELS), training=False).numpy()
    np.testing.assert_allclose(result.images, regenerated, atol=1e-5)
    mse = ((regenerated - images) ** 2).mean(axis=(1, 2, 3))
    np.testing.assert_allclose(mse, result.final_loss, rtol=1e-3)
    moved = np.linalg.norm(result.z - z_true, axis=1) / np.linalg.norm(start[0] - z_true, axis=1)
    assert np.all(moved < 0.9), moved


def test_restarts_keep_the_best_per_image(models, targets):
    generator, discriminator = models
    z_true, images = targets
    noise = np.random.default_rng(4).normal(size=z_true.shape).astype(np.float32)
    start = np.stack([[z_true[0], noise[1]], [noise[0], z_true[1]]])  # [restarts, B, z_dim]
    result = invert(
        generator, discriminator, images, LABELS, "d_space", steps=2, restarts=2,
        learning_rate=1e-4, initial_z=start, patience=0,
    )  # fmt: skip
    np.testing.assert_array_equal(result.best_restart, [0, 1])
    np.testing.assert_allclose(result.z, z_true, atol=1e-3)
    assert result.restart_losses.shape == (2, 2)
    np.testing.assert_allclose(result.final_loss, result.restart_losses.min(axis=0))
    assert np.all(result.restart_losses[[1, 0], [0, 1]] > 100 * result.final_loss + 1e-6)


def test_early_stop_after_patience_without_progress(models, targets):
    generator, discriminator = models
    z_true, images = targets
    calls = []
    # Away from z_true (where the loss is float noise, whose relative changes are not small)
    # with steps far too small to improve the loss by the tolerance's 0.1%.
    result = invert(
        generator, discriminator, images, LABELS, "pixel", steps=200, restarts=1, patience=5,
        learning_rate=1e-9, initial_z=z_true[None] + 1.0, progress=lambda s, v: calls.append(s),
    )  # fmt: skip
    assert result.steps_run == 6 and calls == list(range(1, 7))
    assert result.loss_curve.shape == (6, 2)


# --- targets and outputs --------------------------------------------------------------------------


def test_load_target_conversions(tmp_path):
    rgb = np.random.default_rng(5).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    target, notes = load_target(tmp_path / "rgb.png", 32)
    assert notes == [] and target.shape == (32, 32, 3) and target.dtype == np.float32
    np.testing.assert_allclose(target, rgb / 127.5 - 1, atol=1e-6)

    Image.fromarray(rgb[..., 0]).save(tmp_path / "gray.png")
    target, notes = load_target(tmp_path / "gray.png", 32)
    assert ["grayscale" in n for n in notes] == [True]
    np.testing.assert_allclose(target, np.repeat(rgb[..., :1] / 127.5 - 1, 3, -1), atol=1e-6)

    rgba = np.zeros((32, 32, 4), np.uint8)
    rgba[:16] = (0, 0, 0, 255)  # opaque black top half, transparent bottom half
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    target, notes = load_target(tmp_path / "rgba.png", 32)
    assert any("over white" in n for n in notes)
    np.testing.assert_allclose(target[:16], -1.0)
    np.testing.assert_allclose(target[16:], 1.0)

    wide = np.zeros((40, 60, 3), np.uint8)
    wide[:, 10:50] = 255  # the central 40x40 square is white
    Image.fromarray(wide).save(tmp_path / "wide.jpg", quality=100)
    target, notes = load_target(tmp_path / "wide.jpg", 32)
    assert any("60x40 centre-cropped to 40x40" in n for n in notes)
    assert any("resized 40x40 to 32x32" in n for n in notes)
    assert target.shape == (32, 32, 3) and target.min() > 0.9


def test_load_target_and_label_errors(tmp_path):
    (tmp_path / "notes.png").write_text("not an image")
    for path in (tmp_path / "notes.png", tmp_path / "missing.png"):
        with pytest.raises(ValueError, match=f"Cannot read {path}"):
            load_target(path, 32)
    np.testing.assert_array_equal(check_labels([0, 9], 10), [0, 9])
    with pytest.raises(ValueError, match=r"\[10, -1\] outside the model's classes 0\.\.9"):
        check_labels([3, 10, -1], 10)


def test_write_inversion(tmp_path, models, targets):
    generator, discriminator = models
    _, images = targets
    result = invert(generator, discriminator, images, LABELS, "ylg", steps=3, restarts=2)
    written = write_inversion(tmp_path, result, images, true_z=result.z)
    names = sorted(p.name for p in written)
    assert names == [
        "image_000.png", "image_001.png", "inversion.npz", "loss_curve.csv", "loss_curve.png"
    ]  # fmt: skip
    saved = np.load(tmp_path / "inversion.npz")
    np.testing.assert_array_equal(saved["z"], result.z)
    assert saved["loss_curve"].shape == (3, 2) and saved["saliency"].shape == (2, 8, 16, 16)
    panel = np.asarray(Image.open(tmp_path / "image_001.png"))
    assert panel.shape == (128, 10 * 128 + 9 * 2, 3)  # target, inversion, 8 heads
    np.testing.assert_array_equal(panel[::4, :128:4], np.round((images[1] + 1) * 127.5))
    assert np.loadtxt(tmp_path / "loss_curve.csv", delimiter=",", skiprows=1).shape == (3, 3)


# --- a trained run and ylg-invert -----------------------------------------------------------------


@pytest.fixture(scope="module")
def trainer(tmp_path_factory):
    """The trainer of a tiny YLG run (batch 4, EMA), for the binary's slow test."""
    from ylg_tf.training import GANTrainer, make_strategy

    config = tiny_config()
    config.train.update(batch_size=4, steps=2, ema_decay=0.9, log_every=2)
    config.train.sample_every = config.train.checkpoint_every = 2
    return GANTrainer(config, make_strategy("default"), tmp_path_factory.mktemp("inv") / "run")


def test_invert_run_restores_the_run_and_writes(shared_tiny_run, tiny_live, tmp_path):
    """On the shared run: D as its trainer held it at ckpt-2 (its live weights), then inversion
    of generated images and the label checks."""
    from shared_runs import live_weights

    from ylg_tf.inversion import invert_run, load_models
    from ylg_tf.runs.loading import model_weights

    run, discriminator = load_models(shared_tiny_run, step=2)
    assert run.ema and run.step == 2
    live = live_weights(tiny_live, "discriminator")
    loaded = {path: np.asarray(value) for path, value in model_weights(discriminator).items()}
    assert loaded.keys() == live.keys()
    for path, value in loaded.items():
        np.testing.assert_array_equal(value, live[path], err_msg=path)

    done = invert_run(shared_tiny_run, step=2, from_samples=2, labels=[4], method="pixel",
                      outdir=tmp_path, steps=2, restarts=1)  # fmt: skip
    np.testing.assert_array_equal(done.result.labels, [4, 4])
    assert done.true_z.shape == (2, 128) and (tmp_path / "image_001.png").exists()
    assert any("generated images" in note for note in done.notes)
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "small.png")
    with pytest.raises(ValueError, match=r"Label\(s\) \[12\]"):
        invert_run(shared_tiny_run, image_paths=[tmp_path / "small.png"], labels=[12])
    with pytest.raises(ValueError, match="needs --label"):
        invert_run(shared_tiny_run, image_paths=[tmp_path / "small.png"])


@pytest.mark.slow
def test_ylg_invert_binary_on_a_trained_run(trainer, tmp_path):
    trainer.train()  # 2 steps: the binary inverts a run the trainer trained
    workdir = trainer.workdir
    command = [sys.executable, "-m", "ylg_tf.cli.invert", f"--workdir={workdir}"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    outdir = tmp_path / "out"
    ok = subprocess.run(
        command + ["--from_samples=2", "--steps=3", "--restarts=2", f"--outdir={outdir}"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr[-3000:]
    assert "Inverting 2 generated images" in ok.stdout and f"Wrote {outdir}" in ok.stdout
    assert "ckpt-2" in ok.stdout
    saved = np.load(outdir / "inversion.npz")
    assert saved["true_z"].shape == saved["z"].shape == (2, 128)
    assert (outdir / "image_001.png").exists()

    bad = subprocess.run(
        command + [f"--image={tmp_path / 'missing.png'}", "--label=3"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert bad.returncode != 0 and f"Cannot read {tmp_path / 'missing.png'}" in bad.stderr
