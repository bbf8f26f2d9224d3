"""README's main job, run as users run it, meets its targets: its samples are their class and
diverse within it, and FID is low.

Slow: the whole job takes 14-60 minutes on 2 cores (machines differ up to 4x), more than CI's
budget, so `.ci/run` runs its first 500 steps against the figures the whole job reaches at step
500; the whole job's targets are checked on purpose, `pytest -m slow tests/test_main_job.py`.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
YLG_TRAIN = Path(sys.executable).with_name("ylg-train")

#: Issue 37's targets for one seed: the judge recognises at least 98% of the samples as their
#: class (real held-out digits: 99%), precision >= 0.9 and recall >= 0.45 (the worst seed's
#: bound; the median over seeds is held to 0.6 in tuning.md), FID on 1000 samples at most 20 (the
#: median's bound). Seed 0 scored judge 0.996, precision 0.919, recall 0.678, FID 17.1.
MIN_JUDGE_ACCURACY = 0.98
MIN_PRECISION = 0.9
MIN_RECALL = 0.45
MAX_FID = 20.0


#: At step 500 the whole job scored FID 83.8 and judge 0.544 on seed 0, 71.3 and 0.482 on seed 2
#: (2026-12-07, experiments/results/main_job/tuning.md). The bounds leave room for float noise
#: between machines, which a GAN in mid-training amplifies about as much as another seed does,
#: and still fail a job that does not learn its classes (TTUR's slow G: judge 0.12 at step 500).
MIN_JUDGE_ACCURACY_AT_500 = 0.4
MAX_FID_AT_500 = 100.0


def _main_job(tmp_path, *overrides: str) -> dict:
    """README's main command (plus `overrides`); the scores of its last evaluation."""
    workdir = tmp_path / "runs" / "ylg_digits32"
    command = [
        str(YLG_TRAIN),
        "--config=experiments/configs/ylg_digits32.py",
        f"--workdir={workdir}",
        *overrides,
    ]
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="")
    result = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=5400
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    (last,) = sorted((workdir / "eval").glob("step_*.json"))[-1:]
    scores = json.loads(last.read_text())
    assert scores["num_generated"] == scores["num_real"] == 1000
    return scores


@pytest.mark.slow
def test_main_job_first_500_steps_reach_their_figures(tmp_path):
    scores = _main_job(tmp_path, "--config.train.steps=500")
    assert scores["step"] == 500
    assert scores["judge_accuracy"] >= MIN_JUDGE_ACCURACY_AT_500, scores
    assert scores["fid"] < MAX_FID_AT_500, scores


@pytest.mark.slow
def test_main_job_samples_are_right_and_diverse(tmp_path):
    scores = _main_job(tmp_path)
    assert scores["step"] == 3000
    assert scores["judge_accuracy"] >= MIN_JUDGE_ACCURACY, scores
    assert scores["precision"] >= MIN_PRECISION and scores["recall"] >= MIN_RECALL, scores
    assert scores["fid"] <= MAX_FID, scores
