"""Classifier backends, the streaming evaluator and its cache, run evaluation, training eval."""

import hashlib
import json
import os
import re
import tarfile

import numpy as np
import pytest
import tensorflow as tf
from binaries import run_binary

from ylg_tf.data import build_dataset
from ylg_tf.evaluation import (
    PROTOCOLS,
    Classifier,
    Evaluator,
    evaluate_run,
    fid_infinity,
    frechet_classifier_distance_from_activations,
    kernel_classifier_distance_and_std_from_activations,
    load_classifier,
    make_evaluator,
    resolve_hub_handle,
    truncation_sweep_run,
)
from ylg_tf.evaluation import evaluator as evaluator_module
from ylg_tf.evaluation.digits_classifier import digits_arrays, digits_classifier
from ylg_tf.runs.config import default_config

# --- a stand-in for TF-GAN's Inception module ------------------------------------------------


class _FakeInception(tf.Module):
    """Same interface as tfgan/eval/inception/1: images [N, 299, 299, 3] in [-1, 1] ->
    {"logits": [N, 1008], "pool_3": [N, 1, 1, 2048]}, from fixed random projections."""

    def __init__(self):
        super().__init__()
        rng = np.random.default_rng(0)
        self.to_pool = tf.Variable(rng.standard_normal((3, 2048)).astype(np.float32))
        self.to_logits = tf.Variable(rng.standard_normal((2048, 1008)).astype(np.float32) / 40)

    @tf.function(input_signature=[tf.TensorSpec([None, 299, 299, 3], tf.float32)])
    def __call__(self, images):
        pooled = tf.nn.relu(tf.reduce_mean(images, axis=[1, 2]) @ self.to_pool)
        return {"logits": pooled @ self.to_logits, "pool_3": pooled[:, None, None, :]}


def _fake_outputs(module, images):
    resized = tf.image.resize(images, [299, 299], method="bilinear")
    pooled = np.maximum(np.mean(resized.numpy(), axis=(1, 2)) @ module.to_pool.numpy(), 0)
    return pooled @ module.to_logits.numpy(), pooled


@pytest.fixture(scope="module")
def fake_inception(tmp_path_factory):
    directory = tmp_path_factory.mktemp("inception") / "module"
    module = _FakeInception()
    tf.saved_model.save(module, str(directory))
    return directory, module


def _digits_images(count=40, resolution=32):
    dataset, _ = build_dataset("digits", resolution)
    return next(iter(dataset.take(count).batch(count).as_numpy_iterator()))[0]


# --- classifiers ---------------------------------------------------------------------------------


def test_inception_from_a_local_directory(fake_inception, tmp_path):
    directory, module = fake_inception
    classifier = load_classifier(f"inception:{directory}", tmp_path)
    images = _digits_images(6)  # 32x32, resized to 299x299 inside the classifier
    logits, activations = classifier(images)
    expected_logits, expected_pool = _fake_outputs(module, images)
    assert logits.shape == (6, 1008) and activations.shape == (6, 2048)
    np.testing.assert_allclose(activations, expected_pool, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(logits, expected_logits, rtol=1e-4, atol=1e-4)
    assert classifier.name == f"inception:{directory}"


def test_inception_from_a_tarball_and_from_a_cached_url(fake_inception, tmp_path, monkeypatch):
    directory, _ = fake_inception
    archive = tmp_path / "inception.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(directory, arcname="module")
    extracted = resolve_hub_handle(str(archive), tmp_path / "tfhub")
    assert (extracted / "saved_model.pb").exists() and extracted.parent == tmp_path / "tfhub"

    def no_network(*args, **kwargs):
        raise AssertionError("tried to download")

    monkeypatch.setattr("urllib.request.urlretrieve", no_network)
    url = "https://tfhub.dev/tensorflow/tfgan/eval/inception/1"
    hub_cache = tmp_path / "hub_cache"  # tensorflow_hub's layout: <TFHUB_CACHE_DIR>/<sha1(url)>
    (hub_cache / hashlib.sha1(url.encode()).hexdigest()).parent.mkdir()
    os.symlink(directory, hub_cache / hashlib.sha1(url.encode()).hexdigest())
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(hub_cache))
    classifier = load_classifier("inception", tmp_path / "cache")  # the default TF-Hub handle
    assert classifier(_digits_images(2))[1].shape == (2, 2048)


def test_bad_classifier_specs_are_named(tmp_path):
    with pytest.raises(ValueError, match="'resnet'.*'digits'"):
        load_classifier("resnet", tmp_path)
    with pytest.raises(ValueError, match="neither a SavedModel directory"):
        load_classifier(f"inception:{tmp_path / 'missing'}", tmp_path)


def test_digits_classifier_is_accurate_and_cached(digits_cache):
    classifier = load_classifier("digits", digits_cache)
    assert classifier.info["accuracy"] > 0.9, classifier.info  # held-out 20% of the digits
    (_, _), (images, labels) = digits_arrays()
    logits, features = classifier(images)
    assert logits.shape == (len(labels), 10) and features.shape == (len(labels), 128)
    assert np.mean(logits.argmax(1) == labels) == pytest.approx(classifier.info["accuracy"])
    # Resized inputs (a 64x64 run) are brought back to 32x32 bilinearly, still well classified.
    large = tf.image.resize(images, [64, 64]).numpy()
    assert np.mean(classifier(large)[0].argmax(1) == labels) > 0.9
    again = digits_classifier(digits_cache / "classifiers" / "digits")  # loaded, not retrained
    assert again.fingerprint == classifier.fingerprint


# --- the evaluator --------------------------------------------------------------------------------


class _Counting:
    """A classifier that counts the images it is given."""

    def __init__(self, classifier: Classifier):
        self.classifier, self.images = classifier, 0

    def __getattr__(self, name):  # name, fingerprint, protocol, weights, input_size
        return getattr(self.classifier, name)

    def __call__(self, images):
        self.images += len(images)
        return self.classifier(images)


def test_real_set_against_itself_and_streaming(digits_cache, tmp_path):
    classifier = load_classifier("digits", digits_cache)
    evaluator = Evaluator(classifier, "digits", 32, num_samples=120, batch_size=50)
    real = evaluator.real_statistics()
    assert real.num_samples == 120 and real.activations.shape == (120, 128)
    images = _digits_images(120)
    scores = evaluator.evaluate_images(images[k : k + 7] for k in range(0, 120, 7))
    assert scores["num_real"] == scores["num_generated"] == 120
    assert abs(scores["fid"]) < 1e-6 * np.trace(real.cov)
    # the same scores as the metric functions on all activations at once
    logits, activations = classifier(images)
    np.testing.assert_allclose(activations, real.activations, rtol=1e-5, atol=1e-5)
    assert scores["fid"] == pytest.approx(
        frechet_classifier_distance_from_activations(real.activations, activations), abs=1e-6
    )
    order = np.random.default_rng(0).permutation(120)
    kid, _ = kernel_classifier_distance_and_std_from_activations(
        real.activations[order], activations, 1024
    )
    assert scores["kid"] == pytest.approx(kid, rel=1e-6, abs=1e-6)
    assert 1.0 <= scores["is"] <= 10.0 and scores["real_is"] == pytest.approx(scores["is"])


def test_real_statistics_are_cached_per_key(digits_cache, tmp_path, monkeypatch):
    classifier = _Counting(load_classifier("digits", digits_cache))
    evaluator = Evaluator(classifier, "digits", 32, num_samples=30, cache_dir=tmp_path)
    first = evaluator.real_statistics()
    assert first.path is not None and first.path.exists() and classifier.images == 30

    def no_data(*args, **kwargs):
        raise AssertionError("read the dataset again")

    monkeypatch.setattr(evaluator_module, "build_dataset", no_data)
    cached = Evaluator(classifier, "digits", 32, num_samples=30, cache_dir=tmp_path)
    second = cached.real_statistics()
    assert second.path == first.path and classifier.images == 30
    np.testing.assert_array_equal(second.cov, first.cov)
    np.testing.assert_array_equal(second.activations, first.activations)
    for other in (
        Evaluator(classifier, "digits", 32, num_samples=31, cache_dir=tmp_path),
        Evaluator(classifier, "digits", 64, num_samples=30, cache_dir=tmp_path),
        Evaluator(classifier, "digits", 32, split="test", num_samples=30, cache_dir=tmp_path),
    ):
        assert other.cache_path != first.path


def test_evaluate_generator_is_seeded_and_balanced(digits_cache):
    classifier = load_classifier("digits", digits_cache)
    evaluator = Evaluator(classifier, "digits", 32, num_samples=40, batch_size=16)
    seen = []

    def generator(inputs, training=False):
        z, labels = inputs
        seen.append(np.asarray(labels))
        return tf.tanh(tf.reshape(tf.tile(z[:, :4], [1, 768]), [-1, 32, 32, 3]))

    first = evaluator.evaluate_generator(generator, 10, z_dim=8, seed=3)
    labels = np.concatenate(seen)
    assert np.bincount(labels, minlength=10).tolist() == [4] * 10
    assert evaluator.evaluate_generator(generator, 10, z_dim=8, seed=3)["fid"] == first["fid"]
    assert evaluator.evaluate_generator(generator, 10, z_dim=8, seed=4)["fid"] != first["fid"]
    truncated = evaluator.evaluate_generator(generator, 10, z_dim=8, seed=3, truncation=0.5)
    assert truncated["truncation"] == 0.5 and truncated["num_generated"] == 40


def test_num_samples_zero_is_an_error_not_the_default(digits_cache, tmp_path):
    config = default_config()
    config.eval.cache_dir = str(digits_cache)
    with pytest.raises(ValueError, match="num_samples=0; expected an integer >= 2"):
        make_evaluator(config, tmp_path / "run", num_samples=0)
    with pytest.raises(ValueError, match="batch_size=0; expected an integer >= 1"):
        make_evaluator(config, tmp_path / "run", batch_size=0)
    evaluator = Evaluator(_pooled_classifier(), "digits", 32, num_samples=20)

    def generator(inputs, training=False):
        raise AssertionError("generated images for num_samples=0")

    with pytest.raises(ValueError, match="num_samples=0; expected an integer >= 2"):
        evaluator.evaluate_generator(generator, 10, z_dim=4, num_samples=0)


def test_config_eval_sets_the_metrics_and_is_validated(digits_cache, tmp_path):
    from ylg_tf.training import validate

    config = default_config()
    config.eval.update(cache_dir=str(digits_cache), prdc_nearest_k=3, fid_infinity=True)
    evaluator = make_evaluator(config, tmp_path / "run")
    assert (evaluator.prdc_nearest_k, evaluator.intra_fid, evaluator.fid_infinity) == (
        3,
        True,
        True,
    )
    assert evaluator.judge is not None and evaluator.judge.exclude_split is None
    assert evaluator.protocol.name == "digits"
    config.data.split = "train[:80%]"
    config.eval.update(judge=False, intra_fid=False, protocol="clean")
    evaluator = make_evaluator(config, tmp_path / "run")
    assert (
        evaluator.judge is None and not evaluator.intra_fid and evaluator.protocol.name == "clean"
    )
    for field, value, message in (
        ("protocol", "fast", "config.eval.protocol: Unknown metric protocol 'fast'"),
        ("protocol", "tfgan", "'tfgan' is for inception features, not the classifier 'digits'"),
        ("prdc_nearest_k", -1, "config.eval.prdc_nearest_k=-1; expected an integer >= 0"),
        ("classifier", "resnet", "config.eval.classifier='resnet'; expected 'auto'"),
    ):
        bad = default_config()
        bad.eval[field] = value
        with pytest.raises(ValueError, match=re.escape(message)):
            validate(bad)
    inception = default_config()
    inception.eval.update(classifier="inception", protocol="tfgan")
    validate(inception)


# --- the metrics beyond FID -------------------------------------------------------------------


def _pooled_classifier(protocol=PROTOCOLS["clean"]):
    """A fake backbone: the gray image at 4x4 (16 features) and fixed random logits."""
    projection = np.random.default_rng(0).standard_normal((16, 10)).astype(np.float32)

    def fn(images):
        features = tf.reshape(tf.reduce_mean(images, axis=-1), [-1, 16])
        return features @ projection, features

    return Classifier("pooled", "pooled-1", 4, fn, protocol=protocol)


def _sqrtm_fid(x: np.ndarray, y: np.ndarray) -> float:
    """FID in float64 with SciPy's general matrix square root."""
    import scipy.linalg

    c1, c2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    root = scipy.linalg.sqrtm(c1 @ c2).real
    return float(np.sum((x.mean(0) - y.mean(0)) ** 2) + np.trace(c1 + c2) - 2 * np.trace(root))


def _prdc_brute_force(real: np.ndarray, fake: np.ndarray, k: int) -> dict:
    """The four definitions on full float64 distance matrices (column 0 of a sorted row of a
    set against itself is the point itself)."""

    def distances(a, b):
        return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))

    real_radii = np.sort(distances(real, real), axis=1)[:, k]
    fake_radii = np.sort(distances(fake, fake), axis=1)[:, k]
    between = distances(real, fake)  # [real, fake]
    inside_real = between <= real_radii[:, None]
    return {
        "precision": inside_real.any(axis=0).mean(),
        "recall": (between <= fake_radii[None, :]).any(axis=1).mean(),
        "density": inside_real.sum() / (k * len(fake)),
        "coverage": inside_real.any(axis=1).mean(),
    }


def test_evaluator_prdc_intra_fid_and_fid_infinity_equal_float64_references():
    classifier = _pooled_classifier()
    evaluator = Evaluator(
        classifier, "digits", 32, num_samples=300, batch_size=128, prdc_nearest_k=4
    )
    dataset, _ = build_dataset("digits", 32)
    real_images, real_labels = next(iter(dataset.take(300).batch(300).as_numpy_iterator()))
    images, labels = next(iter(dataset.skip(300).take(300).batch(300).as_numpy_iterator()))
    noisy = np.clip(images + 0.3 * np.random.default_rng(1).standard_normal(images.shape), -1, 1)
    noisy = noisy.astype(np.float32)
    scores = evaluator.evaluate_images(
        (noisy[k : k + 128], labels[k : k + 128]) for k in range(0, 300, 128)
    )
    real = evaluator.real_statistics()
    np.testing.assert_array_equal(real.labels, real_labels)
    real_features = real.activations.astype(np.float64)
    fake = classifier(noisy)[1].astype(np.float64)
    for key, value in _prdc_brute_force(real_features, fake, 4).items():
        assert scores[key] == pytest.approx(value, abs=1e-12), key
    assert 0.0 < scores["coverage"] < 1.0 and scores["prdc_nearest_k"] == 4
    per_class = {
        str(c): _sqrtm_fid(real_features[real_labels == c], fake[labels == c]) for c in range(10)
    }
    assert scores["intra_fid_per_class"].keys() == per_class.keys()
    for c, fid in per_class.items():
        assert scores["intra_fid_per_class"][c] == pytest.approx(fid, rel=1e-6), c
    assert scores["intra_fid"] == pytest.approx(np.mean(list(per_class.values())), rel=1e-6)
    assert scores["intra_fid"] > scores["fid"]  # fewer samples per class: more bias
    assert "fid_infinity" not in scores and "judge_accuracy" not in scores
    # PRDC and intra-FID off, FID-infinity on: the library function on the same activations.
    other = Evaluator(
        classifier,
        "digits",
        32,
        num_samples=300,
        prdc_nearest_k=0,
        intra_fid=False,
        fid_infinity=True,
    )
    scores = other.evaluate_images([(noisy, labels)])
    assert not {"precision", "intra_fid"} & set(scores)
    expected = fid_infinity(real.activations, fake)
    assert scores["fid_infinity"] == pytest.approx(expected["fid_infinity"], rel=1e-9)
    assert scores["fid_infinity_points"] == expected["points"]


def test_intra_fid_is_null_with_the_reason_when_a_class_is_short():
    evaluator = Evaluator(_pooled_classifier(), "digits", 32, num_samples=40, prdc_nearest_k=0)
    images = _digits_images(40)
    labels = np.zeros(40, np.int64)
    labels[-1] = 1  # class 1: one generated image
    scores = evaluator.evaluate_images([(images, labels)])
    assert (
        scores["intra_fid"] is None
        and "at least 2 real and 2 generated" in (scores["intra_fid_skipped"])
    )
    assert "intra_fid" not in evaluator.evaluate_images([images])  # no labels: unconditional


# --- protocols ------------------------------------------------------------------------------


def test_protocols_resize_as_their_names_say():
    def pixels(images):
        flat = tf.reshape(images[..., 0], [tf.shape(images)[0], -1])
        return flat, flat

    noise = np.random.default_rng(0).uniform(-1, 1, (48, 32, 32, 3)).astype(np.float32)
    tfgan = Classifier("px", "px", 8, pixels, protocol=PROTOCOLS["tfgan"])
    clean = Classifier("px", "px", 8, pixels, protocol=PROTOCOLS["clean"])
    # 32 -> 8 bilinear without antialiasing samples between 2 x 2 pixels: variance / 4 (of 1/3).
    assert np.var(tfgan(noise)[1]) == pytest.approx(1 / 12, rel=0.05)
    # The antialiased resize averages a whole 4 x 4 footprint and more: far less variance.
    assert np.var(clean(noise)[1]) < 1 / 30
    # At the input size no resize acts; clean rounds to 8 bits first, as a saved image would.
    same_tfgan = Classifier("px", "px", 32, pixels, protocol=PROTOCOLS["tfgan"])
    same_clean = Classifier("px", "px", 32, pixels, protocol=PROTOCOLS["clean"])
    flat = noise[..., 0].reshape(48, -1)
    np.testing.assert_allclose(same_tfgan(noise)[1], flat, atol=1e-6)
    levels = (same_clean(noise)[1].astype(np.float64) + 1) * 127.5  # on the 8-bit grid,
    np.testing.assert_allclose(levels, np.round(levels), atol=1e-4)
    assert np.abs(levels - (flat + 1) * 127.5).max() <= 0.5 + 1e-4  # the nearest level


def test_scores_record_their_protocol(digits_cache, tmp_path):
    classifier = load_classifier("digits", digits_cache)
    evaluator = Evaluator(classifier, "digits", 32, num_samples=30, cache_dir=tmp_path)
    scores = evaluator.evaluate_images([_digits_images(20)])
    fingerprint = classifier.info["fingerprint"]
    assert scores["protocol"] == {
        "name": "digits",
        "backbone": {
            "name": "digits",
            "weights": f"model.keras sha256:{fingerprint}",
            "features": 128,
        },
        "resize": {"method": "bilinear", "antialias": False, "quantize_8bit": False, "size": 32},
        "reference": {"dataset": "digits", "split": "train", "resolution": 32, "count": 30},
        "generated": 20,
    }
    with open(digits_cache / "classifiers" / "digits" / "model.keras", "rb") as file:
        assert hashlib.sha256(file.read()).hexdigest()[:10] == fingerprint
    clean = Evaluator(
        load_classifier("digits", digits_cache, protocol="clean"),
        "digits",
        32,
        num_samples=30,
        cache_dir=tmp_path,
    )
    assert clean.cache_path != evaluator.cache_path  # the real statistics depend on the resize
    record = clean.evaluate_images([_digits_images(20)])["protocol"]
    assert record["name"] == "clean" and record["resize"] == {
        "method": "bicubic",
        "antialias": True,
        "quantize_8bit": True,
        "size": 32,
    }
    with pytest.raises(ValueError, match="'tfgan' is for inception features"):
        load_classifier("digits", digits_cache, protocol="tfgan")
    with pytest.raises(ValueError, match="Unknown metric protocol 'fast'"):
        load_classifier("digits", digits_cache, protocol="fast")


def test_inception_protocol_records_the_handle_and_the_weights_hash(fake_inception, tmp_path):
    directory, _ = fake_inception
    for name in ("tfgan", "clean"):
        classifier = load_classifier(f"inception:{directory}", tmp_path, "cifar10", protocol=name)
        digest = hashlib.sha256()
        for path in [directory / "saved_model.pb", *sorted((directory / "variables").glob("*"))]:
            digest.update(path.relative_to(directory).as_posix().encode())
            digest.update(path.read_bytes())
        assert classifier.weights == f"{directory} sha256:{digest.hexdigest()[:16]}"
        assert classifier.protocol == PROTOCOLS[name] and classifier.input_size == 299
    auto = load_classifier(f"inception:{directory}", tmp_path, "cifar10")
    assert auto.protocol.name == "tfgan"
    with pytest.raises(ValueError, match="'digits' is for digits features"):
        load_classifier(f"inception:{directory}", tmp_path, protocol="digits")


# --- runs -------------------------------------------------------------------------------------


def test_evaluate_run_writes_json(tiny_run, digits_cache):
    own = tiny_run / "eval" / "step_0000002.json"  # training's: 12 samples
    before = own.read_text()
    path, scores = evaluate_run(tiny_run, num_samples=24, cache_dir=digits_cache)
    assert path == tiny_run / "eval" / "step_0000002_n24.json"
    assert own.read_text() == before  # today's code: replaced by the 24-sample score
    saved = json.loads(path.read_text())
    for key in ("fid", "is", "kid", "num_real", "num_generated", "classifier", "step"):
        assert key in saved, key
    assert saved["kid_std"] is None  # one KID block: NaN, written as null
    assert (saved["num_real"], saved["num_generated"], saved["step"]) == (24, 24, 2)
    assert saved["classifier"] == "digits" and saved["generator"] == "ema"
    assert saved["fid"] == pytest.approx(scores["fid"]) and saved["fid"] > 0
    # config.eval's defaults: PRDC (k = 5), intra-class FID, the digits judge; the protocol.
    assert saved["prdc_nearest_k"] == 5 and 0.0 <= saved["coverage"] <= 1.0
    assert 0.0 <= saved["judge_accuracy"] <= 1.0 and saved["judge"]["exclude_split"] is None
    assert saved["intra_fid"] > 0 and len(saved["intra_fid_per_class"]) == 10
    assert saved["protocol"]["name"] == "digits" and saved["protocol"]["generated"] == 24
    assert saved["protocol"]["reference"]["count"] == 24 and "fid_infinity" not in saved


def test_truncation_sweep_run_writes_json_and_plot(tiny_run, digits_cache):
    json_path, png_path, points = truncation_sweep_run(
        tiny_run, "0.5,none", num_samples=20, cache_dir=digits_cache
    )
    saved = json.loads(json_path.read_text())
    assert [p["truncation"] for p in saved["points"]] == [0.5, None]
    assert saved["num_real"] == saved["num_generated"] == 20 and saved["step"] == 2
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert points[0]["fid"] == saved["points"][0]["fid"]


def test_ylg_eval_binary(tiny_run, digits_cache):
    own = tiny_run / "eval" / "step_0000002.json"  # the training's score, protocol `digits`
    before = own.read_text()
    result = run_binary(
        "ylg-eval",
        f"--workdir={tiny_run}",
        "--num_samples=16",
        "--classifier=digits",
        f"--cache_dir={digits_cache}",
        "--seed=1",
        "--protocol=clean",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    written = tiny_run / "eval" / "step_0000002_clean_n16_seed1.json"
    saved = json.loads(written.read_text())
    assert saved["num_generated"] == 16 and saved["seed"] == 1
    assert saved["protocol"]["name"] == "clean" and saved["protocol"]["resize"]["antialias"]
    assert f"Wrote {written}" in result.stdout
    assert own.read_text() == before, "another protocol's score replaced the training's"


def test_training_settings_rescore_to_training_file_and_others_to_their_own(tiny_run, digits_cache):
    """With the settings training scored with, ylg-eval gives training's scores again (same
    file, same FID); another seed or the raw generator each get a file of their own."""
    own = tiny_run / "eval" / "step_0000002.json"
    trained = json.loads(own.read_text())
    path, scores = evaluate_run(tiny_run, cache_dir=digits_cache)
    assert path == own and scores["fid"] == pytest.approx(trained["fid"], rel=1e-3)
    path, _ = evaluate_run(tiny_run, cache_dir=digits_cache, seed=5, use_ema=False)
    assert path == tiny_run / "eval" / "step_0000002_seed5_raw.json"
    assert json.loads(own.read_text())["fid"] == pytest.approx(trained["fid"], rel=1e-3)


def test_training_evaluates_every_m_steps(tiny_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    # `tiny_run` trained 2 steps with config.eval.every=1 (the step-2 JSON may be rewritten by
    # the ylg-eval tests, step 1's is the trainer's own).
    saved = json.loads((tiny_run / "eval" / "step_0000001.json").read_text())
    assert saved["step"] == 1 and saved["num_generated"] == saved["num_real"] == 12
    assert saved["generator"] == "ema" and saved["classifier"] == "digits"
    events = EventAccumulator(str(tiny_run / "logs"), size_guidance={"tensors": 0}).Reload()
    metrics = {"fid", "is", "kid", "precision", "recall", "density", "coverage", "judge_accuracy"}
    assert {f"eval/{name}" for name in metrics} | {"eval/protocol"} <= set(events.Tags()["tensors"])
    assert [e.step for e in events.Tensors("eval/fid")] == [1, 2]
    assert saved["precision"] == pytest.approx(
        float(tf.make_ndarray(events.Tensors("eval/precision")[0].tensor_proto))
    )
    described = events.SummaryMetadata("eval/fid").summary_description
    protocol = json.loads(described.removeprefix("protocol: "))
    assert protocol == saved["protocol"]
