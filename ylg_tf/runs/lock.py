"""The lease a training process holds on its run directory, so that two runs never share one.

`lock.json` names the holder (host, pid, start time) and the time of its last refresh; a daemon
thread refreshes it every `REFRESH_SECONDS` while the run lives. Another process is refused with
a message naming the holder, unless the lease is stale: its pid is dead on this host, or it was
not refreshed for `STALE_SECONDS` (the holder died on another machine, or lost its storage); a
stale lease is taken over with a warning. A lease of this very process (a trainer re-created in
a notebook) is taken over silently. Under multi-worker training only the chief holds it.

The lease is a plain file written through `tf.io.gfile` so that it works on `gs://`; Cloud
Storage has no exclusive create, so after writing its lease a process reads it back after a short
pause and proceeds only if its own lease is the one that stayed.
"""

from __future__ import annotations

import atexit
import datetime
import os
import socket
import threading
import time
import uuid

from absl import logging

from ylg_tf.runs import files

__all__ = ["REFRESH_SECONDS", "STALE_SECONDS", "RunLock", "RunLockedError"]

REFRESH_SECONDS = 30.0
STALE_SECONDS = 300.0
SETTLE_SECONDS = 0.2


class RunLockedError(RuntimeError):
    """Another live process holds the run directory."""


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


class RunLock:
    """Holds `path` (a run's `lock.json`) from `acquire()` until `release()` or process exit.

    Args:
      path: the lease file.
      refresh_seconds, stale_seconds: see the module docstring.
    """

    def __init__(
        self,
        path,
        refresh_seconds: float = REFRESH_SECONDS,
        stale_seconds: float = STALE_SECONDS,
    ) -> None:
        self.path = path
        self.refresh_seconds, self.stale_seconds = refresh_seconds, stale_seconds
        self.token = uuid.uuid4().hex
        self.lease = {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started": _now(),
            "token": self.token,
        }
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _read(self) -> dict | None:
        try:
            return files.read_json(self.path)
        except Exception:  # noqa: BLE001 - missing or half-written by a dead process: no lease
            return None

    def _write(self) -> None:
        files.write_json(self.path, dict(self.lease, refreshed=time.time()))

    def _staleness(self, held: dict) -> str | None:
        """Why a lease of another process no longer holds, or None while it does."""
        age = time.time() - float(held.get("refreshed", 0))
        if held.get("host") == self.lease["host"] and not _pid_alive(int(held.get("pid", 0))):
            return f"its process {held.get('pid')} is gone"
        if age > self.stale_seconds:
            return f"it was not refreshed for {age:.0f} s (stale after {self.stale_seconds:.0f} s)"
        return None

    @staticmethod
    def describe(held: dict) -> str:
        return (
            f"pid {held.get('pid')} on {held.get('host')}, started {held.get('started')}, "
            f"refreshed {time.time() - float(held.get('refreshed', 0)):.0f} s ago"
        )

    def acquire(self) -> RunLock:
        """Takes the lease or raises `RunLockedError` naming the holder."""
        held = self._read()
        if held is not None and held.get("token") != self.token:
            mine = held.get("host") == self.lease["host"] and held.get("pid") == os.getpid()
            reason = None if mine else self._staleness(held)
            if not mine and reason is None:
                raise RunLockedError(self._refusal(held))
            if reason:
                logging.warning(
                    "Taking over the stale lease %s of %s: %s.",
                    self.path,
                    self.describe(held),
                    reason,
                )
        self._write()
        time.sleep(SETTLE_SECONDS)
        held = self._read()
        if held is None or held.get("token") != self.token:
            raise RunLockedError(self._refusal(held or {}))
        self._thread = threading.Thread(target=self._refresh, name="run-lease", daemon=True)
        self._thread.start()
        atexit.register(self.release)
        return self

    def _refusal(self, held: dict) -> str:
        return (
            f"{os.path.dirname(str(self.path))} is in use by another training run "
            f"({self.describe(held)}; lease {self.path}). Wait for it to finish or stop it; "
            f"a lease not refreshed for {self.stale_seconds:.0f} s is taken over."
        )

    def _refresh(self) -> None:
        while not self._stop.wait(self.refresh_seconds):
            held = self._read()
            if held is not None and held.get("token") != self.token:
                logging.warning("Lost the lease %s to %s.", self.path, self.describe(held))
                return
            try:
                self._write()
            except Exception as error:  # noqa: BLE001 - keep training; the next refresh retries
                logging.warning("Could not refresh the lease %s: %s", self.path, error)

    def release(self) -> None:
        """Stops refreshing and removes the lease if it is still ours."""
        self._stop.set()
        held = self._read()
        if held is not None and held.get("token") == self.token:
            try:
                files.remove(self.path)
            except Exception:  # noqa: BLE001 - at exit the file system may be gone
                pass

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
