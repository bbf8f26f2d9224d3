"""The progress line's ETA: the steady step time, not the first interval's tracing."""

import pytest

from ylg_tf.training import monitor


@pytest.fixture
def clock_and_lines(monkeypatch):
    """A settable `time.perf_counter` and the formatted lines `Progress` logs."""
    now = [0.0]
    lines: list[str] = []
    monkeypatch.setattr(monitor.time, "perf_counter", lambda: now[0])
    monkeypatch.setattr(monitor.logging, "info", lambda fmt, *args: lines.append(fmt % args))
    return now, lines


def _eta(line: str) -> str:
    return line.split("| ETA ")[1].split(" |")[0]


def _hms(seconds: float) -> str:
    """Hand formatting of a duration, as the progress line shows it."""
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}m{seconds:02d}s"


def test_eta_ignores_the_tracing_interval(clock_and_lines):
    now, lines = clock_and_lines
    progress = monitor.Progress(total_steps=1000, global_batch=8, first_step=0)
    # steps 0..100 take 240 s (tracing), then 100 steps take 10 s and 12 s.
    for step, seconds in ((100, 240.0), (200, 250.0), (300, 262.0)):
        now[0] = seconds
        rate = progress.report(step, {"d_loss": 1.0})
    assert rate == pytest.approx(100 / 12)  # the last interval's rate, as logged
    assert _eta(lines[0]) == "after warm-up"  # not (900 steps at 240 s / 100) = 36 minutes
    assert "0.42 steps/s, 3 img/s" in lines[0]
    # From the end of warm-up: 100 steps in 10 s, then 200 steps in 22 s.
    assert _eta(lines[1]) == _hms(800 * 10.0 / 100)
    assert _eta(lines[2]) == _hms(700 * 22.0 / 200)
    assert _eta(lines[2]) != _hms(700 * 12.0 / 100)  # the mean since warm-up, not one interval


def test_last_report_shows_no_time_left(clock_and_lines):
    now, lines = clock_and_lines
    progress = monitor.Progress(total_steps=600, global_batch=4, first_step=500)
    now[0] = 90.0
    progress.report(600, {})
    assert _eta(lines[0]) == "0m00s" and "step 600/600 (100%)" in lines[0]
