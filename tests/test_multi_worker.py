"""A 2-process MultiWorkerMirroredStrategy run of the binary on localhost (about 30 s); the
model without attention, since the strategy is what is under test."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.integration
def test_two_workers_train_and_checkpoint(tmp_path):
    workers = [f"localhost:{port}" for port in _free_ports(2)]
    command = [
        sys.executable,
        "-m",
        "ylg_tf.cli.train",
        f"--config={ROOT / 'experiments/configs/ylg_digits32.py'}"
        ":runlocal=True,variant=no_attention",
        f"--workdir={tmp_path}",
        "--strategy=multi_worker",
    ]
    processes = []
    for index in range(2):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        env = dict(os.environ, TF_CONFIG=json.dumps(tf_config), TF_CPP_MIN_LOG_LEVEL="2")
        processes.append(
            subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        )
    outputs = []
    try:
        for process in processes:
            outputs.append(process.communicate(timeout=600)[0].decode())
    finally:
        for process in processes:
            process.kill()
    for process, output in zip(processes, outputs, strict=True):
        assert process.returncode == 0, output[-3000:]
    assert "step 4/4" in outputs[0]
    assert (tmp_path / "checkpoints" / "ckpt-4.index").exists()
    assert (tmp_path / "worker_1" / "checkpoints" / "ckpt-4.index").exists()
    assert (tmp_path / "samples" / "step_0000004.png").exists()
