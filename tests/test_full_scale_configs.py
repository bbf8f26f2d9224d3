"""The full-scale ImageNet 128x128 config: the paper's values on every hardware profile, and one
train call of each profile at reduced width on mocked ImageNet (no TPU, GPU or download here).

The configs are loaded as `ylg-train` loads them (absl `config_flags`, `file:arg` and
`--config.x=y` overrides), so a broken arg or override path fails here, not at launch.
"""

from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow_datasets as tfds
from absl import flags
from distribute_util import two_cpu_strategy
from ml_collections import config_flags

from ylg_tf.models import VARIANTS
from ylg_tf.runs.config import import_file
from ylg_tf.training import GANTrainer, make_strategy, validate

CONFIG = Path(__file__).resolve().parents[1] / "experiments" / "configs" / "imagenet128.py"
# hardware -> (replicas the global batch is split over, mixed precision); written out here, not
# read from the config, so that a changed profile must change this test too.
HARDWARE = {"tpu_v3_8": (8, "bfloat16"), "gpu8": (8, ""), "multi_worker": (16, "")}
VARIANTS_CHECKED = ("ylg", "sagan", "ylg_strided")


def load(arg: str = "", *overrides: str):
    """The config that `ylg-train --config=imagenet128.py:ARG OVERRIDES...` trains."""
    argv = ["ylg-train", f"--config={CONFIG}:{arg}" if arg else f"--config={CONFIG}", *overrides]
    flag_values = flags.FlagValues()
    config_flags.DEFINE_config_file(
        "config", None, "Run config file.", flag_values=flag_values, lock_config=True, sys_argv=argv
    )
    flag_values(argv)
    return flag_values.config


def config_module():
    return import_file(CONFIG)


@pytest.fixture
def restore_precision():
    """GANTrainer sets Keras's global dtype policy; later tests expect float32."""
    yield
    keras.mixed_precision.set_global_policy("float32")


def test_every_profile_is_tested():
    assert set(config_module().PROFILES) == set(HARDWARE)


@pytest.mark.parametrize("variant", VARIANTS_CHECKED)
@pytest.mark.parametrize("hardware", list(HARDWARE))
def test_paper_setup_on_every_profile(hardware, variant):
    config = load(f"hardware={hardware},variant={variant}")
    validate(config)
    data, model, train = config.data, config.model, config.train
    # docs/background.md, Training: ImageNet 128, batch 256, 1M steps, TTUR Adam, z dim 128
    assert (data.name, data.resolution, data.split) == ("imagenet2012", 128, "train")
    assert model.variant == variant and model.generator.z_dim == 128
    assert model.generator.base_channels == model.discriminator.base_channels == 64
    assert model.generator.attention_resolution == model.discriminator.attention_resolution == 32
    assert (train.batch_size, train.steps, train.d_steps) == (256, 1_000_000, 1)
    assert (train.g_lr, train.d_lr, train.beta1, train.beta2) == (1e-4, 4e-4, 0.0, 0.9)
    assert 0.999 <= train.ema_decay < 1.0 and train.ema_start < train.steps
    assert config.eval.classifier == "inception" and config.eval.num_samples >= 10_000
    for every in (config.eval.every, train.checkpoint_every, train.sample_every):
        assert 0 < every <= train.steps and train.steps % every == 0  # the last step is saved
    assert train.log_every % train.steps_per_call == 0  # calls are not cut short by logging


@pytest.mark.parametrize("hardware", list(HARDWARE))
def test_hardware_sets_precision_and_steps_per_call(hardware):
    replicas, precision = HARDWARE[hardware]
    config = load(f"hardware={hardware}")
    assert config.train.mixed_precision == precision
    assert config.train.steps_per_call > 1
    assert config.train.batch_size % replicas == 0  # 32 images per replica, 16 on 2 hosts
    assert config.train.batch_size // replicas >= 16


def test_every_registered_variant_gives_a_valid_config():
    for name in VARIANTS:
        config = load(f"variant={name}")
        validate(config)
        assert config.model.variant == name


def test_launch_overrides_and_bad_args():
    config = load(
        "hardware=gpu8",
        "--config.data.manual_dir=/data/imagenet",
        "--config.train.mixed_precision=float16",
    )
    assert config.data.manual_dir == "/data/imagenet" and config.train.mixed_precision == "float16"
    validate(config)
    get_config = config_module().get_config
    with pytest.raises(ValueError, match=r"'gpu4'.*tpu_v3_8"):
        get_config("hardware=gpu4")
    with pytest.raises(ValueError, match="'hw'"):
        get_config("hw=gpu8")
    config = get_config("variant=ylg3")
    with pytest.raises(ValueError, match="ylg3"):
        validate(config)


def _field(config, section: str, field: str):
    """`config`'s field in a section given by dotted name (`"model.generator"`)."""
    for name in section.split("."):
        config = config[name]
    return config[field]


@pytest.mark.parametrize("hardware", list(HARDWARE))
def test_reduced_keeps_the_setup_but_not_the_size(hardware):
    full, reduced = load(f"hardware={hardware}"), load(f"hardware={hardware},reduced=True")
    validate(reduced)
    replicas, _ = HARDWARE[hardware]
    for section, field in [
        ("data", "name"),
        ("data", "resolution"),
        ("model.generator", "attention_resolution"),
        ("model.discriminator", "attention_resolution"),
        ("train", "g_lr"),
        ("train", "d_lr"),
        ("train", "beta2"),
        ("train", "mixed_precision"),
    ]:
        assert _field(reduced, section, field) == _field(full, section, field), (section, field)

    assert reduced.model.generator.base_channels < full.model.generator.base_channels
    assert reduced.train.batch_size % replicas == 0 and reduced.train.steps <= 10
    assert reduced.train.steps_per_call > 1 and reduced.eval.every == 0  # no Inception download


def _one_call(hardware, variant, strategy, tmp_path):
    """Trains one `steps_per_call` call of the reduced config on mocked ImageNet 128x128."""
    batch = 2 * strategy.num_replicas_in_sync  # the profile's 8 or 16 replicas are not here
    config = load(f"hardware={hardware},variant={variant},reduced=True")
    config.train.batch_size = batch
    calls = config.train.steps_per_call
    with tfds.testing.mock_data(num_examples=4, policy=tfds.testing.MockPolicy.USE_CODE):
        trainer = GANTrainer(config, strategy, tmp_path / hardware)
        assert trainer.info.num_classes == 1000
        before = [w.numpy() for w in trainer.discriminator.trainable_weights]
        metrics = trainer.train(steps=calls)
    assert int(trainer.step.numpy()) == calls
    assert set(metrics) == {"d_loss", "g_loss", "d_real", "d_fake"}
    assert all(np.isfinite(v) for v in metrics.values())
    after = [w.numpy() for w in trainer.discriminator.trainable_weights]
    changed = sum(not np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    assert changed > len(after) // 2
    assert trainer.manager.latest_checkpoint.endswith(f"ckpt-{calls}")
    assert (trainer.workdir / "samples" / f"step_{calls:07d}.png").exists()
    return trainer


ONE_CALL = [
    pytest.param("tpu_v3_8", "sagan", id="tpu_v3_8-sagan", marks=pytest.mark.slow),
    pytest.param("tpu_v3_8", "ylg", id="tpu_v3_8-ylg", marks=pytest.mark.slow),
    pytest.param("gpu8", "ylg", id="gpu8-ylg", marks=pytest.mark.slow),
    pytest.param("multi_worker", "sagan", id="multi_worker-sagan", marks=pytest.mark.slow),
]


@pytest.mark.parametrize(("hardware", "variant"), ONE_CALL)
def test_one_train_call_per_profile(hardware, variant, tmp_path, restore_precision):
    # The TPU profile runs its bfloat16 on the CPU (slowly) under the default strategy: this
    # checks the profile's precision and steps-per-call loop, not TPUStrategy, which needs a TPU.
    # two_cpu_strategy stands in for the GPU profiles' 8 or 16 replicas (synchronized batch norm
    # included). All are slow (minutes at 128x128); the default suite trains bfloat16 and
    # steps_per_call > 1 at small sizes (test_train_step.py, test_xla_step.py).
    replicated = HARDWARE[hardware][1] == ""
    strategy = two_cpu_strategy() if replicated else make_strategy("default")
    trainer = _one_call(hardware, variant, strategy, tmp_path)
    policy = "float32" if replicated else "mixed_bfloat16"
    assert trainer.generator.dtype_policy.name == trainer.discriminator.dtype_policy.name == policy
    assert all(w.dtype == "float32" for w in trainer.generator.weights)  # float32 variables
    z, labels = np.zeros((2, 128), np.float32), np.array([0, 999], np.int32)
    images = trainer.sampler((z, labels), training=False)
    assert tuple(images.shape) == (2, 128, 128, 3)
