"""Run files through tf.io.gfile: umask-respecting modes, and a whole run on `ram://`."""

import os
import stat

import numpy as np
import pytest
import tensorflow as tf
from shared_runs import tiny_config

from ylg_tf.evaluation import Evaluator, evaluate_run, write_scores
from ylg_tf.evaluation.classifiers import Classifier
from ylg_tf.evaluation.digits_classifier import train_digits_classifier
from ylg_tf.export import export_run
from ylg_tf.inversion import invert_run
from ylg_tf.runs import files
from ylg_tf.runs.loading import load_run
from ylg_tf.sampling import sample_run
from ylg_tf.training import GANTrainer, make_strategy


def copy_to_url(source, url):
    """Copies the local folder `source` to `url` through tf.io.gfile."""
    for path in source.rglob("*"):
        if path.is_file():
            target = f"{url}/{path.relative_to(source)}"
            tf.io.gfile.makedirs(target.rsplit("/", 1)[0])
            tf.io.gfile.copy(str(path), target)


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def modes(root):
    """`{relative path: permission bits}` of everything below `root`."""
    found = {}
    for directory, subdirs, names in os.walk(root):
        for name in subdirs + names:
            path = os.path.join(directory, name)
            found[os.path.relpath(path, root)] = stat.S_IMODE(os.stat(path).st_mode)
    return found


@pytest.mark.parametrize("root", ["local", "ram://missing_reads"])
def test_a_missing_file_is_python_file_not_found(tmp_path, root):
    directory = str(tmp_path) if root == "local" else root
    path = files.join(directory, "nothing.json")
    for read in (files.read_json, files.read_text, files.load_npz):
        with pytest.raises(FileNotFoundError, match=f"No file at {path}"):
            read(path)


def test_atomic_writes_have_the_umask_modes(tmp_path, umask_022):
    files.write_json(tmp_path / "eval" / "step_0000002.json", {"fid": 1.0})
    write_scores(tmp_path / "eval" / "step_0000004.json", {"fid": float("nan")})
    files.save_npz(tmp_path / "cache" / "real.npz", mean=np.zeros(3))
    with files.atomic_directory(tmp_path / "export" / "7") as scratch:
        files.write_text(files.join(scratch, "assets.extra", "ylg_tf.json"), "{}")
    found = modes(tmp_path)
    assert found == {
        "eval": 0o755,
        "eval/step_0000002.json": 0o644,
        "eval/step_0000004.json": 0o644,  # today's code: 0600 (mkstemp)
        "cache": 0o755,
        "cache/real.npz": 0o644,
        "export": 0o755,
        "export/7": 0o755,  # today's code: 0700 (mkdtemp)
        "export/7/assets.extra": 0o755,
        "export/7/assets.extra/ylg_tf.json": 0o644,
    }


def test_caches_have_the_umask_modes(tmp_path, umask_022):
    train_digits_classifier(tmp_path / "classifiers" / "digits", epochs=1)
    classifier = Classifier("toy", "toy-1", 8, lambda x: (x[:, 0, 0, :2], x[:, :, 0, 0]))
    evaluator = Evaluator(classifier, "digits", 32, num_samples=8, batch_size=8,
                          cache_dir=tmp_path)  # fmt: skip
    evaluator.real_statistics()
    found = modes(tmp_path)
    assert set(found.values()) == {0o755, 0o644}, found
    assert sum(name.startswith("real_stats/") for name in found) == 1


@pytest.mark.integration
def test_a_run_on_ram_filesystem_end_to_end(shared_tiny_run, digits_cache):
    """Start, resume, evaluate, sample, export and invert with every file on `ram://`."""
    GANTrainer(tiny_config(1), make_strategy("default"), "ram://runs/new").close()
    assert {"config.json", "run.json"} <= set(tf.io.gfile.listdir("ram://runs/new"))
    workdir = "ram://runs/tiny"
    copy_to_url(shared_tiny_run, workdir)
    copy_to_url(digits_cache / "classifiers", "ram://runs/.ylg_cache/classifiers")  # the default
    config = tiny_config(3, ema_decay=0.9)
    config.eval.update(num_samples=8, batch_size=8)
    resumed = GANTrainer(config, make_strategy("default"), workdir)
    assert int(resumed.step.numpy()) == 2
    resumed.train()
    resumed.close()
    for written in ("checkpoints/ckpt-3.index", "samples/step_0000003.png"):
        assert files.exists(f"{workdir}/{written}"), written
    run = load_run(workdir)
    assert run.step == 3 and run.ema and str(run.checkpoint).startswith("ram://")

    path, scores = evaluate_run(workdir, num_samples=8, batch_size=8)
    assert str(path) == "ram://runs/tiny/eval/step_0000003.json" and files.exists(path)
    assert scores["num_generated"] == 8 and tf.io.gfile.glob("ram://runs/.ylg_cache/real_stats/*")
    written = sample_run(workdir, "1.0", classes=[0, 1], per_class=2)
    assert all(files.exists(p) and str(p).startswith("ram://") for p in written)
    exported = export_run(workdir)
    assert str(exported) == "ram://runs/tiny/export/3"
    assert files.exists(files.join(exported, "saved_model.pb"))
    inversion = invert_run(workdir, from_samples=1, method="pixel", steps=2, restarts=1)
    assert str(inversion.outdir) == "ram://runs/tiny/inversion/pixel"
    assert files.exists(files.join(inversion.outdir, "inversion.npz"))
