"""The SavedModel export: loaded in a fresh process it equals the in-memory generator."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from ylg_tf.export import METADATA_FILE, export_generator, export_run
from ylg_tf.models import build_generator
from ylg_tf.runs.loading import load_run
from ylg_tf.sampling import truncated_normal
from ylg_tf.training import default_config

_LOADER = """
import sys
import numpy as np
import tensorflow as tf

path, inputs, outputs = sys.argv[1:]
model = tf.saved_model.load(path)
given = np.load(inputs)
z, labels = tf.constant(given["z"]), tf.constant(given["labels"])
generate = model.signatures["generate"](z=z, labels=labels)
sample = model.signatures["sample"](
    num=tf.constant(5), seed=tf.constant(11, tf.int64), truncation=tf.constant(0.7),
    labels=tf.constant([3], tf.int32),
)
attention = model.signatures["attention"](z=z, labels=labels)
np.savez(
    outputs,
    images=generate["images"], images_uint8=generate["images_uint8"],
    sample_images=sample["images"], sample_z=sample["z"], sample_labels=sample["labels"],
    attention=attention["attention"],
)
"""


@pytest.fixture(scope="module")
def exported(tiny_run):
    path = export_run(tiny_run)
    return path, load_run(tiny_run)


@pytest.fixture(scope="module")
def served(exported):
    """The exported SavedModel, loaded once for the input-checking tests."""
    return tf.saved_model.load(str(exported[0]))


def test_export_layout_and_metadata(exported, tiny_run):
    path, run = exported
    assert path == tiny_run / "export" / "2"  # a numbered version directory for TF Serving
    assert (path / "saved_model.pb").exists()
    metadata = json.loads((path / METADATA_FILE).read_text())
    assert metadata["z_dim"] == 128 and metadata["num_classes"] == 10
    assert metadata["step"] == 2 and metadata["generator"] == "ema"
    assert metadata["signatures"] == ["generate", "sample", "attention"]
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no leftovers
    with pytest.raises(FileExistsError, match="overwrite"):
        export_run(tiny_run)


@pytest.mark.integration
def test_fresh_process_outputs_equal_the_in_memory_generator(exported, tmp_path):
    path, run = exported
    rng = np.random.default_rng(0)
    z = rng.standard_normal((4, 128)).astype(np.float32)
    labels = np.array([0, 3, 9, 3], np.int32)
    np.savez(tmp_path / "inputs.npz", z=z, labels=labels)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    result = subprocess.run(
        [sys.executable, "-c", _LOADER, str(path), tmp_path / "inputs.npz", tmp_path / "out.npz"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = np.load(tmp_path / "out.npz")
    images, (probs,) = run.generator((z, labels), training=False, return_attention_scores=True)
    np.testing.assert_allclose(out["images"], images, atol=1e-5)
    expected_uint8 = np.round(np.clip((np.asarray(images) + 1) * 127.5, 0, 255))
    assert np.abs(out["images_uint8"].astype(int) - expected_uint8).max() <= 1
    np.testing.assert_allclose(out["attention"], probs, atol=1e-6)
    z_sample = truncated_normal((5, 128), 0.7, seed=11)
    np.testing.assert_array_equal(out["sample_z"], z_sample)
    assert out["sample_labels"].tolist() == [3] * 5
    np.testing.assert_allclose(
        out["sample_images"], run.generator((z_sample, out["sample_labels"])), atol=1e-5
    )


@pytest.mark.integration
def test_saved_model_cli_lists_the_signatures(exported):
    path, _ = exported
    cli = Path(sys.executable).parent / "saved_model_cli"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    result = subprocess.run(
        [str(cli), "show", "--dir", str(path), "--all"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for name in ("generate", "sample", "attention", "serving_default"):
        assert f"signature_def['{name}']" in result.stdout, name
    generate = result.stdout.split("signature_def['generate']")[1].split("signature_def[")[0]
    assert "inputs['z']" in generate and "DT_FLOAT" in generate and "(-1, 128)" in generate
    assert "inputs['labels']" in generate and "DT_INT32" in generate
    assert "outputs['images_uint8']" in generate and "DT_UINT8" in generate


def test_wrong_inputs_are_rejected_with_clear_errors(served):
    model = served
    generate = model.signatures["generate"]
    z, labels = tf.zeros([2, 128]), tf.constant([1, 2])
    with pytest.raises(tf.errors.InvalidArgumentError, match="expected to be a float tensor"):
        generate(z=tf.zeros([2, 128], tf.float64), labels=labels)
    with pytest.raises(tf.errors.InvalidArgumentError, match="expected to be a int32 tensor"):
        generate(z=z, labels=tf.constant([1, 2], tf.int64))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"z must be float32 \[N, 128\]"):
        generate(z=tf.zeros([2, 5]), labels=labels)
    with pytest.raises(tf.errors.InvalidArgumentError, match="one per row of z"):
        generate(z=z, labels=tf.constant([1]))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"labels must be in \[0, 10\)"):
        generate(z=z, labels=tf.constant([1, 10]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="labels must be int32 \\[num\\]"):
        model.signatures["sample"](
            num=tf.constant(3),
            seed=tf.constant(0, tf.int64),
            truncation=tf.constant(1.0),
            labels=tf.constant([1, 2]),
        )
    with pytest.raises((TypeError, ValueError), match="TensorSpec"):  # the tf.function itself
        model.generate(tf.zeros([2, 5]), labels)


def _refusal(signature, **inputs) -> str:
    with pytest.raises(tf.errors.InvalidArgumentError) as error:
        signature(**inputs)
    return error.value.message


def test_empty_or_non_finite_z_and_bad_num_are_refused_by_name(served):
    generate, sample = served.signatures["generate"], served.signatures["sample"]
    empty = _refusal(generate, z=tf.zeros([0, 128]), labels=tf.zeros([0], tf.int32))
    assert "generate: z must have N >= 1 rows" in empty
    z = np.zeros((3, 128), np.float32)
    z[1, 7] = np.nan
    for signature in ("generate", "attention"):
        message = _refusal(served.signatures[signature], z=tf.constant(z), labels=[1, 2, 3])
        assert f"{signature}: z must be finite" in message
    z[1, 7] = np.inf
    assert "z must be finite" in _refusal(generate, z=tf.constant(z), labels=[1, 2, 3])
    narrow = _refusal(generate, z=tf.zeros([2, 127]), labels=tf.constant([1, 2]))
    assert r"z must be float32 [N, 128]" in narrow
    for message in (empty, narrow):  # no longer dressed up as a NaN check
        assert "NaN values" not in message, message
    fixed = {"seed": tf.constant(0, tf.int64), "labels": tf.constant([], tf.int32)}
    for num in (0, -2):
        message = _refusal(sample, num=tf.constant(num), truncation=tf.constant(1.0), **fixed)
        assert "sample: num must be an int32 >= 1" in message
    for threshold in (-0.5, np.nan, np.inf):
        message = _refusal(sample, num=tf.constant(2), truncation=tf.constant(threshold), **fixed)
        assert "truncation threshold must be finite and > 0, or 0 for none" in message
    good = sample(num=tf.constant(1), truncation=tf.constant(0.0), **fixed)["images"]
    assert good.shape == (1, 32, 32, 3) and np.isfinite(good.numpy()).all()


def test_generator_without_attention_has_no_attention_signature(tmp_path):
    config = default_config()
    config.model.variant = "no_attention"
    config.model.generator.base_channels = 16
    generator = build_generator(config, num_classes=3)
    path = export_generator(generator, tmp_path / "1")
    model = tf.saved_model.load(str(path))
    assert sorted(model.signatures) == ["generate", "sample", "serving_default"]
    out = model.signatures["sample"](
        num=tf.constant(2),
        seed=tf.constant(1, tf.int64),
        truncation=tf.constant(0.0),
        labels=tf.constant([], tf.int32),
    )
    assert out["images"].shape == (2, 32, 32, 3) and set(out["labels"].numpy()) <= {0, 1, 2}
    with pytest.raises(FileExistsError):
        export_generator(generator, path)
    shutil.rmtree(path)
