"""DiffAugment: each op's exact effect on hand-made images, gradients, seeds and replicas; in the
train step (`config.train.augment`): what D sees, G's gradients, replicas and the config check."""

import numpy as np
import pytest
import tensorflow as tf
from distribute_util import two_cpu_strategy
from test_training import small_step_config

from ylg_tf.training import GANTrainer, make_strategy, validate
from ylg_tf.training.augment import POLICIES, diff_augment, parse_policy
from ylg_tf.training.step import ReplicatedStep, augmentation_seed

SEED = tf.constant([3, 4], tf.int64)


def _numpy_shift(image, dy, dx):
    """Input pixel (i, j) moved to (i + dy, j + dx); uncovered pixels 0."""
    height, width = image.shape[:2]
    out = np.zeros_like(image)
    rows = slice(max(dy, 0), min(height + dy, height))
    cols = slice(max(dx, 0), min(width + dx, width))
    src_rows = slice(max(-dy, 0), min(height - dy, height))
    src_cols = slice(max(-dx, 0), min(width - dx, width))
    out[rows, cols] = image[src_rows, src_cols]
    return out


def test_color_is_a_per_image_brightness_saturation_contrast_change():
    rng = np.random.default_rng(0)
    batch = 256
    images = rng.uniform(-0.8, 0.8, size=(batch, 6, 5, 3)).astype(np.float32)
    images[0] = 0.25  # a grey constant image: only brightness can change it
    out = diff_augment(images, "color", SEED).numpy().astype(np.float64)
    x = images.astype(np.float64)
    np.testing.assert_allclose(out[0], out[0, 0, 0, 0])  # the grey image stays one grey level
    assert -0.5 <= out[0, 0, 0, 0] - 0.25 < 0.5  # shifted by b in [-0.5, 0.5)
    brightness, saturation, contrast = [], [], []
    for image, result in zip(x[1:], out[1:], strict=True):
        # y = c s (x - m_pixel) + c (m_pixel - m_image) + m_image + b, with m_pixel the channel
        # mean and m_image the image mean: recover c s, c and b by least squares, then check y.
        m_pixel = image.mean(axis=-1, keepdims=True)
        m_image = image.mean()
        deviation, spread = (image - m_pixel).ravel(), (m_pixel - m_image).ravel()
        cs = deviation @ (result - result.mean(-1, keepdims=True)).ravel() / (deviation @ deviation)
        c = spread @ (result.mean(-1, keepdims=True) - result.mean()).ravel() / (spread @ spread)
        b = result.mean() - m_image
        np.testing.assert_allclose(
            result, cs * (image - m_pixel) + c * (m_pixel - m_image) + m_image + b, atol=1e-5
        )
        brightness.append(b), saturation.append(cs / c), contrast.append(c)
    for values, (low, high) in (
        (brightness, (-0.5, 0.5)),
        (saturation, (0.0, 2.0)),
        (contrast, (0.5, 1.5)),
    ):
        values = np.array(values)
        assert values.min() >= low - 1e-4 and values.max() <= high + 1e-4
        # Uniform over the range: 255 draws reach near both ends and have distinct values.
        assert values.min() < low + 0.05 * (high - low) and values.max() > high - 0.05 * (
            high - low
        )
        assert len(np.unique(np.round(values, 4))) > 200


def test_translation_shifts_by_integers_within_an_eighth_with_zero_fill():
    height, width = 16, 24  # reach: 2 rows, 3 columns
    encoded = (np.arange(height * width, dtype=np.float32) + 1).reshape(height, width, 1)
    images = np.repeat(encoded[None] / encoded.max(), 128, axis=0)  # every pixel unique, > 0
    out = diff_augment(images, "translation", SEED).numpy()
    shifts = []
    for image, result in zip(images, out, strict=True):
        matches = [
            (dy, dx)
            for dy in range(-2, 3)
            for dx in range(-3, 4)
            if np.array_equal(result, _numpy_shift(image, dy, dx))
        ]
        assert len(matches) == 1  # exactly one integer shift within the reach explains the output
        shifts.append(matches[0])
    assert {dy for dy, _ in shifts} == set(range(-2, 3))
    assert {dx for _, dx in shifts} == set(range(-3, 4))


def test_translation_moves_a_bright_pixel_or_drops_it():
    images = -np.ones((64, 8, 8, 3), np.float32)  # reach: 1 pixel each way
    images[:, 0, 7] = 1.0  # top-right corner
    out = diff_augment(images, "translation", SEED).numpy()
    dropped = 0
    for result in out:
        bright = np.argwhere(result[..., 0] == 1.0)
        if len(bright) == 0:
            dropped += 1
            continue
        ((row, col),) = bright
        assert 0 <= row <= 1 and 6 <= col <= 7
        np.testing.assert_array_equal(result, _numpy_shift(images[0], row, col - 7))
    assert 0 < dropped < 64  # out of the image half the time (dy = -1 or dx = +1)


def test_cutout_zeroes_a_half_size_square_clipped_by_the_borders():
    height, width = 12, 20  # a 6 x 10 cut
    images = np.full((200, height, width, 2), 0.5, np.float32)
    out = diff_augment(images, "cutout", SEED).numpy()
    full, starts = 0, set()
    for result in out:
        zero = result[..., 0] == 0
        np.testing.assert_array_equal(result[..., 0], result[..., 1])
        assert np.all(result[~zero] == 0.5)
        rows, cols = np.flatnonzero(zero.any(axis=1)), np.flatnonzero(zero.any(axis=0))
        assert zero.sum() == len(rows) * len(cols) > 0  # one rectangle
        for span, side, size in ((rows, 6, height), (cols, 10, width)):
            assert np.array_equal(span, np.arange(span[0], span[-1] + 1))
            assert len(span) == side or (
                len(span) >= side // 2 and (span[0] == 0 or span[-1] == size - 1)
            )
        full += len(rows) == 6 and len(cols) == 10
        starts.add(rows[0])
    # Centres cover every row, and the border row: the cut starts anywhere from 0 to 12 - 3.
    assert full > 50 and starts == set(range(0, height - 6 // 2 + 1))


def test_gradients_flow_through_every_op():
    images = tf.random.stateless_uniform([4, 16, 16, 3], [0, 1], -1, 1)
    for policy in (*POLICIES, "color,translation,cutout"):
        with tf.GradientTape() as tape:
            tape.watch(images)
            loss = tf.reduce_sum(diff_augment(images, policy, SEED) ** 2)
        gradient = tape.gradient(loss, images)
        assert gradient is not None and np.all(np.isfinite(gradient))
        assert np.count_nonzero(gradient) > 0.3 * gradient.shape.num_elements(), policy
    # Cutout is a mask: the gradient of the sum is 1 where the pixel is kept and 0 where cut.
    with tf.GradientTape() as tape:
        tape.watch(images)
        out = diff_augment(images, "cutout", SEED)
    np.testing.assert_array_equal(tape.gradient(out, images), (out != 0).numpy().astype(np.float32))


def test_seeds_decide_the_augmentation():
    images = tf.random.stateless_uniform([8, 16, 16, 3], [0, 2], -1, 1)
    policy = "color,translation,cutout"
    first = diff_augment(images, policy, SEED)
    np.testing.assert_array_equal(first, diff_augment(images, policy, tf.constant([3, 4])))
    other = diff_augment(images, policy, tf.constant([3, 5], tf.int64))
    assert not np.any(np.all(first.numpy() == other.numpy(), axis=(1, 2, 3)))
    # Each image draws its own parameters: identical images come out different.
    same = diff_augment(tf.repeat(images[:1], 8, axis=0), policy, SEED).numpy()
    assert len({result.tobytes() for result in same}) == 8

    @tf.function
    def traced(batch, seed):
        return diff_augment(batch, policy, seed)

    np.testing.assert_array_equal(traced(images, SEED), first)
    half = diff_augment(tf.cast(images, tf.bfloat16), policy, SEED)  # mixed precision
    assert half.dtype == tf.bfloat16 and half.shape == images.shape


def test_compiles_with_xla():
    # TPU steps are compiled; there TensorFlow's stateless float draws differ from the eager ones
    # for the same seed, but they are deterministic as well.
    images = tf.random.stateless_uniform([4, 16, 16, 3], [0, 2], -1, 1)
    compiled = tf.function(
        lambda batch, seed: diff_augment(batch, "color,translation,cutout", seed), jit_compile=True
    )
    np.testing.assert_array_equal(compiled(images, SEED), compiled(images, SEED))
    assert not np.array_equal(compiled(images, SEED), images)


def test_each_replica_gets_its_own_augmentation():
    strategy = two_cpu_strategy()
    images = tf.ones([2, 8, 8, 3]) * 0.5

    @tf.function
    def step(seed):
        def per_replica():
            replica = tf.distribute.get_replica_context().replica_id_in_sync_group
            replica_seed = tf.random.experimental.stateless_fold_in(seed, replica)
            return diff_augment(images, "color,translation,cutout", replica_seed)

        return strategy.run(per_replica)

    first, second = (t.numpy() for t in strategy.experimental_local_results(step(SEED)))
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(
        first,
        diff_augment(
            images, "color,translation,cutout", tf.random.experimental.stateless_fold_in(SEED, 0)
        ),
    )


def test_empty_policy_is_the_identity_and_names_are_checked():
    images = tf.random.stateless_uniform([2, 8, 8, 3], [0, 3], -1, 1)
    for empty in (None, "", "none", " , ", []):
        assert diff_augment(images, empty, seed=None) is images
    assert parse_policy(" color, cutout ") == ("color", "cutout")
    assert parse_policy(["translation"]) == ("translation",)
    with pytest.raises(ValueError, match="'colour'.*accepted: .*color, translation, cutout"):
        parse_policy("colour,cutout")
    with pytest.raises(ValueError, match="seed"):
        diff_augment(images, "color")
    with pytest.raises(ValueError, match="4-D"):
        diff_augment(images[0], "color", SEED)


# --- in the train step ---------------------------------------------------------------------------

POLICY = "color,translation,cutout"


class _Spy:
    """Calls `model` and keeps, in variables readable after the step, the images it was called
    with (`keep="inputs"`) or returned (`keep="outputs"`), one variable per call in a trace."""

    def __init__(self, model, calls: int, keep: str):
        self.model, self.keep, self.calls = model, keep, 0
        self.seen = [tf.Variable(tf.zeros([0]), shape=tf.TensorShape(None)) for _ in range(calls)]

    @property
    def trainable_variables(self):
        return self.model.trainable_variables

    def __call__(self, inputs, training):
        outputs = self.model(inputs, training=training)
        self.seen[self.calls].assign(inputs[0] if self.keep == "inputs" else outputs)
        self.calls += 1
        return outputs


def _step_with_spies(tmp_path, policy):
    """One train step (D step, G step; no EMA) of a tiny model on a fixed batch, with spies on
    D's inputs (real, fake, then the G step's fake) and G's outputs (D step's, G step's)."""
    trainer = GANTrainer(
        small_step_config(1, ema_decay=0.0, augment=policy), make_strategy(), tmp_path
    )
    images, labels = next(iter(trainer.dataset))
    d_spy = _Spy(trainer.discriminator, 3, "inputs")
    g_spy = _Spy(trainer.generator, 2, "outputs")
    step = ReplicatedStep(
        trainer.config, trainer.strategy, g_spy, d_spy, None, trainer.g_optimizer,
        trainer.d_optimizer, trainer.step,
    )  # fmt: skip
    step(iter(tf.data.Dataset.from_tensors((images, labels)).repeat()), tf.constant(1))
    gradients = {v.path: v.numpy() for v in trainer.g_optimizer.variables if "momentum" in v.path}
    seen = [v.numpy() for v in d_spy.seen], [v.numpy() for v in g_spy.seen]
    return trainer, images, *seen, gradients


def test_d_sees_augmented_real_and_fake_images_and_g_learns_through_them(tmp_path):
    trainer, real, d_inputs, fakes, augmented = _step_with_spies(tmp_path / "on", POLICY)
    # (use, which): D step real and fake, then the G step's fake; step 0, replica 0.
    sources = [(real, (0, 0)), (fakes[0], (0, 1)), (fakes[1], (1, 1))]
    for seen, (images, (use, which)) in zip(d_inputs, sources, strict=True):
        seed = augmentation_seed(trainer.config, 0, use, which, 0)
        np.testing.assert_allclose(seen, diff_augment(images, POLICY, seed), rtol=1e-5, atol=1e-5)
        assert np.abs(seen - images).max() > 0.1  # augmented indeed
    real_seed = augmentation_seed(trainer.config, 0, 0, 0, 0)  # the fake's draw is its own
    assert not np.allclose(d_inputs[1], diff_augment(fakes[0], POLICY, real_seed), atol=1e-3)

    _, real_off, d_inputs_off, fakes_off, plain = _step_with_spies(tmp_path / "off", "")
    for seen, images in zip(d_inputs_off, [real_off, *fakes_off], strict=True):
        np.testing.assert_array_equal(seen, images)  # off: D sees the images themselves
    # G's gradient (Adam's first moment at beta1 = 0) flows through the augmentation: every
    # weight that learns without it learns with it, and differently. (Below 1e-4 of the largest
    # gradient are the rounding noise of gradients that are zero, e.g. biases before batch norm.)
    assert plain.keys() == augmented.keys()
    learns = 1e-4 * max(np.abs(gradient).max() for gradient in plain.values())
    for path, gradient in plain.items():
        if np.abs(gradient).max() > learns:
            assert np.abs(augmented[path]).max() > learns, path
    assert any(not np.allclose(plain[p], augmented[p], atol=1e-6) for p in plain)


def test_replicas_and_steps_draw_their_own_augmentation_seeds():
    config = small_step_config(1, augment=POLICY)
    seeds = {
        tuple(augmentation_seed(config, step, use, which, replica).numpy())
        for step in (0, 1)
        for use in (0, 1)
        for which in (0, 1)
        for replica in (0, 1)
    }
    assert len(seeds) == 16


@pytest.mark.slow  # about 50 s on 2 shared cores (tracing two replicas)
def test_augmented_training_under_mirrored_strategy(tmp_path):
    trainer = GANTrainer(
        small_step_config(2, batch_size=8, augment=POLICY), two_cpu_strategy(), tmp_path
    )
    metrics = trainer.train()
    assert int(trainer.step.numpy()) == 2 and all(np.isfinite(list(metrics.values())))


def test_config_names_the_accepted_augmentations():
    config = small_step_config(1, augment="color,flip")
    with pytest.raises(ValueError, match=r"augment='color,flip'.*color, translation, cutout"):
        validate(config)
