"""The run directory's lease: a second run is refused by name, a stale lease is taken over."""

import json
import logging as py_logging
import os
import socket
import subprocess
import sys
import time

import pytest

from ylg_tf.runs.lock import RunLock, RunLockedError


def write_lease(path, pid, refreshed_ago=0.0, host=None):
    lease = {
        "host": host or socket.gethostname(),
        "pid": pid,
        "started": "2026-01-01T00:00:00+00:00",
        "token": "someone-else",
        "refreshed": time.time() - refreshed_ago,
    }
    path.write_text(json.dumps(lease))


@pytest.fixture
def other_process():
    """A live process that is not this one (the holder of a lease)."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield process.pid
    process.kill()
    process.wait()


def test_a_live_holder_is_refused_by_name(tmp_path, other_process):
    path = tmp_path / "lock.json"
    write_lease(path, other_process)
    with pytest.raises(RunLockedError, match=rf"pid {other_process} on {socket.gethostname()}"):
        RunLock(path).acquire()
    assert json.loads(path.read_text())["pid"] == other_process  # left as it was


def test_a_live_holder_on_another_host_is_refused(tmp_path):
    path = tmp_path / "lock.json"
    write_lease(path, 1, refreshed_ago=10, host="tpu-vm-7")
    with pytest.raises(RunLockedError, match="tpu-vm-7"):
        RunLock(path).acquire()


@pytest.mark.parametrize(
    "pid,ago,host,reason",
    [
        ("dead", 0.0, None, "is gone"),
        (1, 3600.0, "tpu-vm-7", "not refreshed for 3600 s"),
    ],
)
def test_a_stale_lease_is_taken_over_with_a_warning(tmp_path, caplog, pid, ago, host, reason):
    if pid == "dead":
        finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                                  capture_output=True, text=True, check=True)  # fmt: skip
        pid = int(finished.stdout)
    path = tmp_path / "lock.json"
    write_lease(path, pid, refreshed_ago=ago, host=host)
    with caplog.at_level(py_logging.WARNING):
        lock = RunLock(path).acquire()
    assert any(reason in r.getMessage() for r in caplog.records)
    assert json.loads(path.read_text())["pid"] == os.getpid()
    lock.release()
    assert not path.exists()


def test_the_lease_is_refreshed_while_held(tmp_path):
    path = tmp_path / "lock.json"
    lock = RunLock(path, refresh_seconds=0.1).acquire()
    first = json.loads(path.read_text())["refreshed"]
    time.sleep(0.5)
    assert json.loads(path.read_text())["refreshed"] > first
    lock.release()


@pytest.mark.integration
def test_a_second_process_cannot_take_a_held_lease(tmp_path):
    path = tmp_path / "lock.json"
    lock = RunLock(path).acquire()
    script = (
        "import sys; from ylg_tf.runs.lock import RunLock, RunLockedError\n"
        f"try: RunLock({str(path)!r}).acquire()\n"
        "except RunLockedError as e: print(e); sys.exit(3)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    lock.release()
    assert result.returncode == 3, result.stderr[-2000:]
    assert f"pid {os.getpid()}" in result.stdout
