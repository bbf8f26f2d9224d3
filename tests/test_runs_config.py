"""The run config: Keras-free config files, `config.json` versions, old runs resuming."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from shared_runs import copy_run, tiny_config

from ylg_tf.runs.config import CONFIG_VERSION, config_from_json, config_to_json, default_config
from ylg_tf.runs.directory import RunDirectory
from ylg_tf.training import GANTrainer, make_strategy

REPO = Path(__file__).resolve().parents[1]


def test_reading_a_config_file_imports_neither_keras_nor_tensorflow():
    script = (
        "import sys\n"
        "from ylg_tf.runs import import_file\n"
        "config = import_file('experiments/configs/ylg_digits32.py').get_config()\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('keras', 'tensorflow'))\n"
        "print(config.model.variant, heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["ylg", "[]"]


def test_the_runs_package_imports_nothing_from_training_or_evaluation(shared_tiny_run):
    """`ylg_tf.runs` sits below the packages that train and score runs: importing all of it,
    checking a config and reading a run's config.json load none of them (today's code: the
    check imported both)."""
    script = (
        "import sys\n"
        "from ylg_tf.runs import checkpoints, directory, files, loading, lock, validation\n"
        "from ylg_tf.runs.config import default_config\n"
        "validation.validate(default_config())\n"
        f"directory.RunDirectory({str(shared_tiny_run)!r}).read_config()\n"
        "above = ('ylg_tf.training', 'ylg_tf.evaluation', 'ylg_tf.jax_engine')\n"
        "print(sorted(m for m in sys.modules if m.startswith(above)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines()[-1] == "[]"


def test_config_json_round_trip_carries_the_version():
    config = default_config()
    config.model.generator.attention_resolution = (16, 32)
    text = config_to_json(config)
    assert json.loads(text)["version"] == CONFIG_VERSION
    again = config_from_json(text)
    assert again.model.generator.attention_resolution == (16, 32)
    assert config_to_json(again) == text


def test_a_config_json_from_a_newer_release_is_refused_by_version():
    content = json.loads(config_to_json(default_config()))
    content["version"] = CONFIG_VERSION + 1
    with pytest.raises(ValueError, match=f"version {CONFIG_VERSION + 1}"):
        config_from_json(json.dumps(content))


def version_2_json(config, **model_overrides):
    """`config.json` as version 2 wrote it (written out by hand): the model's fields flat,
    `spectral_norm` a string."""
    content = json.loads(config.to_json_best_effort())
    g, d = content["model"]["generator"], content["model"]["discriminator"]
    content["model"] = {
        "variant": content["model"]["variant"],
        "z_dim": g["z_dim"],
        "bn_momentum": g["bn_momentum"],
        "g_base_channels": g["base_channels"],
        "d_base_channels": d["base_channels"],
        "g_attention_resolution": g["attention_resolution"],
        "d_attention_resolution": d["attention_resolution"],
        "g_residual_resolution": g["residual_resolution"],
        "d_residual_resolution": d["residual_resolution"],
        "spectral_norm": "g_and_d" if g["spectral_norm"] else "d_only",
        **model_overrides,
    }
    content["version"] = 2
    return content


def test_version_2_fields_move_to_the_constructors_names():
    config = default_config()
    config.model.generator.attention_resolution = (16, 32)
    config.model.discriminator.residual_resolution = 8
    config.model.generator.spectral_norm = False
    migrated = config_from_json(json.dumps(version_2_json(config)))
    assert config_to_json(migrated) == config_to_json(config)
    flat = version_2_json(default_config(), spectral_norm="g_only")
    with pytest.raises(ValueError, match="spectral_norm='g_only'; expected 'g_and_d'"):
        config_from_json(json.dumps(flat))


def test_a_run_with_a_config_json_of_version_2_resumes(shared_tiny_run, tmp_path):
    workdir = copy_run(shared_tiny_run, tmp_path / "old")
    (workdir / "config.json").write_text(json.dumps(version_2_json(tiny_config(2))))
    old = RunDirectory(workdir).read_config()
    assert old.model.generator.base_channels == 16
    trainer = GANTrainer(tiny_config(4), make_strategy("default"), workdir)
    trainer.close()
    assert int(trainer.step.numpy()) == 2
    assert json.loads((workdir / "config.json").read_text())["version"] == CONFIG_VERSION


def test_a_version_1_config_json_takes_the_defaults_of_later_fields(shared_tiny_run, tmp_path):
    """Version 1 had no `version`, residual controls or `spectral_norm`: they take defaults,
    and the run resumes; the same run asked with a non-default value is refused."""
    workdir = copy_run(shared_tiny_run, tmp_path / "old")
    content = version_2_json(tiny_config(2))
    del content["version"]
    for field in ("spectral_norm", "g_residual_resolution", "d_residual_resolution"):
        del content["model"][field]
    (workdir / "config.json").write_text(json.dumps(content))
    GANTrainer(tiny_config(4), make_strategy("default"), workdir).close()
    config = tiny_config(4)
    config.model.generator.spectral_norm = False
    with pytest.raises(ValueError, match="different `model`"):
        GANTrainer(config, make_strategy("default"), workdir)
