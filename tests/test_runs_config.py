"""The run config: Keras-free config files, `config.json` versions, old runs resuming."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from test_runs_recovery import tiny_config, train

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


def test_config_json_round_trip_carries_the_version():
    config = default_config()
    config.model.g_attention_resolution = (16, 32)
    text = config_to_json(config)
    assert json.loads(text)["version"] == CONFIG_VERSION
    again = config_from_json(text)
    assert again.model.g_attention_resolution == (16, 32)
    assert config_to_json(again) == text


def test_a_config_json_from_a_newer_release_is_refused_by_version():
    content = json.loads(config_to_json(default_config()))
    content["version"] = CONFIG_VERSION + 1
    with pytest.raises(ValueError, match=f"version {CONFIG_VERSION + 1}"):
        config_from_json(json.dumps(content))


def todays_config_json(config):
    """`config.json` as the release before versions wrote it: sorted fields, no `version`."""
    return json.dumps(json.loads(config.to_json_best_effort()), indent=2, sort_keys=True) + "\n"


def test_a_run_with_a_config_json_of_the_previous_format_resumes(tmp_path):
    workdir = tmp_path / "old"
    train(workdir, 2)
    (workdir / "config.json").write_text(todays_config_json(tiny_config(2)))
    old = RunDirectory(workdir).read_config()
    assert old.model.g_base_channels == 16
    trainer = GANTrainer(tiny_config(4), make_strategy("default"), workdir)
    trainer.close()
    assert int(trainer.step.numpy()) == 2
    assert json.loads((workdir / "config.json").read_text())["version"] == CONFIG_VERSION
