"""The run configuration: every field a training run reads, with defaults and validation.

Experiment files under `experiments/configs/` start from `default_config()` and override fields;
the binary saves the resolved config as `config.json` in the run directory.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import ml_collections
from ml_collections import config_dict

from ylg_tf.models.architecture import (
    DEFAULT_ATTENTION_RESOLUTION,
    RESOLUTIONS,
    attention_resolutions,
    discriminator_resolutions,
    generator_resolutions,
    place_blocks,
)
from ylg_tf.models.factory import generator_spectral_norm
from ylg_tf.models.variants import get_variant

MIXED_PRECISION = ("", "bfloat16", "float16")


def default_config() -> ml_collections.ConfigDict:
    """A small YLG model on the embedded digits at 32x32 (the README's main job)."""
    config = ml_collections.ConfigDict()
    config.seed = 0

    config.data = ml_collections.ConfigDict()
    config.data.name = "digits"  # "digits", a tfds name ("cifar10", "lsun/bedroom"), "folder:/path"
    config.data.resolution = 32
    config.data.split = "train"
    config.data.data_dir = ""  # tfds data directory ("" = tfds default)
    config.data.manual_dir = ""  # tfds manual download directory (imagenet2012)
    config.data.strict = False  # image folders: reject unreadable files instead of skipping

    config.model = ml_collections.ConfigDict()
    config.model.variant = "ylg"
    config.model.z_dim = 128
    config.model.g_base_channels = 64
    config.model.d_base_channels = 64
    # 0 = the architecture's default for the resolution; an int, or a tuple of resolutions for
    # one G attention layer after each (e.g. (16, 32) for GANformer at several scales).
    config.model.g_attention_resolution = config_dict.FieldReference(0, field_type=object)
    config.model.d_attention_resolution = 0
    # SAGAN's ablation axes (Table 1, Figures 3/4). Feature resolutions: a 32x32 G's blocks output
    # 8, 16, 32, its D's 16, 8, 8, 8 (ylg_tf.models.architecture).
    # "Residual" control: one extra non-resampling residual block of the same width after the
    # block that outputs this resolution; 0 = none. Not where that network has attention (use
    # variant="no_attention" for Table 1's residual columns).
    config.model.g_residual_resolution = 0
    config.model.d_residual_resolution = 0
    # "g_and_d" (SAGAN) or "d_only" (SAGAN's baseline: G without spectral norm).
    config.model.spectral_norm = "g_and_d"
    config.model.bn_momentum = 0.99

    config.train = ml_collections.ConfigDict()
    config.train.steps = 2000
    config.train.batch_size = 64  # global batch, split over replicas
    # TTUR (REFERENCE.md §1): g_lr = 1e-4, d_lr = 4e-4, d_steps = 1. SAGAN's "1:1 balanced
    # updates" baseline with equal learning rates (Figures 3/4): g_lr = d_lr = 1e-4, d_steps = 1.
    config.train.d_steps = 1  # D updates per G update
    config.train.g_lr = 1e-4
    config.train.d_lr = 4e-4
    config.train.beta1 = 0.0
    config.train.beta2 = 0.9
    config.train.ema_decay = 0.999  # 0 disables the EMA generator
    config.train.ema_start = 0  # step from which the EMA averages
    config.train.steps_per_call = 1  # train steps per tf.function call (raise on accelerators)
    config.train.mixed_precision = ""  # "", "bfloat16" or "float16"
    config.train.deterministic = False  # tf.config.experimental.enable_op_determinism
    config.train.log_every = 50
    config.train.sample_every = 500
    config.train.checkpoint_every = 500
    config.train.keep_checkpoints = 3

    # FID / IS / KID of the EMA generator (ylg_tf.evaluation), also used by ylg-eval.
    config.eval = ml_collections.ConfigDict()
    config.eval.every = 0  # steps between evaluations during training; 0 = off
    config.eval.num_samples = 1000  # real (at most the split's size) and generated images
    config.eval.classifier = "auto"  # "auto", "digits", "inception", "inception:/dir|.tar.gz|URL"
    config.eval.batch_size = 100
    config.eval.kid_block_size = 1024  # TF-GAN's KID max_block_size
    config.eval.cache_dir = ""  # classifier and real-statistics cache; "" = <workdir>/../.ylg_cache
    return config


def import_file(path: str | Path) -> ModuleType:
    """A Python file as a module, by path: a config file (its `get_config` and the tables it
    defines, like the ablation's `ARMS`) or an experiment script, as ylg-train would load it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No Python file at {path}.")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parse_config_arg(arg: str | None, defaults: dict) -> dict:
    """A config file's `"k=v,k2=v2"` argument -> `defaults` updated, values typed like them.

    Unknown keys are an error, so that a typo cannot silently run the default experiment.
    """
    values = dict(defaults)
    for item in filter(None, (arg or "").split(",")):
        key, _, value = item.partition("=")
        if key not in defaults:
            raise ValueError(f"Unknown config arg {key!r}; accepted: {sorted(defaults)}.")
        kind = type(defaults[key])
        values[key] = value.lower() in ("1", "true", "yes") if kind is bool else kind(value)
    return values


def saved_config(saved: dict) -> ml_collections.ConfigDict:
    """A run's saved `config.json` content over `default_config()`.

    Fields the run predates take their defaults, so runs keep loading and resuming after a
    release adds a field (the defaults keep the models of earlier releases unchanged).
    """
    config = default_config()
    for section, values in saved.items():
        if isinstance(values, dict) and section in config:
            for field, value in values.items():
                config[section][field] = tuple(value) if isinstance(value, list) else value
        else:
            config[section] = values
    return config


def validate(config: ml_collections.ConfigDict) -> None:
    """Rejects a config that cannot run, naming the bad field and its accepted values."""
    get_variant(config.model.variant)
    if config.data.resolution not in RESOLUTIONS:
        raise ValueError(
            f"config.data.resolution={config.data.resolution!r}; expected one of {RESOLUTIONS}."
        )
    _validate_model(config.model, config.data.resolution)
    if config.train.mixed_precision not in MIXED_PRECISION:
        raise ValueError(
            f"config.train.mixed_precision={config.train.mixed_precision!r}; "
            f"expected one of {MIXED_PRECISION}."
        )
    for field in ("steps", "batch_size", "d_steps", "steps_per_call", "log_every"):
        value = config.train[field]
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"config.train.{field}={value!r}; expected an integer >= 1.")
    if not 0.0 <= config.train.ema_decay < 1.0:
        raise ValueError(f"config.train.ema_decay={config.train.ema_decay!r}; expected [0, 1).")
    if "eval" in config:
        _validate_eval(config.eval)


def _validate_model(model: ml_collections.ConfigDict, resolution: int) -> None:
    """Attention and residual-control placement and spectral norm, with the models' own rules.

    Fields newer than a saved `config.json` take their defaults, as in `ylg_tf.models.factory`.
    """
    spec = get_variant(model.variant)
    generator_spectral_norm(model.get("spectral_norm", "g_and_d"))
    g_fields = ("config.model.g_attention_resolution", "config.model.g_residual_resolution")
    place_blocks(
        generator_resolutions(resolution),
        attention_resolutions(model.g_attention_resolution, resolution, g_fields[0]),
        model.get("g_residual_resolution", 0),
        has_attention=spec.has_attention,
        fields=g_fields,
    )
    place_blocks(
        discriminator_resolutions(resolution),
        [model.d_attention_resolution or DEFAULT_ATTENTION_RESOLUTION[resolution]],
        model.get("d_residual_resolution", 0),
        has_attention=spec.has_attention and spec.in_discriminator,
        fields=("config.model.d_attention_resolution", "config.model.d_residual_resolution"),
    )


def _validate_eval(settings: ml_collections.ConfigDict) -> None:
    for field, least in (
        ("every", 0),
        ("num_samples", 2),
        ("batch_size", 1),
        ("kid_block_size", 2),
    ):
        value = settings[field]
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ValueError(f"config.eval.{field}={value!r}; expected an integer >= {least}.")
    spec = settings.classifier
    if spec not in ("auto", "digits", "inception") and not (
        isinstance(spec, str) and spec.startswith("inception:") and len(spec) > len("inception:")
    ):
        raise ValueError(
            f"config.eval.classifier={spec!r}; expected 'auto', 'digits', 'inception' or "
            "'inception:<SavedModel dir | .tar.gz | https URL>'."
        )
