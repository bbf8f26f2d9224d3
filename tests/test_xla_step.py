"""`config.train.jit_compile`: the XLA-compiled replicated step against the uncompiled one, per
variant and precision; `steps_per_call` loops under XLA; the start-up checks; the binary.

Tolerances. Both steps start from the same weights, optimizer state, batch and latents (drawn
outside the compiled update), so they differ only by XLA's fusion and reordering of reductions.
The gradients are read from Adam's first moments, which equal the last gradient at beta1 = 0.
float32: through batch norm over 4 images and the hinge loss the rounding differences reach about
0.4% of a variable's largest gradient (measured), so every gradient element must agree within 2%
of it; below 1e-5 of the model's largest gradient are rounding noise of gradients that are zero in
exact arithmetic (conv biases before batch norm; attention weights behind a zero gamma). Adam's
first step moves a weight by about lr times the sign of its gradient, so weights are compared (to
5% of lr) only where that sign is certain. bfloat16 (8-bit mantissas) rounds every element anew,
and its gradients differ by tens of percent (biases before batch norm get large, not exactly
cancelling gradients), so there only the forward pass is compared: the losses and mean logits
within 5%, batch-norm statistics, spectral-norm vectors and the EMA within 5e-2.
In float32, spectral-norm vectors, batch-norm statistics and the EMA agree within 1e-4. An error
in the step (a wrong loss, latent, EMA or a missing update) changes gradients by their own size.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from distribute_util import two_cpu_strategy
from test_train_step import train_two_steps_through_the_binary
from test_training import small_step_config, tiny_config

from ylg_tf.models.variants import VARIANTS
from ylg_tf.training import GANTrainer, make_strategy
from ylg_tf.training.step import ReplicatedStep

#: Compiling one step takes 1-2 minutes on 2 CPU cores: the integration tests (which `.ci/run`
#: runs) compile YLG's sparse attention, the dense and bipartite kinds and no attention; the other
#: variants and precisions are `slow`.
INTEGRATION = ("ganformer_duplex", "no_attention", "sagan", "ylg")


@pytest.fixture(autouse=True)
def _float32_policy_after():
    yield
    keras.mixed_precision.set_global_policy("float32")


def _config(variant, **train):
    if variant == "no_attention":
        return small_step_config(1, ema_decay=0.9, **train)
    config = tiny_config(variant, steps=1, log_every=1, ema_decay=0.9, **train)
    if variant == "mixed_resolution":  # its 16 heads need 128 attention channels
        config.model.generator.base_channels = config.model.discriminator.base_channels = 64
    return config


class _Runs:
    """Runs steps of one trainer's models from their initial state, compiled or not."""

    def __init__(self, trainer):
        self.trainer = trainer
        self.holders = (
            trainer.generator,
            trainer.discriminator,
            trainer.ema_generator,
            trainer.g_optimizer,
            trainer.d_optimizer,
        )
        self.initial = self.state()
        images, labels = next(iter(trainer.dataset))  # one fixed batch for every run
        self.batches = tf.data.Dataset.from_tensors((images, labels)).repeat()

    def state(self):
        return {v.path: np.array(v.numpy()) for h in self.holders for v in h.variables}

    def step(self, jit_compile: str):
        trainer = self.trainer
        trainer.config.train.jit_compile = jit_compile
        return ReplicatedStep(
            trainer.config, trainer.strategy, trainer.generator, trainer.discriminator,
            trainer.ema_generator, trainer.g_optimizer, trainer.d_optimizer, trainer.step,
        )  # fmt: skip

    def run(self, step, calls):
        """From the initial state, `step` called once per entry of `calls` (its steps)."""
        for holder in self.holders:
            for variable in holder.variables:
                variable.assign(self.initial[variable.path])
        self.trainer.step.assign(0)
        iterator = iter(self.batches)
        for steps in calls:
            self.metrics = {k: float(v) for k, v in step(iterator, tf.constant(steps)).items()}
        return self.state()


def _compare(runs, uncompiled, compiled, loose: bool):
    train = runs.trainer.config.train
    gradient_tolerance, state_tolerance = 0.02, (5e-2 if loose else 1e-4)
    learning_rate = {"G": train.g_lr, "D": train.d_lr}
    trainable = [v.path for m in runs.holders[:2] for v in m.trainable_variables]
    moments = [path for path in uncompiled if path.endswith("_momentum")]
    gradient_of = {  # "G/linear/kernel" -> "g_optimizer/G_linear_kernel_momentum"
        path: next(m for m in moments if m.endswith("/" + path.replace("/", "_") + "_momentum"))
        for path in trainable
    }
    largest = {  # per model, "G" and "D"
        model: max(np.abs(uncompiled[gradient_of[p]]).max() for p in trainable if p[0] == model)
        for model in "GD"
    }
    for path in () if loose else trainable:
        gradient, compiled_gradient = uncompiled[gradient_of[path]], compiled[gradient_of[path]]
        moved, compiled_moved = (run[path] - runs.initial[path] for run in (uncompiled, compiled))
        noise = 1e-5 * largest[path[0]]  # gradients that are zero in exact arithmetic
        atol = gradient_tolerance * np.abs(gradient).max() + noise
        np.testing.assert_allclose(compiled_gradient, gradient, rtol=0, atol=atol, err_msg=path)
        # Where the gradient's sign is certain, the weight made the same move.
        certain = np.abs(gradient) > max(2 * atol - 2 * noise, 10 * noise)
        atol = 0.05 * learning_rate[path[0]] + 1e-7
        actual, expected = compiled_moved[certain], moved[certain]
        np.testing.assert_allclose(actual, expected, rtol=0, atol=atol, err_msg=path)
    for path, expected in uncompiled.items():
        if path in gradient_of or path.endswith(("_momentum", "_velocity")):
            continue  # (velocities: squared gradients)
        if expected.dtype.kind != "f":
            np.testing.assert_array_equal(compiled[path], expected, err_msg=path)
        else:  # spectral-norm vectors, batch-norm statistics, the EMA, loss scales
            np.testing.assert_allclose(
                compiled[path], expected, rtol=state_tolerance, atol=state_tolerance, err_msg=path
            )


def _variant_cases():
    for name in sorted(VARIANTS):
        marks = pytest.mark.integration if name in INTEGRATION else pytest.mark.slow
        yield pytest.param(name, "", id=name, marks=marks)
    for name in ("no_attention", "ylg", "ganformer_simplex"):
        yield pytest.param(name, "bfloat16", id=f"{name}-bfloat16", marks=pytest.mark.slow)


@pytest.mark.parametrize("variant, precision", _variant_cases())
def test_compiled_step_matches_the_uncompiled_one(variant, precision, tmp_path):
    config = _config(variant, mixed_precision=precision)
    runs = _Runs(GANTrainer(config, make_strategy(), tmp_path))
    uncompiled = runs.run(runs.step("off"), [1])
    uncompiled_metrics = runs.metrics
    compiled_step = runs.step("on")
    assert compiled_step.jit_compile
    compiled = runs.run(compiled_step, [1])
    for name, value in uncompiled_metrics.items():
        assert runs.metrics[name] == pytest.approx(value, rel=5e-2, abs=5e-2), name
    _compare(runs, uncompiled, compiled, loose=bool(precision))


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["float16", ""])
def test_two_d_steps_and_float16_loss_scaling_compile(precision, tmp_path):
    """d_steps = 2 and the LossScaleOptimizer's skip-on-overflow conditionals under XLA."""
    config = _config("no_attention", mixed_precision=precision, d_steps=2)
    runs = _Runs(GANTrainer(config, make_strategy(), tmp_path))
    uncompiled = runs.run(runs.step("off"), [1])
    compiled = runs.run(runs.step("on"), [1])
    _compare(runs, uncompiled, compiled, loose=bool(precision))


@pytest.mark.integration
def test_steps_per_call_loop_under_xla_equals_single_calls(tmp_path):
    """Two steps in one call (the on-device `tf.range` loop) equal two calls of one step: the
    same compiled update, so the same numbers; with DiffAugment, whose seeds follow the step."""
    config = _config("no_attention", augment="color,translation,cutout")
    runs = _Runs(GANTrainer(config, make_strategy(), tmp_path))
    step = runs.step("on")
    looped = runs.run(step, [2])
    single = runs.run(step, [1, 1])
    assert int(runs.trainer.step.numpy()) == 2
    for path, value in single.items():
        np.testing.assert_allclose(looped[path], value, rtol=1e-6, atol=1e-7, err_msg=path)
    assert not np.array_equal(single["G/linear/linear_dense/kernel"], runs.initial[
        "G/linear/linear_dense/kernel"])  # fmt: skip


def test_mirrored_strategy_over_cpus_refuses_xla_with_one_message(tmp_path):
    """TensorFlow compiles a MirroredStrategy step with XLA only on GPUs; over CPU replicas
    "on" is refused at start-up, and "auto" trains uncompiled."""
    with pytest.raises(ValueError, match=r"jit_compile='on' under MirroredStrategy.*GPU"):
        GANTrainer(
            small_step_config(1, batch_size=8, jit_compile="on"), two_cpu_strategy(), tmp_path
        )
    trainer = GANTrainer(small_step_config(1, batch_size=8), two_cpu_strategy(), tmp_path / "auto")
    assert not trainer.train_step.jit_compile


def test_global_batch_must_split_over_the_replicas(tmp_path):
    with pytest.raises(ValueError, match=r"batch_size=7 does not split over the 2 replicas.*XLA"):
        GANTrainer(small_step_config(1, batch_size=7), two_cpu_strategy(), tmp_path)


def test_pipeline_batches_are_full_and_static(tmp_path):
    """drop_remainder: batches have a static size (as XLA needs), and each replica gets a full
    share of the global batch."""
    one = GANTrainer(small_step_config(1, batch_size=6), make_strategy(), tmp_path / "one")
    images_spec, labels_spec = one.dataset.element_spec
    assert images_spec.shape.as_list() == [6, 32, 32, 3] and labels_spec.shape.as_list() == [6]
    two = GANTrainer(small_step_config(1, batch_size=6), two_cpu_strategy(), tmp_path / "two")
    images, labels = next(iter(two.dataset))
    for replica_images in two.strategy.experimental_local_results(images):
        assert replica_images.shape.as_list() == [3, 32, 32, 3]


@pytest.mark.integration
def test_binary_trains_two_compiled_steps(tmp_path):
    train_two_steps_through_the_binary(
        tmp_path,
        "experiments/configs/ylg_digits32.py:variant=no_attention",
        8,
        "--config.train.jit_compile=on",
    )
