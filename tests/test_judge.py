"""The digits judge: held-out digits, the dataset's round trip, noise at chance, determinism."""

import numpy as np
import pytest
import tensorflow as tf

from ylg_tf.data.digits import digits_source, load_digits_arrays
from ylg_tf.evaluation.judge import DigitsJudge, images_to_digits


@pytest.fixture(scope="module")
def judge():
    return DigitsJudge.fit(seed=0)


def _dataset_images(indices, resolution):
    """The digits at `indices` as the training pipeline makes them: `[n, R, R, 3]` in [-1, 1]."""
    images, labels = load_digits_arrays()
    source = digits_source(resolution)
    records = tf.data.Dataset.from_tensor_slices((images[indices][..., None], labels[indices]))
    batch = records.map(source.decode).batch(len(indices)).get_single_element()
    return batch[0].numpy(), labels[indices]


def test_held_out_real_digits_are_recognised(judge):
    images, labels = load_digits_arrays()
    held_out = judge.held_out_indices
    assert judge.num_train + len(held_out) == len(labels) == 1797
    assert len(held_out) == round(0.2 * 1797)
    pixels = images[held_out].reshape(len(held_out), -1).astype(np.float64)
    recomputed = np.mean(judge.model.predict(pixels) == labels[held_out])
    assert judge.held_out_accuracy == recomputed >= 0.97


@pytest.mark.parametrize("resolution", [32, 20])
def test_dataset_round_trip_recovers_the_digits(judge, resolution):
    images, _ = load_digits_arrays()
    held_out = judge.held_out_indices
    upsampled, labels = _dataset_images(held_out, resolution)
    np.testing.assert_allclose(images_to_digits(upsampled), images[held_out], atol=1e-4)
    assert judge.accuracy(upsampled, labels) == judge.held_out_accuracy
    assert judge.accuracy(upsampled, labels) >= 0.95


def test_noise_scores_near_chance(judge):
    rng = np.random.default_rng(0)
    noise = rng.uniform(-1.0, 1.0, (500, 32, 32, 3))
    assert judge.accuracy(noise, np.arange(500) % 10) <= 0.3
    # Wrong labels on real digits score near zero: the judge reads the class, not the image quality.
    upsampled, labels = _dataset_images(judge.held_out_indices[:100], 32)
    assert judge.accuracy(upsampled, (labels + 1) % 10) <= 0.05


def test_fit_is_deterministic_and_keeps_away_from_the_gan_split(judge):
    again = DigitsJudge.fit(seed=0)
    assert again.held_out_accuracy == judge.held_out_accuracy
    np.testing.assert_array_equal(again.held_out_indices, judge.held_out_indices)
    other = DigitsJudge.fit(seed=1)
    assert not np.array_equal(other.held_out_indices, judge.held_out_indices)
    apart = DigitsJudge.fit(seed=0, exclude_split="train[:80%]")  # the GAN saw digits 0..1437
    assert apart.num_train + len(apart.held_out_indices) == 1797 - 1438
    assert apart.held_out_indices.min() >= 1438
    assert apart.describe()["exclude_split"] == "train[:80%]"
    assert apart.held_out_accuracy >= 0.9


def test_bad_inputs_are_named(judge):
    with pytest.raises(ValueError, match="square, gray or RGB"):
        judge.accuracy(np.zeros((2, 32, 16, 3)), [0, 1])
    with pytest.raises(ValueError, match="R >= 8"):
        judge.accuracy(np.zeros((2, 4, 4, 3)), [0, 1])
    with pytest.raises(ValueError, match="one class per image"):
        judge.accuracy(np.zeros((2, 32, 32, 3)), [0, 1, 2])
    with pytest.raises(ValueError, match="exclude_split='train'"):
        DigitsJudge.fit(exclude_split="train")
    with pytest.raises(ValueError, match="holdout=1.5"):
        DigitsJudge.fit(holdout=1.5)


def test_the_evaluator_scores_the_judge_on_labelled_images(judge):
    """The evaluator's `judge_accuracy` on the judge's held-out real digits is its known
    held-out accuracy (about 99%); unlabelled images get no judge score."""
    from ylg_tf.evaluation import Classifier, Evaluator

    def pooled(images):
        features = tf.reshape(tf.reduce_mean(images, axis=-1), [-1, 16])
        return features, features

    classifier = Classifier("pooled", "pooled-1", 4, pooled)
    evaluator = Evaluator(
        classifier, "digits", 32, num_samples=20, prdc_nearest_k=0, intra_fid=False, judge=judge
    )
    images, labels = _dataset_images(judge.held_out_indices, 32)
    batches = [(images[k : k + 100], labels[k : k + 100]) for k in range(0, len(labels), 100)]
    scores = evaluator.evaluate_images(batches)
    assert scores["judge_accuracy"] == judge.held_out_accuracy >= 0.97
    assert scores["judge"] == judge.describe() and scores["num_generated"] == len(labels)
    wrong = evaluator.evaluate_images([(images[:100], (labels[:100] + 1) % 10)])
    assert wrong["judge_accuracy"] <= 0.05
    assert "judge_accuracy" not in evaluator.evaluate_images([images[:100]])
