"""The ablation runner (experiments/ablation.py) and its run config (configs/ablation.py)."""

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from weights_util import assert_shared_identical

from ylg_tf import models
from ylg_tf.models.seeding import logical_paths
from ylg_tf.models.variants import VARIANTS
from ylg_tf.runs.config import import_file
from ylg_tf.runs.validation import validate

ROOT = Path(__file__).resolve().parents[1]
NUM_CLASSES = 10  # the digits
config_file = import_file(ROOT / "experiments" / "configs" / "ablation.py")
runner = import_file(ROOT / "experiments" / "ablation.py")


def test_the_variant_study_covers_every_registered_variant():
    assert list(config_file.STUDIES["variants"]) == list(VARIANTS)
    assert len(VARIANTS) >= 11


@pytest.mark.parametrize("arm", sorted(config_file.ARMS))
def test_every_arm_is_a_valid_config_that_applies_its_overrides(arm):
    config = config_file.get_config(f"arm={arm},seed=2,steps=10,eval_every=5")
    validate(config)
    assert (config.seed, config.train.steps, config.eval.every) == (2, 10, 5)
    values = _flat(config.to_dict())
    for key, value in config_file.ARMS[arm].overrides.items():
        assert values[key] == value, key


def _flat(values: dict, prefix: str = "") -> dict:
    """A nested config dict by dotted field name."""
    flat = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def test_arms_differ_from_the_default_run_only_in_their_overrides():
    base = _flat(config_file.get_config("arm=no_attention").to_dict())
    config = _flat(config_file.get_config("arm=sn_d_only_equal_lr").to_dict())
    changed = {name for name in base if base[name] != config[name]}
    assert changed == {"model.generator.spectral_norm", "train.d_lr"}


def _initial_weights(arm: str, seed: int) -> dict[str, dict[str, np.ndarray]]:
    """The initial values of G's and D's weights by logical path, built as `ylg-train` builds
    them from the study's config of `arm`."""
    config = config_file.get_config(f"arm={arm},seed={seed}")
    built = {
        "G": models.build_generator(config, NUM_CLASSES),
        "D": models.build_discriminator(config, NUM_CLASSES),
    }
    values = {}
    for name, model in built.items():
        paths = logical_paths(model)
        values[name] = {paths[id(weight)]: np.array(weight.numpy()) for weight in model.weights}
    return values


@pytest.fixture(scope="module")
def initial_weights():
    arms = ("no_attention", "ylg", "sagan", "sn_d_only_equal_lr", "sn_gd_equal_lr")
    weights = {(arm, 3): _initial_weights(arm, 3) for arm in arms}
    weights["ylg", 4] = _initial_weights("ylg", 4)
    return weights


@pytest.mark.parametrize("model", ["G", "D"])
def test_attention_arms_start_from_the_same_weights_except_attention(initial_weights, model):
    plain = initial_weights["no_attention", 3][model]
    ylg, sagan = initial_weights["ylg", 3][model], initial_weights["sagan", 3][model]
    only_plain, only_ylg = assert_shared_identical(plain, ylg)
    assert not only_plain and only_ylg
    assert all(path.startswith("attention/") for path in only_ylg), only_ylg
    # SAGAN's and YLG's attention layers have the same weights; only their masks differ.
    assert assert_shared_identical(ylg, sagan) == (set(), set())
    # The seed matters: another seed starts every random weight elsewhere.
    other = initial_weights["ylg", 4][model]
    moved = [path for path in ylg if np.std(ylg[path]) > 0 and np.any(ylg[path] != other[path])]
    random = [path for path in ylg if np.std(ylg[path]) > 0]
    assert moved == random and len(random) > 10


def test_spectral_norm_arms_start_from_the_same_weights(initial_weights):
    d_only, g_and_d = initial_weights["sn_d_only_equal_lr", 3], initial_weights["sn_gd_equal_lr", 3]
    only_plain_g, only_sn_g = assert_shared_identical(d_only["G"], g_and_d["G"])
    assert not only_plain_g and only_sn_g
    assert all(path.endswith("/vector_u") for path in only_sn_g), only_sn_g
    assert assert_shared_identical(d_only["D"], g_and_d["D"]) == (set(), set())
    # And the stabilization arms share the attention study's reference arm's weights.
    assert assert_shared_identical(g_and_d["G"], initial_weights["no_attention", 3]["G"]) == (
        set(),
        set(),
    )


def test_unknown_arm_and_study_are_rejected_by_name():
    with pytest.raises(ValueError, match="'nope'"):
        config_file.get_config("arm=nope")
    with pytest.raises(ValueError, match="'nope'"):
        runner.study_arms(["nope"], [])
    with pytest.raises(ValueError, match="nope"):
        runner.study_arms(["variants"], ["nope"])


def test_study_arms_are_listed_once_in_table_order():
    arms = runner.study_arms(["sagan_placement", "sagan_stabilization"], [])
    assert arms[0] == "no_attention" and arms.count("no_attention") == 1
    assert arms[-2:] == ["sn_d_only_equal_lr", "sn_gd_equal_lr"]
    assert runner.study_arms(["variants"], ["ylg", "sagan"]) == ["sagan", "ylg"]


def _protocol(name: str = "digits", generated: int = 12) -> dict:
    """A protocol record as the evaluator writes one."""
    return {
        "name": name,
        "backbone": {"name": "digits", "weights": "model.keras sha256:0123456789", "features": 128},
        "resize": {"method": "bilinear", "antialias": False, "quantize_8bit": False, "size": 32},
        "reference": {"dataset": "digits", "split": "train", "resolution": 32, "count": 12},
        "generated": generated,
    }


def _write_evals(
    root: Path,
    arm: str,
    seed: int,
    fids: list[float],
    is_: float,
    kid: float,
    protocol: dict | None = None,
    **extra: float,
):
    for k, fid in enumerate(fids, 1):
        score = {"step": 10 * k, "fid": fid, "is": is_, "kid": kid, "num_generated": 12}
        score.update(extra, protocol=protocol or _protocol())
        path = root / arm / f"seed_{seed}" / "eval" / f"step_{10 * k:07d}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(score))


def test_summary_is_mean_and_sample_std_over_finished_seeds(tmp_path):
    _write_evals(tmp_path, "ylg", 0, [90.0, 50.0, 60.0], 5.0, 0.010)
    _write_evals(tmp_path, "ylg", 1, [80.0, 70.0, 40.0], 7.0, 0.030)
    _write_evals(tmp_path, "ylg", 2, [85.0], 9.0, 0.5)  # unfinished: left out
    row = runner.summarize(tmp_path, ["ylg", "sagan"], seeds=3, steps=30)["ylg"]
    assert row["seeds"] == 2
    np.testing.assert_allclose(row["fid"], [60.0, 40.0])
    np.testing.assert_allclose(row["best_fid"], [50.0, 40.0])
    np.testing.assert_allclose(row["fid_curves"].mean(0), [85.0, 60.0, 50.0])
    # Hand-worked: FID 60 and 40 -> mean 50, sample std sqrt(200) = 14.14.
    assert runner.mean_std(row["fid"], 1) == "50.0 ± 14.1"
    assert runner.mean_std(np.array([3.0]), 2) == "3.00"  # one seed: no spread to show
    # Scored at an earlier evaluation: the scores there, the curves up to there.
    early = runner.summarize(tmp_path, ["ylg"], seeds=3, steps=20)["ylg"]
    np.testing.assert_allclose(early["fid"], [50.0, 70.0])
    np.testing.assert_allclose(early["fid_curves"], [[90.0, 50.0], [80.0, 70.0]])


def _arm_rows(lines: list[str]) -> dict[str, str]:
    """Arm -> its row of the main table (the lines after the one-line header, to a blank)."""
    table = lines[: lines.index("", 2)]
    return {line.split(" | ")[0][2:]: line for line in table if line.startswith("| ")}


def test_study_table_pairs_each_arm_with_the_first_by_seed(tmp_path):
    _write_evals(tmp_path, "no_attention", 0, [100.0], 4.0, 0.5)
    _write_evals(tmp_path, "no_attention", 1, [200.0], 4.0, 0.5)
    _write_evals(tmp_path, "ylg", 0, [90.0], 5.0, 0.2)
    _write_evals(tmp_path, "ylg", 1, [170.0], 7.0, 0.4)
    _write_evals(tmp_path, "sagan", 1, [150.0], 6.0, 0.3)  # seed 0 unfinished
    summary = runner.summarize(tmp_path, ["no_attention", "ylg", "sagan"], seeds=2, steps=10)
    runner.write_study_table(tmp_path / "variants", "variants", summary, "# header")
    lines = (tmp_path / "variants.md").read_text().splitlines()
    rows = _arm_rows(lines)
    # ylg - no_attention: -10 and -30 -> -20 +- 14.1 (their FIDs alone: 130 +- 56.6).
    assert "| 130.0 ± 56.6 | -20.0 ± 14.1 |" in rows["ylg"] and "15.94 / 57.22" in rows["ylg"]
    assert "| 150.0 | -50.0 |" in rows["sagan"] and "| reference |" in rows["no_attention"]
    assert "| 6.00 ± 1.41 | 0.3 ± 0.1 |" in rows["ylg"]  # IS, KID
    with open(tmp_path / "variants.csv") as file:
        records = {record["arm"]: record for record in csv.DictReader(file)}
    assert float(records["ylg"]["fid_minus_reference_mean"]) == -20.0
    assert float(records["ylg"]["is_std"]) == pytest.approx(np.sqrt(2), 1e-6)
    assert records["sagan"]["seeds"] == "1" and records["sagan"]["fid_std"] == "nan"


def test_report_refuses_scores_of_different_protocols(tmp_path):
    _write_evals(tmp_path, "no_attention", 0, [100.0, 90.0], 4.0, 0.5)
    _write_evals(tmp_path, "ylg", 0, [100.0], 4.0, 0.5)
    _write_evals(tmp_path, "ylg", 0, [100.0, 80.0], 4.0, 0.5, protocol=_protocol("clean"))
    with pytest.raises(
        ValueError,
        match="different protocols.*no_attention seed 0 step 10 and "
        "ylg seed 0 step 10 differ in name: 'digits' != 'clean'",
    ):
        runner.summarize(tmp_path, ["no_attention", "ylg"], seeds=1, steps=20)
    _write_evals(tmp_path, "ylg", 0, [100.0, 80.0], 4.0, 0.5, protocol=_protocol(generated=24))
    with pytest.raises(ValueError, match="differ in generated: 12 != 24"):
        runner.summarize(tmp_path, ["no_attention", "ylg"], seeds=1, steps=20)
    path = tmp_path / "ylg" / "seed_0" / "eval" / "step_0000020.json"
    score = json.loads(path.read_text())
    del score["protocol"]  # a score file from before protocols were recorded
    path.write_text(json.dumps(score))
    _write_evals(tmp_path, "ylg", 0, [100.0], 4.0, 0.5)
    with pytest.raises(ValueError, match="differ in protocol: .* != None"):
        runner.summarize(tmp_path, ["no_attention", "ylg"], seeds=1, steps=20)
    _write_evals(tmp_path, "ylg", 0, [100.0, 80.0], 4.0, 0.5)
    summary = runner.summarize(tmp_path, ["no_attention", "ylg"], seeds=1, steps=20)
    assert summary["ylg"]["protocol"] == _protocol()


def test_table_shows_the_scores_beyond_fid_that_runs_recorded(tmp_path):
    for seed, (precision, judge) in enumerate([(0.5, 0.9), (0.7, 0.8)]):
        _write_evals(tmp_path, "no_attention", seed, [100.0], 4.0, 0.5)
        _write_evals(
            tmp_path, "ylg", seed, [90.0], 5.0, 0.2, precision=precision, judge_accuracy=judge
        )
    summary = runner.summarize(tmp_path, ["no_attention", "ylg"], seeds=2, steps=10)
    runner.write_study_table(tmp_path / "variants", "variants", summary, "# header")
    lines = (tmp_path / "variants.md").read_text().splitlines()
    assert "| KID | precision | judge_accuracy | G_ema abs(gamma) |" in lines[2]
    rows = _arm_rows(lines)
    # Hand-worked: precision 0.5, 0.7 -> 0.60 +- 0.14; judge 0.9, 0.8 -> 0.850 +- 0.071.
    assert "| 0.2 ± 0.0 | 0.60 ± 0.14 | 0.850 ± 0.071 |" in rows["ylg"]
    assert "| 0.5 ± 0.0 | – | – |" in rows["no_attention"]
    with open(tmp_path / "variants.csv") as file:
        records = {record["arm"]: record for record in csv.DictReader(file)}
    assert float(records["ylg"]["judge_accuracy_mean"]) == pytest.approx(0.85)
    assert records["no_attention"]["precision_mean"] == "nan"
    runner.write_runs_csv(tmp_path / "runs.csv", tmp_path, ["ylg"], seeds=1)
    with open(tmp_path / "runs.csv") as file:
        (record,) = csv.DictReader(file)
    assert (record["precision"], record["recall"], record["protocol"]) == ("0.5", "", "digits")


def _write_checkpoint(root: Path, arm: str, seed: int, step: int, weights: dict) -> None:
    """A checkpoint laid out as training writes one: per slot, a dict of weights by path."""
    import tensorflow as tf

    slots = {
        f"{slot}_weights": {path: tf.Variable(value) for path, value in paths.items()}
        for slot, paths in weights.items()
    }
    tf.train.Checkpoint(**slots).write(
        str(root / arm / f"seed_{seed}" / "checkpoints" / f"ckpt-{step}")
    )


def test_table_shows_attention_gammas_and_the_paired_detectable_difference(tmp_path):
    for seed, (plain, ylg) in enumerate([(80.0, 70.0), (120.0, 100.0)]):
        _write_evals(tmp_path, "no_attention", seed, [100.0, plain], 4.0, 0.5)
        _write_evals(tmp_path, "ylg", seed, [100.0, ylg], 4.0, 0.5)
        _write_checkpoint(
            tmp_path, "no_attention", seed, 20, {"ema_generator": {"block_0/bn/gamma": [3.0]}}
        )
    for seed, (g_ema, d) in enumerate([(-0.02, 0.5), (0.04, 0.3)]):
        weights = {
            # Batch-norm gammas and the raw G (not the scored EMA G) are not the attention's.
            "generator": {"attention/gamma": 9.0},
            "ema_generator": {"attention/gamma": g_ema, "block_0/bn/gamma": [5.0, 6.0]},
            "discriminator": {"attention/gamma": d},
        }
        _write_checkpoint(tmp_path, "ylg", seed, 20, weights)
    _write_checkpoint(tmp_path, "ylg", 0, 10, {"discriminator": {"attention/gamma": 0.125}})
    summary = runner.summarize(tmp_path, ["no_attention", "ylg"], seeds=2, steps=20)
    runner.write_study_table(tmp_path / "variants", "variants", summary, "# header")
    lines = (tmp_path / "variants.md").read_text().splitlines()
    rows = _arm_rows(lines)
    # |gamma| of G_ema: 0.02 and 0.04 -> 0.030 +- 0.014; of D: 0.5 and 0.3 -> 0.400 +- 0.141.
    assert "| 0.030 ± 0.014 | 0.400 ± 0.141 |" in rows["ylg"]
    assert "| – | – |" in rows["no_attention"]
    # Hand-worked: d = -10, -20; mean -15, s_d = 7.07; 2 s_d / sqrt(2) = 10.0; to detect
    # 3 FID: (2 * 7.07 / 3)^2 = 22.2 -> 23 seeds.
    paired = [line for line in lines if line.startswith("| ylg | -10.0, -20.0 |")]
    assert paired == ["| ylg | -10.0, -20.0 | -15.0 | 7.1 | 2 | 10.0 | 23 |"]
    runner.write_runs_csv(tmp_path / "runs.csv", tmp_path, ["ylg"], seeds=1)
    with open(tmp_path / "runs.csv") as file:
        records = list(csv.DictReader(file))
    assert [(r["step"], r["g_gamma"], r["d_gamma"]) for r in records] == [
        ("10", "", "0.12500"),
        ("20", "0.02000", "0.50000"),
    ]


@pytest.mark.integration
def test_runner_trains_evaluates_reports_and_resumes(tmp_path, digits_cache, capsys):
    """Two steps of one arm end to end; a second call skips the finished run; a run stopped
    before its last evaluation is completed by ylg-eval."""
    shutil.copytree(digits_cache, tmp_path / "runs" / ".ylg_cache")
    command = [
        sys.executable,
        str(ROOT / "experiments" / "ablation.py"),
        f"--root={tmp_path / 'runs'}",
        f"--results={tmp_path / 'results'}",
        "--studies=sagan_stabilization",
        "--arms=sn_d_only_equal_lr",
        "--seeds=1",
        "--steps=2",
        "--eval_every=1",
        "--eval_samples=12",
        "--batch_size=4",
    ]
    first = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "0 done, 1 to run" in first.stdout
    run = tmp_path / "runs" / "sn_d_only_equal_lr" / "seed_0"
    assert sorted(p.name for p in (run / "eval").glob("step_*.json")) == [
        "step_0000001.json",
        "step_0000002.json",
    ]
    table = (tmp_path / "results" / "sagan_stabilization.md").read_text()
    assert "| sn_d_only_equal_lr |" in table and "181.84" in table
    assert "protocol `digits`: digits features (model.keras sha256:" in table  # the header
    assert "| precision | recall | density | coverage |" in table  # recorded by default
    assert (tmp_path / "results" / "sagan_stabilization_fid.png").stat().st_size > 1000

    # Again, in-process (the runner's `main`; its runs are still processes of their own).
    (run / "eval" / "step_0000002.json").unlink()
    assert "0 done, 1 to run" in _runner_main(command[2:], capsys)
    assert json.loads((run / "eval" / "step_0000002.json").read_text())["step"] == 2
    assert "ylg_tf.cli.evaluate" in (run / "train.log").read_text()
    assert "1 done, 0 to run" in _runner_main(command[2:], capsys)


def _runner_main(args, capsys) -> str:
    """The runner's `main` with `args` parsed as its flags; what it printed."""
    from absl import flags

    capsys.readouterr()
    flags.FLAGS(["ablation.py", *args])
    try:
        runner.main(["ablation.py"])
    finally:
        flags.FLAGS.unparse_flags()
    return capsys.readouterr().out
