"""Each TensorFlow build installs through its own extra, and never two of them at once.

`tensorflow` (CPU/GPU) and `tensorflow-tpu` both install the `tensorflow` module, so the base
dependencies name neither and the extras `cpu`, `gpu` and `tpu` name one each. The slow test
resolves every extra against the package registries with `pip install --dry-run --report`
(network; pip downloads whole wheels to read their metadata, about 1-2 minutes for the three,
run in parallel); CI runs it from `.ci/run`.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]
TF_BUILDS = {"tensorflow", "tensorflow-tpu", "tensorflow-cpu", "tf-nightly", "tensorflow-intel"}
LOWEST_TENSORFLOW = "2.20"


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    return canonical(re.match(r"[A-Za-z0-9._-]+", requirement).group(0))


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_base_and_test_dependencies_name_no_tensorflow_build():
    meta = project()
    for requirement in meta["dependencies"] + meta["optional-dependencies"]["test"]:
        assert requirement_name(requirement) not in TF_BUILDS, requirement


@pytest.mark.parametrize(
    "extra, build", [("cpu", "tensorflow"), ("gpu", "tensorflow"), ("tpu", "tensorflow-tpu")]
)
def test_each_extra_names_one_build_from_the_lowest_supported_version(extra, build):
    requirements = project()["optional-dependencies"][extra]
    builds = [r for r in requirements if requirement_name(r) in TF_BUILDS]
    assert [requirement_name(r) for r in builds] == [build], requirements
    assert builds[0].endswith(f">={LOWEST_TENSORFLOW}"), builds


def test_ci_tests_the_lowest_supported_tensorflow():
    ci = (ROOT / ".ci" / "run").read_text()
    assert f'"tensorflow=={LOWEST_TENSORFLOW}.*"' in ci
    smoke = [line for line in (ROOT / "tests" / "lowest_tf_smoke.txt").read_text().splitlines()]
    for test in [line for line in smoke if line and not line.startswith(("#", "-"))]:
        assert (ROOT / test.split("::")[0]).is_file(), test


def resolve(extra: str, report: Path) -> dict[str, dict]:
    """`pip install --dry-run --report` of `.[extra]` into an empty environment: name -> entry."""
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--dry-run", "--ignore-installed"]
    command += ["--report", str(report), f"{ROOT}[{extra}]"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    entries = json.loads(report.read_text())["install"]
    return {canonical(e["metadata"]["name"]): e for e in entries}


def cuda_requirements(tensorflow: dict) -> set[str]:
    """The packages `tensorflow[and-cuda]` adds, read from the resolved wheel's own metadata."""
    return {
        requirement_name(r)
        for r in tensorflow["metadata"].get("requires_dist", [])
        if re.search(r"""extra\s*==\s*["']and-cuda["']""", r)
    }


def version(entry: dict) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", entry["metadata"]["version"])[:2])


@pytest.mark.slow
def test_extras_resolve_to_exactly_one_tensorflow_build(tmp_path):
    extras = ("cpu", "gpu", "tpu")
    with ThreadPoolExecutor(len(extras)) as pool:
        plans = dict(
            zip(extras, pool.map(lambda e: resolve(e, tmp_path / f"{e}.json"), extras), strict=True)
        )
    lowest = tuple(int(p) for p in LOWEST_TENSORFLOW.split("."))
    for extra, plan in plans.items():
        assert "ylg-tf" in plan, extra
        assert plan["ylg-tf"].get("requested_extras") == [extra], plan["ylg-tf"]
        assert "keras" in plan, extra

    cpu, gpu, tpu = (plans[e] for e in extras)
    assert "tensorflow" in cpu and version(cpu["tensorflow"]) >= lowest
    assert not [n for n in cpu if n.startswith("nvidia-") or n in ("libtpu", "tensorflow-tpu")]

    assert "tensorflow" in gpu and "tensorflow-tpu" not in gpu
    cuda = cuda_requirements(gpu["tensorflow"])
    assert cuda and all(name.startswith("nvidia-") for name in cuda), cuda
    assert cuda <= set(gpu), cuda - set(gpu)

    assert "tensorflow-tpu" in tpu and "libtpu" in tpu and version(tpu["tensorflow-tpu"]) >= lowest
    assert not (TF_BUILDS - {"tensorflow-tpu"}) & set(tpu), sorted(TF_BUILDS & set(tpu))
