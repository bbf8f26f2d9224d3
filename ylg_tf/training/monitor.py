"""Progress lines (steps/s, images/s, ETA) and the per-head attention maps of summaries."""

from __future__ import annotations

import time

import numpy as np
from absl import logging


def attention_grid(probs: np.ndarray, key_hw: tuple[int, int]) -> np.ndarray:
    """Per head, where the centre query of the first sample looks: `[heads, kh, kw, 1]` in [-1, 1].

    Each head's map is scaled to its own maximum so that sparse and dense heads are both visible.
    """
    probs = np.asarray(probs, np.float32)[0]  # [heads, nq, nk]
    maps = probs[:, probs.shape[1] // 2 + int(np.sqrt(probs.shape[1])) // 2]
    maps = maps / np.maximum(maps.max(axis=1, keepdims=True), 1e-12)
    return (maps.reshape(-1, *key_hw, 1) * 2.0 - 1.0).astype(np.float32)


class Progress:
    """Logs steps/s and images/s between consecutive reports, and the ETA at the steady rate.

    The first report's interval includes tracing and compiling the training step (minutes for
    a run whose steps then take milliseconds), so the ETA is taken from the mean rate since that
    first report; until a second report exists it reads "after warm-up".
    """

    def __init__(self, total_steps: int, global_batch: int, first_step: int) -> None:
        self.total_steps, self.global_batch = total_steps, global_batch
        self._last_step, self._last_time = first_step, time.perf_counter()
        self._warm: tuple[int, float] | None = None  # (step, time) at the end of warm-up

    def report(self, step: int, metrics: dict[str, float]) -> float:
        """Logs a progress line for `step` and returns the steps/s since the previous report."""
        now = time.perf_counter()
        rate = (step - self._last_step) / max(now - self._last_time, 1e-9)
        self._last_step, self._last_time = step, now
        if step >= self.total_steps:
            eta = _duration(0.0)
        elif self._warm is None:
            self._warm = (step, now)
            eta = "after warm-up"
        else:
            warm_step, warm_time = self._warm
            steady = (step - warm_step) / max(now - warm_time, 1e-9)
            eta = _duration((self.total_steps - step) / steady if steady > 0 else float("inf"))
        values = " ".join(f"{k} {v:.3f}" for k, v in metrics.items())
        logging.info(
            "step %d/%d (%.0f%%) | %.2f steps/s, %.0f img/s | ETA %s | %s",
            step,
            self.total_steps,
            100.0 * step / self.total_steps,
            rate,
            rate * self.global_batch,
            eta,
            values,
        )
        return rate


def _duration(seconds: float) -> str:
    if not np.isfinite(seconds):
        return "?"
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{seconds:02d}s" if hours else f"{minutes}m{seconds:02d}s"
