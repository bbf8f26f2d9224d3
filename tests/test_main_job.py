"""README's main job, run as users run it, meets its targets: the class shows and FID is low.

Slow (about 9 minutes on 2 idle cores); CI runs it after the default suite (`.ci/run`).
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


@pytest.mark.slow
def test_main_job_samples_show_their_class(tmp_path):
    workdir = tmp_path / "runs" / "ylg_digits32"
    command = [
        str(YLG_TRAIN),
        "--config=experiments/configs/ylg_digits32.py",
        f"--workdir={workdir}",
    ]
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="")
    result = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    scores = json.loads((workdir / "eval" / "step_0002000.json").read_text())
    assert scores["num_generated"] == scores["num_real"] == 1000
    assert scores["judge_accuracy"] >= MIN_JUDGE_ACCURACY, scores
    assert scores["fid"] < MAX_FID, scores
