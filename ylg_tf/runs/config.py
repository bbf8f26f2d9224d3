"""The run configuration: every field a run reads, its defaults, and its `config.json` form.

Experiment files under `experiments/configs/` start from `default_config()` and override fields;
the training binary saves the resolved config as `config.json` in the run directory, with a
`version`; `config_from_json` reads every version (older ones through `migrate`).

This module imports neither Keras nor TensorFlow, so that reading a config file is instant and
works on a machine without them; the checks against the model zoo's rules are in
`ylg_tf.runs.validation`, applied where a config is read (`RunDirectory.read_config`), and with
`config.eval`'s in `ylg_tf.training.validate`, applied by what trains (`GANTrainer`, the JAX
engine).
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import ml_collections
from ml_collections import config_dict

#: The `config.json` format written today. 1: written before the field existed (no `version`);
#: 2: the model's fields flat in `model` (`g_base_channels`, `spectral_norm="d_only"`, ...).
CONFIG_VERSION = 3

#: Version 2's flat `model` fields -> (section, field) of version 3.
_FLAT_MODEL_FIELDS = {
    "z_dim": ("generator", "z_dim"),
    "bn_momentum": ("generator", "bn_momentum"),
    "g_base_channels": ("generator", "base_channels"),
    "g_attention_resolution": ("generator", "attention_resolution"),
    "g_residual_resolution": ("generator", "residual_resolution"),
    "d_base_channels": ("discriminator", "base_channels"),
    "d_attention_resolution": ("discriminator", "attention_resolution"),
    "d_residual_resolution": ("discriminator", "residual_resolution"),
}


#: `config.train.augment`'s DiffAugment policies (`ylg_tf.training.augment` applies them).
AUGMENT_POLICIES = ("color", "translation", "cutout")


def parse_augment_policy(policy: str | Sequence[str] | None) -> tuple[str, ...]:
    """`"color,translation,cutout"` (or a list of names) -> the tuple of names, in order.

    None, `""` and `"none"` mean no augmentation (an empty tuple).

    Raises:
      ValueError: a name is not one of `AUGMENT_POLICIES`.
    """
    if policy is None:
        return ()
    if isinstance(policy, str):
        if policy.strip().lower() == "none":
            return ()
        policy = policy.split(",")
    names = tuple(name.strip() for name in policy if name.strip())
    unknown = [name for name in names if name not in AUGMENT_POLICIES]
    if unknown:
        raise ValueError(
            f"unknown DiffAugment policy {', '.join(map(repr, unknown))}; accepted: a comma-"
            f"separated list of {', '.join(AUGMENT_POLICIES)}, or 'none'"
        )
    return names


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

    # `model.generator` and `model.discriminator` hold the constructors' own arguments
    # (`ylg_tf.models.Generator`, `Discriminator`); the variant, resolution and classes are shared.
    config.model = ml_collections.ConfigDict()
    config.model.variant = "ylg"
    config.model.generator = ml_collections.ConfigDict()
    config.model.generator.z_dim = 128
    config.model.generator.base_channels = 64
    # 0 = the architecture's default for the resolution; an int, or a tuple of resolutions for
    # one G attention layer after each (e.g. (16, 32) for GANformer at several scales).
    config.model.generator.attention_resolution = config_dict.FieldReference(0, field_type=object)
    # SAGAN's ablation axes (Table 1, Figures 3/4). Feature resolutions: a 32x32 G's blocks output
    # 8, 16, 32, its D's 16, 8, 8, 8 (ylg_tf.models.architecture).
    # "Residual" control: one extra non-resampling residual block of the same width after the
    # block that outputs this resolution; 0 = none. Not where that network has attention (use
    # variant="no_attention" for Table 1's residual columns).
    config.model.generator.residual_resolution = 0
    # False: SAGAN's baseline, G without spectral norm (D always has it).
    config.model.generator.spectral_norm = True
    config.model.generator.bn_momentum = 0.99
    config.model.discriminator = ml_collections.ConfigDict()
    config.model.discriminator.base_channels = 64
    config.model.discriminator.attention_resolution = 0
    config.model.discriminator.residual_resolution = 0

    config.train = ml_collections.ConfigDict()
    config.train.steps = 2000
    config.train.batch_size = 64  # global batch, split over replicas
    # TTUR (docs/background.md): g_lr = 1e-4, d_lr = 4e-4, d_steps = 1. SAGAN's "1:1 balanced
    # updates" baseline with equal learning rates (Figures 3/4): g_lr = d_lr = 1e-4, d_steps = 1.
    config.train.d_steps = 1  # D updates per G update
    config.train.g_lr = 1e-4
    config.train.d_lr = 4e-4
    config.train.beta1 = 0.0
    config.train.beta2 = 0.9
    config.train.ema_decay = 0.999  # 0 disables the EMA generator
    config.train.ema_start = 0  # step from which the EMA averages
    # The EMA generator's own batch-norm statistics ("standing statistics", BigGAN): averaged over
    # this many batches in training mode before it is sampled, scored or saved; 0 = the raw G's.
    config.train.ema_standing_batches = 16
    config.train.steps_per_call = 1  # train steps per tf.function call (raise on accelerators)
    config.train.mixed_precision = ""  # "", "bfloat16" or "float16"
    config.train.deterministic = False  # tf.config.experimental.enable_op_determinism
    # XLA-compile each replica's update: "auto" (on under TPUStrategy, which always compiles with
    # XLA; off elsewhere), "on" (one CPU or GPU, or mirrored/multi-worker over GPUs only) or "off".
    config.train.jit_compile = "auto"
    # DiffAugment (ylg_tf.training.augment) of real and fake images before D, in the D and G
    # steps: "" (off) or a comma-separated policy among color, translation, cutout.
    config.train.augment = ""
    # Adaptive discriminator augmentation (ylg_tf.training.ada; Karras et al. 2020): D's real and
    # fake inputs pass through the ADA pipeline with probability p, which starts at 0 and moves
    # every `ada_interval` steps by batch * interval / `ada_speed_images` towards keeping the
    # overfitting heuristic r_t = E[sign(D(real))] at `ada_target`. 0 = off (the paper: 0.6,
    # every 4 steps, 500k images from 0 to 1). Not with `augment`.
    config.train.ada_target = 0.0
    config.train.ada_interval = 4
    config.train.ada_speed_images = 500_000
    config.train.log_every = 50
    config.train.sample_every = 500
    config.train.checkpoint_every = 500
    config.train.keep_checkpoints = 3

    # FID / IS / KID and more of the EMA generator (ylg_tf.evaluation), also used by ylg-eval.
    config.eval = ml_collections.ConfigDict()
    config.eval.every = 0  # steps between evaluations during training; 0 = off
    config.eval.num_samples = 1000  # real (at most the split's size) and generated images
    config.eval.classifier = "auto"  # "auto", "digits", "inception", "inception:/dir|.tar.gz|URL"
    # Metric protocol (ylg_tf.evaluation.protocols): "auto" (digits for the digits classifier,
    # else "tfgan": bilinear 299, as TF-GAN), "tfgan", "clean" (antialiased resize) or "digits".
    config.eval.protocol = "auto"
    config.eval.prdc_nearest_k = 5  # k of precision / recall / density / coverage; 0 = off
    config.eval.intra_fid = True  # per-class FID of conditional models, and its mean
    config.eval.fid_infinity = False  # FID extrapolated to infinitely many samples (15 FIDs more)
    config.eval.judge = True  # the digits judge's accuracy on conditional samples (digits only)
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


def migrate(saved: dict) -> dict:
    """A `config.json` of any version -> the current version's content (without `version`).

    Version 1 (no `version` key) is version 2 less fields added since, which take their defaults
    in `config_from_json` (they keep earlier releases' models unchanged). Version 2 kept the model
    fields flat (`g_base_channels`, `spectral_norm="g_and_d" | "d_only"`); they move to
    `model.generator` / `model.discriminator` under the constructors' argument names.
    """
    saved = dict(saved)
    version = saved.pop("version", 1)
    if not isinstance(version, int) or not 1 <= version <= CONFIG_VERSION:
        raise ValueError(
            f"config.json has version {version!r}; this release reads versions 1 to "
            f"{CONFIG_VERSION} (a newer release wrote it?)."
        )
    if version < 3 and isinstance(saved.get("model"), dict):
        flat = dict(saved["model"])
        model = {"generator": {}, "discriminator": {}}
        for field, value in flat.items():
            if field in _FLAT_MODEL_FIELDS:
                section, name = _FLAT_MODEL_FIELDS[field]
                model[section][name] = value
            elif field == "spectral_norm":
                if value not in ("g_and_d", "d_only"):
                    raise ValueError(
                        f"config.json: model.spectral_norm={value!r}; expected 'g_and_d' or "
                        "'d_only'."
                    )
                model["generator"]["spectral_norm"] = value == "g_and_d"
            else:
                model[field] = value
        saved["model"] = model
    return saved


def config_from_json(text: str) -> ml_collections.ConfigDict:
    """A run's `config.json` text (any version) over `default_config()`.

    Fields the run predates take their defaults, so runs keep loading and resuming after a
    release adds a field.
    """
    config = default_config()
    _merge(config, migrate(json.loads(text)))
    return config


def _merge(config: ml_collections.ConfigDict, values: dict) -> None:
    """`values` (parsed JSON) into `config`, section by section; lists become tuples."""
    for field, value in values.items():
        if isinstance(value, dict) and isinstance(config.get(field), ml_collections.ConfigDict):
            _merge(config[field], value)
        else:
            config[field] = tuple(value) if isinstance(value, list) else value


def config_to_json(config: ml_collections.ConfigDict) -> str:
    """The `config.json` text of a config: its fields, sorted, and `version`."""
    content = json.loads(config.to_json_best_effort())
    content["version"] = CONFIG_VERSION
    return json.dumps(content, indent=2, sort_keys=True) + "\n"


def sections(config: ml_collections.ConfigDict, *names: str) -> dict:
    """Plain-JSON content of some sections, for comparing a config with a saved one."""
    content = json.loads(config.to_json_best_effort())
    return {name: content.get(name) for name in names}
