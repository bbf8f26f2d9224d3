"""`ylg-masks` as a user runs it: the installed script, good flags and bad ones."""

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).with_name("ylg-masks")


def _run(tmp_path, *flags):
    return subprocess.run(
        [str(SCRIPT), *flags],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize(
    "bad_flag, named",
    [
        ("--layouts=ylg,nope", "'nope'"),
        ("--n=0", "--n=0"),
        ("--ifg_n=-3", "--ifg_n=-3"),
        ("--grid=0", "--grid=0"),
    ],
)
def test_bad_flag_writes_nothing_and_says_why_in_a_few_lines(tmp_path, bad_flag, named):
    result = _run(tmp_path, f"--workdir={tmp_path / 'out'}", "--layouts=ylg", bad_flag)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert list(tmp_path.iterdir()) == []
    assert "Traceback" not in output
    assert len(output.strip().splitlines()) < 5
    assert named in output
    if "layouts" in bad_flag:
        assert "accepted: ylg, ylg_strided" in output


def test_workdir_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "taken").write_text("a file")
    result = _run(tmp_path, f"--workdir={tmp_path / 'taken'}")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "--workdir" in result.stderr and "not an existing file" in result.stderr


def test_good_flags_write_the_report(tmp_path):
    out = tmp_path / "out"
    result = _run(tmp_path, f"--workdir={out}", "--n=16", "--ifg_n=4", "--grid=4", "--layouts=ylg")
    assert result.returncode == 0, result.stderr
    assert (out / "summary.md").read_text().startswith("| pattern |")
    assert (out / "heads_ylg.png").is_file() and not (out / "heads_ylg_strided.png").exists()
    assert str(out / "heads_ylg.png") in result.stdout
