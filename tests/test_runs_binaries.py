"""The binaries on a `file://` work directory: a second run refused, SIGTERM saves and resumes,
then evaluate, sample, export and invert, and short messages for unreadable checkpoints.

The first training is a process of its own (SIGTERM, its exit code, a lease held by another
process); every later command calls the binary's `main` in this process (`run_binary`).
"""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from binaries import run_binary

REPO = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
TINY = [
    f"--config={REPO}/experiments/configs/ylg_digits32.py",
    "--config.model.variant=no_attention",  # what is under test is the files, not attention
    "--config.model.generator.base_channels=8",
    "--config.model.discriminator.base_channels=8",
    "--config.model.generator.z_dim=16",
    "--config.train.batch_size=2",
    "--config.train.log_every=1",
    "--config.train.sample_every=1000",
    "--config.train.checkpoint_every=1000",
    "--config.eval.every=0",
]


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


@pytest.mark.integration
def test_binaries_on_a_file_url_work_directory(tmp_path, digits_cache):
    url = f"file://{tmp_path}/run"
    log = tmp_path / "first.log"
    with open(log, "w") as stderr:
        first = subprocess.Popen(
            [sys.executable, "-m", "ylg_tf.cli.train", *TINY, f"--workdir={url}",
             "--config.train.steps=100000"],
            cwd=REPO, env=ENV, stdout=subprocess.PIPE, stderr=stderr, text=True,
        )  # fmt: skip
    try:
        wait_for(lambda: re.search(r"step [3-9]\d*/100000", log.read_text()), 300, "step 3")
        # Two runs in one directory: the second is refused, naming the first.
        second = run_binary("ylg-train", *TINY, f"--workdir={url}", "--config.train.steps=4")
        assert second.returncode == 1, second.stderr[-2000:]
        assert f"in use by another training run (pid {first.pid} on" in second.stderr
        first.send_signal(signal.SIGTERM)
        stdout, _ = first.communicate(timeout=120)
    finally:
        first.kill()
    # SIGTERM: a checkpoint at the next step boundary, a clear line, 128 + 15.
    assert first.returncode == 128 + signal.SIGTERM, log.read_text()[-3000:]
    stopped = re.search(r"Stopped by SIGTERM at step (\d+); saved (\S+)\.", stdout)
    assert stopped, stdout
    saved_step = int(stopped.group(1))
    assert stopped.group(2) == f"{url}/checkpoints/ckpt-{saved_step}"
    resumed = run_binary(
        "ylg-train", *TINY, f"--workdir={url}", f"--config.train.steps={saved_step + 1}"
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"Resumed from {url}/checkpoints/ckpt-{saved_step} at step {saved_step}" in (
        resumed.stderr
    )
    last = saved_step + 1
    assert (tmp_path / "run" / "checkpoints" / f"ckpt-{last}.index").exists()

    evaluated = run_binary("ylg-eval", f"--workdir={url}", "--num_samples=8", "--batch_size=8",
                       f"--cache_dir={digits_cache}")  # fmt: skip
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    assert (tmp_path / "run" / "eval" / f"step_{last:07d}_n8.json").exists()
    sampled = run_binary("ylg-sample", f"--workdir={url}", "--truncations=1.0", "--classes=0,1",
                     "--per_class=2")  # fmt: skip
    assert sampled.returncode == 0, sampled.stderr[-3000:]
    assert (tmp_path / "run" / "samples" / f"step_{last:07d}_class_1.png").exists()
    exported = run_binary("ylg-export", f"--workdir={url}")
    assert exported.returncode == 0, exported.stderr[-3000:]
    assert (tmp_path / "run" / "export" / str(last) / "saved_model.pb").exists()
    inverted = run_binary("ylg-invert", f"--workdir={url}", "--from_samples=1", "--method=pixel",
                      "--steps=2", "--restarts=1")  # fmt: skip
    assert inverted.returncode == 0, inverted.stderr[-3000:]
    assert (tmp_path / "run" / "inversion" / "pixel" / "inversion.npz").exists()

    # A corrupt newest checkpoint: one line naming it, and the previous one is used.
    checkpoints = tmp_path / "run" / "checkpoints"
    data = checkpoints / f"ckpt-{last}.data-00000-of-00001"
    data.write_bytes(data.read_bytes()[:100])
    fallback = run_binary("ylg-export", f"--workdir={url}")
    assert fallback.returncode == 0, fallback.stderr[-3000:]
    assert len(re.findall(rf"ckpt-{last} is unreadable", fallback.stderr)) == 1
    assert (tmp_path / "run" / "export" / str(saved_step) / "saved_model.pb").exists()
    # None readable: a short refusal listing both, no traceback.
    index = checkpoints / f"ckpt-{saved_step}.index"
    index.write_bytes(b"garbage")
    refused = run_binary("ylg-sample", f"--workdir={url}")
    assert refused.returncode == 1
    assert "Traceback" not in refused.stderr
    assert f"ckpt-{last} (" in refused.stderr and f"ckpt-{saved_step} (" in refused.stderr
