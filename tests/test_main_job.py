"""README's main job, run as users run it, meets its targets: the class shows and FID is low.

Slow: the whole job takes 9-30 minutes on 2 cores (machines differ up to 4x), more than CI's
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

#: The issue's targets: the judge recognises at least 95% of the samples as their class (real
#: held-out digits: 99%), and FID on 1000 samples is below the 51 of the job before tuning.
MIN_JUDGE_ACCURACY = 0.95
MAX_FID = 51.0


#: At step 500 the whole job (seed 0) scored FID 53.2 and judge 0.579 on 2026-12-01, and the
#: job stopped at 500 steps the same (FID 53.17, judge 0.579; 4m44s on 2 cores at 2.2 steps/s)
#: on 2026-12-07 (experiments/results/main_job/tuning.md). The bounds leave room for float noise
#: between machines, which a GAN in mid-training amplifies, and still fail a job that does not
#: learn its classes (TTUR's slow G: FID 101, judge 0.12 at step 500).
MIN_JUDGE_ACCURACY_AT_500 = 0.45
MAX_FID_AT_500 = 65.0


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
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600
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
def test_main_job_samples_show_their_class(tmp_path):
    scores = _main_job(tmp_path)
    assert scores["step"] == 2000
    assert scores["judge_accuracy"] >= MIN_JUDGE_ACCURACY, scores
    assert scores["fid"] < MAX_FID, scores
