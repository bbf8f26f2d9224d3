"""experiments/seed_scores.py: the main job's table rows, its targets' summary and its picture."""

import json
import math
from pathlib import Path

import pytest
from absl import app, flags

from ylg_tf.runs.config import import_file

ROOT = Path(__file__).resolve().parents[1]
script = import_file(ROOT / "experiments" / "seed_scores.py")


def _scores(step, fid, recall, precision=0.95, judge=0.99):
    return {
        "step": step,
        "fid": fid,
        "is": 9.5,
        "kid": 12.34,
        "judge_accuracy": judge,
        "precision": precision,
        "recall": recall,
        "intra_fid": 70.0,
    }


def _run(root, name, *scores, extra=None):
    eval_dir = root / name / "eval"
    eval_dir.mkdir(parents=True)
    for entry in scores:
        (eval_dir / f"step_{entry['step']:07d}.json").write_text(json.dumps(entry))
    for file_name, entry in (extra or {}).items():
        (eval_dir / file_name).write_text(json.dumps(entry))
    return str(root / name)


def _main(capsys, *args):
    capsys.readouterr()
    flags.FLAGS(["seed_scores.py", *args])
    try:
        script.main(["seed_scores.py"])
    finally:
        flags.FLAGS.unparse_flags()
    return capsys.readouterr().out


def test_rows_summary_and_figure_of_three_seeds(tmp_path, capsys):
    # ylg-eval's variants (another sample count) are not training's scores and are left out.
    seed0 = _run(
        tmp_path,
        "seed0",
        _scores(1000, 40.0, 0.1),
        _scores(2000, 18.0, 0.7),
        extra={"step_0002000_n500.json": _scores(2000, 99.0, 0.0)},
    )
    seed1 = _run(tmp_path, "seed1", _scores(2000, 22.0, 0.5, precision=0.85))
    seed2 = _run(tmp_path, "seed2", _scores(2000, 19.0, 0.6, judge=0.97))
    figure = tmp_path / "seeds.png"

    out = _main(capsys, f"--run={seed0}", f"--run={seed1}", f"--run={seed2}", f"--figure={figure}")

    lines = out.splitlines()
    assert f"| {seed0} | 1000 | 40.0 | 9.5 | 12.3 | 0.990 | 0.950 | 0.100 | 70.0 |" in lines
    assert "|  | 2000 | 18.0 | 9.5 | 12.3 | 0.990 | 0.950 | 0.700 | 70.0 |" in lines
    assert sum(line.startswith("|") for line in lines) == 2 + 4  # header, rule, four evaluations
    # Last evaluations: recall 0.7, 0.5, 0.6 (median 0.6, worst 0.5); precision 0.95, 0.85, 0.95;
    # judge 0.99, 0.99, 0.97; FID 18, 22, 19 (median 19).
    (summary,) = [line for line in lines if line.startswith("Last evaluations")]
    assert "recall 0.6 (meets 0.6)" in summary
    assert "worst recall 0.5 (meets 0.45)" in summary
    assert "precision 0.95 (meets 0.9)" in summary
    assert "judge 0.99 (meets 0.98)" in summary
    assert "fid 19 (meets 20)" in summary
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_missed_target_is_named():
    last = {"a": _scores(2000, 25.0, 0.3), "b": _scores(2000, 30.0, 0.2)}
    figures = script.summary(last)
    assert figures == pytest.approx(
        {"recall": 0.25, "worst recall": 0.2, "precision": 0.95, "judge": 0.99, "fid": 27.5}
    )


def test_a_run_without_scores_is_refused_by_name(tmp_path, capsys):
    empty = tmp_path / "empty"
    (empty / "eval").mkdir(parents=True)
    with pytest.raises(app.UsageError, match="empty holds no evaluation"):
        _main(capsys, f"--run={empty}")


def test_a_score_no_run_has_is_nan():
    last = {"a": {**_scores(2000, 25.0, 0.3), "judge_accuracy": None}}
    assert math.isnan(script.summary(last)["judge"])


def test_without_a_run_main_asks_for_one(capsys):
    with pytest.raises(app.UsageError, match="--run is required"):
        _main(capsys)
