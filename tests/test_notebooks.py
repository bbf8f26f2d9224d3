"""Every notebook under notebooks/ runs headless, at smoke sizes (and, in a slow test, at full
size), and shows what it should.

The notebooks run in a Jupyter kernel of this interpreter (the venv's `python3` kernel spec,
which ipykernel installs), with `YLG_NOTEBOOK_SMOKE=1`, their runs in a temporary directory and
the session's digits classifier as evaluation cache.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import nbclient
import nbformat
import numpy as np
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def _execute(
    name: str, runs: Path, cache: Path, monkeypatch, smoke: bool = True
) -> tuple[str, list]:
    """Runs a notebook (at smoke sizes unless `smoke=False`); returns its text output and the
    notebook (cell errors raise)."""
    for key, value in {
        "YLG_NOTEBOOK_RUNS": str(runs),
        "YLG_CACHE_DIR": str(cache),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }.items():
        monkeypatch.setenv(key, value)
    if smoke:
        monkeypatch.setenv("YLG_NOTEBOOK_SMOKE", "1")
    else:  # the notebooks' own sizes, as a user runs them
        monkeypatch.delenv("YLG_NOTEBOOK_SMOKE", raising=False)
        monkeypatch.delenv("YLG_INVERSION_RUN", raising=False)
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=300 if smoke else 3600,  # seconds per cell; full size trains 500 + 1500 steps
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()  # raises CellExecutionError naming the failing cell
    text = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.output_type == "stream":
                text.append(output.text)
            elif "data" in output:
                text.append(output.data.get("text/plain", ""))
                text.append(output.data.get("text/markdown", ""))
    return "\n".join(text), notebook


def _inline_images(notebook) -> int:
    return sum(
        "image/png" in output.get("data", {})
        for cell in notebook.cells
        for output in cell.get("outputs", [])
    )


def test_notebooks_are_built_from_the_builder():
    """The committed notebooks carry no outputs and use the venv kernel spec name."""
    for name in ("attention_patterns.ipynb", "quickstart.ipynb", "inversion_demo.ipynb"):
        notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
        nbformat.validate(notebook)
        assert notebook.metadata.kernelspec.name == "python3"
        assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")
        install = notebook.cells[1].source
        assert '"google.colab" in sys.modules' in install and 'REPO_URL = ""  # @param' in install


def _run_install_cell(monkeypatch, repo_url: str = "") -> list:
    """Executes the install cell as Colab would (`google.colab` imported), recording commands."""
    notebook = nbformat.read(NOTEBOOKS / "quickstart.ipynb", as_version=4)
    source = notebook.cells[1].source.replace('REPO_URL = ""', f"REPO_URL = {repo_url!r}")
    commands = []
    monkeypatch.setitem(sys.modules, "google.colab", type(sys)("google.colab"))
    monkeypatch.setattr("subprocess.run", lambda command, check: commands.append(command))
    monkeypatch.setattr("os.chdir", lambda path: commands.append(["cd", path]))
    exec(compile(source, "install_cell", "exec"), {})
    return commands


def test_colab_install_cell_says_what_to_set(monkeypatch):
    with pytest.raises(RuntimeError, match="set REPO_URL in this cell .* upload it as"):
        _run_install_cell(monkeypatch)


def test_colab_install_cell_clones_and_installs_the_given_url(monkeypatch):
    url = "https://example.org/me/ylg_tf.git"
    clone, pip, cd = _run_install_cell(monkeypatch, url)
    assert clone == ["git", "clone", "-q", "--depth", "1", url, "/content/ylg_tf"]
    assert pip[1:] == ["-m", "pip", "install", "-q", "-e", "/content/ylg_tf"]
    assert cd == ["cd", "/content/ylg_tf/notebooks"]


@pytest.mark.integration
def test_attention_patterns(tmp_path, monkeypatch):
    text, notebook = _execute("attention_patterns.ipynb", tmp_path, tmp_path, monkeypatch)
    assert f"python: {sys.executable}" in text  # the kernel is this interpreter
    # Supplementary §6 / Fig. 3: strided lacks Full Information, its extension and LTR have it;
    # the order of LTR's steps matters.
    for verdict in (
        "full information strided n=64: no",
        "full information strided_fi n=64: yes",
        "full information ltr n=64: yes",
        "full information ltr reversed n=64: no",
    ):
        assert verdict in text
    assert "ESA order of a 3x3 grid: [(0, 0), (0, 1), (1, 0), (0, 2), (1, 1), (2, 0)" in text
    assert "| ltr | 64 | 8 | 2 |" in text  # the density table
    out = tmp_path / "notebooks" / "attention_patterns"
    for png in ("heads_ylg.png", "heads_dense.png", "orders_8x8.png", "ifg_strided_n9.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG"
    assert _inline_images(notebook) >= 15


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory, digits_cache):
    """The executed quickstart notebook: `(text output, notebook, runs directory)`. Its run is
    the one the inversion demo loads, so that the module trains one model, not two."""
    runs = tmp_path_factory.mktemp("notebook_runs")
    with pytest.MonkeyPatch.context() as monkeypatch:
        text, notebook = _execute("quickstart.ipynb", runs, digits_cache, monkeypatch)
    return text, notebook, runs


@pytest.mark.integration
def test_quickstart(quickstart):
    text, notebook, runs = quickstart
    workdir = runs / "quickstart_smoke"
    assert "step 2:" in text
    assert (workdir / "samples" / "step_0000002_truncation_2.png").is_file()
    (scores,) = [json.loads(p.read_text()) for p in (workdir / "eval").glob("step_*.json")]
    assert np.isfinite(scores["fid"]) and scores["num_generated"] == 16
    assert f"FID {scores['fid']:.1f}" in text
    assert (workdir / "export" / "2" / "saved_model.pb").is_file()
    assert "'images_uint8': (8, 32, 32, 3)" in text  # the reloaded `sample` signature
    assert (workdir / "attention.png").is_file() and _inline_images(notebook) >= 5


@pytest.mark.integration
def test_inversion_demo(quickstart, tmp_path, monkeypatch):
    if not (Path(__file__).resolve().parents[1] / "ylg_tf" / "inversion" / "driver.py").exists():
        pytest.skip("ylg_tf.inversion is not there yet")
    run = quickstart[2] / "quickstart_smoke"
    monkeypatch.setenv("YLG_INVERSION_RUN", str(run))  # loads it instead of training
    text, notebook = _execute("inversion_demo.ipynb", tmp_path, tmp_path, monkeypatch)
    assert "ylg at step 2 (EMA G)" in text
    out = run / "inversion_demo"
    for method in ("ylg", "pixel", "saliency_pixel", "d_space"):
        assert f"| {method} | 3 |" in text  # a row of the comparison table, 3 steps each
        with np.load(out / method / "inversion.npz") as arrays:
            assert arrays["images"].shape == (2, 32, 32, 3)
        assert (out / method / "figure_1.png").is_file()
    assert "sums per head: [1. 1. 1. 1. 1. 1. 1. 1.]" in text  # 8 YLG heads, distributions
    assert (out / "saliency_real.png").is_file() and _inline_images(notebook) >= 10


@pytest.mark.slow
def test_all_notebooks_at_full_size(tmp_path, monkeypatch, digits_cache):
    """The three notebooks as a user runs them: quickstart trains 500 steps and scores 1000
    samples, the inversion demo trains its own 1500-step model and inverts with 4 restarts of up
    to 1500 steps per method (tens of minutes on 2 CPU cores)."""
    text, _ = _execute("attention_patterns.ipynb", tmp_path, digits_cache, monkeypatch, False)
    for verdict in (
        "full information strided n=256: no",
        "full information strided_fi n=256: yes",
        "full information ltr n=256: yes",
        "full information ltr reversed n=256: no",
    ):
        assert verdict in text
    assert "| ltr | 256 |" in text

    text, _ = _execute("quickstart.ipynb", tmp_path, digits_cache, monkeypatch, False)
    workdir = tmp_path / "quickstart"
    assert "step 500:" in text
    (scores,) = [json.loads(p.read_text()) for p in (workdir / "eval").glob("step_*.json")]
    assert np.isfinite(scores["fid"]) and scores["num_generated"] == 1000
    assert (workdir / "export" / "500" / "saved_model.pb").is_file()
    assert (workdir / "attention.png").is_file()

    text, _ = _execute("inversion_demo.ipynb", tmp_path, digits_cache, monkeypatch, False)
    run = tmp_path / "ylg_digits32"
    assert "ylg at step 1500 (EMA G)" in text
    for method in ("ylg", "pixel", "saliency_pixel", "d_space"):
        assert f"| {method} |" in text
        with np.load(run / "inversion_demo" / method / "inversion.npz") as arrays:
            assert arrays["images"].shape == (2, 32, 32, 3)
    assert "sums per head: [1. 1. 1. 1. 1. 1. 1. 1.]" in text


def test_kernel_spec_is_this_interpreter():
    """nbclient's `python3` kernel starts `sys.executable` when ipykernel is installed here."""
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    assert spec.argv[0] in ("python", sys.executable, os.path.realpath(sys.executable))
