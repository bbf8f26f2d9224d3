"""Every installed binary: `--help` shows its own docstring and flags, bad input one short line.

Help is checked on the installed console scripts (absl builds it from the process's `__main__`),
started side by side; TensorFlow's C++ runtime prints a few lines of its own while loading
(before Python's logging is set up, so `TF_CPP_MIN_LOG_LEVEL` cannot hide them all); they are
left out. Errors are checked through each binary's `main`, called in-process (`run_binary`).
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from binaries import run_binary

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
RUNTIME_NOISE = re.compile(r"^(WARNING: All log messages before absl|[IWE]\d{4} )")

#: Each binary, a flag only it has, and bad input with a word the answer must contain.
BINARIES = {
    "ylg-train": ("--cpu_replicas", ["--config=experiments/configs/ylg_digits32.py",
                                     "--workdir=unused", "--config.train.stepz=3"], "steps"),
    "ylg-eval": ("--num_samples", ["--workdir=no/such/run"], "config.json"),
    "ylg-sample": ("--truncations", ["--workdir=no/such/run"], "config.json"),
    "ylg-export": ("--[no]overwrite", ["--workdir=no/such/run"], "config.json"),
    "ylg-invert": ("--restarts", ["--workdir=no/such/run", "--from_samples=1"], "config.json"),
    "ylg-masks": ("--layouts", ["--layouts=ylg,nope"], "nope"),
}  # fmt: skip


def _lines(returncode: int, stdout: str, stderr: str) -> tuple[int, list[str]]:
    lines = (stdout + stderr).splitlines()
    return returncode, [line for line in lines if not RUNTIME_NOISE.match(line)]


def _run(binary: str, *args: str) -> tuple[int, list[str]]:
    result = run_binary(binary, *args)
    return _lines(result.returncode, result.stdout, result.stderr)


@pytest.fixture(scope="module")
def helps():
    """`{binary: (exit code, lines)}` of each console script's `--help`."""
    processes = {
        binary: subprocess.Popen(
            [str(BIN / binary), "--help"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for binary in BINARIES
    }
    outputs = {binary: process.communicate(timeout=300) for binary, process in processes.items()}
    return {binary: _lines(processes[binary].returncode, *outputs[binary]) for binary in BINARIES}


@pytest.mark.integration
@pytest.mark.parametrize("binary", sorted(BINARIES))
def test_help_shows_the_docstring_and_own_flags(helps, binary):
    code, lines = helps[binary]
    text = "\n".join(lines)
    assert f"`{binary}`" in lines[0], text[:500]  # the module docstring's first line
    assert BINARIES[binary][0] in text and "--[no]debug" in text
    assert "--helpfull" not in lines[0] and code == 0  # absl's own: 1


@pytest.mark.parametrize("binary", sorted(BINARIES))
def test_bad_input_is_one_short_message(binary):
    _, args, word = BINARIES[binary]
    code, lines = _run(binary, *args)
    text = "\n".join(lines)
    assert code != 0
    assert "Traceback" not in text and len(lines) == 1, text
    assert lines[0].startswith(f"{binary}: error: ") and word in text, text


def test_an_unknown_config_field_is_named_with_its_override():
    code, lines = _run(
        "ylg-train",
        "--config=experiments/configs/ylg_digits32.py",
        "--workdir=unused",
        "--config.model.g_base_channels=8",  # the field's name before config version 3
    )
    assert code == 2 and len(lines) == 1, lines
    assert "config.model.g_base_channels is not a config field" in lines[0]
    assert "config.model.generator" in lines[0]


TRAIN = ["--config=experiments/configs/ylg_digits32.py", "--config.train.steps=1"]


@pytest.mark.parametrize(
    "case, args, expected",
    [
        ("dataset typo", ["--config.data.name=digitz"], "unknown dataset 'digitz'.*'digits'"),
        ("workdir is a file", [], "is a file, not a folder: give a folder"),
        ("workdir under a file", ["below"], r"is a file, not a folder \(in the way of"),
        ("read-only folder", [], "cannot create .* read-only here; give a folder you can write"),
        ("Keras on JAX", [], "needs Keras's TensorFlow backend.*--engine=jax"),
        ("no config file", ["--config=experiments/configs/nope.py"], "there is no config file"),
    ],
)
def test_a_failed_training_start_is_one_line_and_writes_nothing(
    tmp_path, monkeypatch, case, args, expected
):
    """Each mistake is found before anything is printed or written: today's code printed the
    config (55 lines), tfds's network errors or a 90-line traceback, and left an empty folder."""
    import keras

    blocker = tmp_path / "a_file"
    blocker.write_text("")
    workdir = tmp_path / "run"
    if case.startswith("workdir"):
        workdir = blocker / args.pop() if args else blocker
    if case == "read-only folder":  # as a read-only mount answers (root may write anywhere else)
        monkeypatch.setattr("os.access", lambda path, mode: False)
    if case == "Keras on JAX":  # KERAS_BACKEND=jax ylg-train without --engine=jax
        monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    before = sorted(tmp_path.rglob("*"))
    code, lines = _run("ylg-train", *TRAIN, f"--workdir={workdir}", *args)
    assert code != 0 and lines[0].startswith("ylg-train: error: "), lines
    assert re.search(expected, lines[0]) and len(lines) == 1, lines
    assert sorted(tmp_path.rglob("*")) == before


def test_debug_brings_the_traceback_back():
    code, lines = _run("ylg-export", "--workdir=no/such/run", "--debug")
    assert code != 0 and any(line.startswith("Traceback") for line in lines)


def test_a_layer_error_reads_as_its_own_text_without_keras_wrapping():
    import keras
    import numpy as np

    from ylg_tf.cli import app

    class Broken(keras.layers.Layer):
        def call(self, inputs):
            raise ValueError("channels must divide by 8")

    with pytest.raises(ValueError) as caught:
        Broken(name="broken")(np.zeros((1, 2), np.float32))
    assert "\x1b[1m" in str(caught.value)  # Keras's bold wrapping, which the binaries remove
    assert app._message(caught.value) == "channels must divide by 8 (in Broken.call())"


@pytest.mark.parametrize(
    "binary, args, output",
    [
        ("ylg-eval", ["--num_samples=4"], "eval"),
        ("ylg-sample", [], "samples"),
        ("ylg-export", [], "export"),
        ("ylg-invert", ["--from_samples=1"], "inversion"),
    ],
)
def test_a_read_only_run_is_one_line_before_any_work(tiny_run, monkeypatch, binary, args, output):
    """Where a binary would write is checked once the run is loaded, before it scores, draws,
    exports or inverts: today's code worked, then failed writing with a traceback."""
    monkeypatch.setattr("os.access", lambda path, mode: False)  # a read-only mount's answer
    before = sorted(tiny_run.rglob("*"))
    code, lines = _run(binary, f"--workdir={tiny_run}", *args)
    errors = [line for line in lines if line.startswith(f"{binary}: error: ")]
    assert code == 1 and len(errors) == 1 and len(lines) <= 2, lines  # + "Loaded ..."
    assert errors[0].startswith(f"{binary}: error: cannot ") and "read-only" in errors[0], lines
    assert f"{tiny_run}" in errors[0] and sorted(tiny_run.rglob("*")) == before
