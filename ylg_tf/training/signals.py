"""SIGTERM and Ctrl-C during training: save at the next step boundary, then stop.

A preempted cloud VM gets SIGTERM and some seconds before it is killed; a user presses Ctrl-C.
Either way the trainer finishes the train call in flight, saves a checkpoint and raises
`TrainingInterrupted`. A second Ctrl-C stops at once (Python's `KeyboardInterrupt`). Multi-worker
and TPU runs use TensorFlow's `PreemptionCheckpointHandler` instead (saving is collective there).
"""

from __future__ import annotations

import signal
import threading

from absl import logging

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class TrainingInterrupted(Exception):
    """Training stopped on a signal after saving a checkpoint; `signum` is the signal."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.signum = signum


class StopSignals:
    """While entered, SIGTERM and SIGINT set `received` instead of stopping the process.

    Handlers can only be installed from the main thread; elsewhere this does nothing.
    """

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._handle) for s in SIGNALS}
        return self

    def _handle(self, signum: int, frame) -> None:
        if self.received is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # the second Ctrl-C: stop now, without saving
        self.received = signum
        logging.warning(
            "Received %s: saving a checkpoint at the next step boundary, then stopping "
            "(press Ctrl-C again to stop at once).",
            signal.Signals(signum).name,
        )

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}
