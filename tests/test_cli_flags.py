"""Bad flags of `ylg-sample` and `ylg-eval` are refused at parsing, before any run is loaded.

Each binary runs on a workdir that does not exist: a flag checked only after loading would be
reported as "not a run directory" instead of naming the flag.
"""

import re

import pytest
from binaries import run_binary

# (binary, bad flag, what the one-line error must say)
CASES = (
    ("ylg-sample", "--truncations=0.5,-1", r"--truncations.*truncation '-1'.*> 0"),
    ("ylg-sample", "--classes=2,x", r"--classes.*'x'.*integer labels >= 0"),
    ("ylg-sample", "--per_class=0", r"--per_class.*0 is not a positive integer"),
    ("ylg-eval", "--num_samples=-5", r"--num_samples.*-5 is not a positive integer"),
    ("ylg-eval", "--num_samples=0", r"--num_samples.*0 is not a positive integer"),
    ("ylg-eval", "--batch_size=0", r"--batch_size.*0 is not a positive integer"),
)


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    """Every case's (return code, output), each binary's `main` called in-process."""
    workdir = tmp_path_factory.mktemp("cli") / "no_such_run"
    results = []
    for binary, flag, _ in CASES:
        result = run_binary(binary, f"--workdir={workdir}", flag)
        results.append((result.returncode, result.stdout + result.stderr))
    assert not workdir.exists()  # nothing was written
    return results


@pytest.mark.parametrize("case", range(len(CASES)), ids=[f"{b} {f}" for b, f, _ in CASES])
def test_bad_flag_is_one_short_error_naming_it(outputs, case):
    binary, _, expected = CASES[case]
    code, output = outputs[case]
    lines = output.splitlines()
    assert code == 2, output
    assert lines and lines[0].startswith(f"{binary}: error: "), output
    assert re.search(expected, lines[0]), output
    assert "not a run directory" not in output and "Traceback" not in output
    assert len(lines) == 1, output  # the message, ending "(--help lists the flags)"
