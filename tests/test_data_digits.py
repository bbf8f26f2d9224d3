"""The embedded `digits` dataset against scikit-learn's own arrays."""

import numpy as np
import pytest
from sklearn.datasets import load_digits

from ylg_tf.data import build_dataset


@pytest.fixture(scope="module")
def digits32():
    dataset, info = build_dataset("digits", 32)
    images, labels = next(iter(dataset.batch(4096)))
    return images.numpy(), labels.numpy(), info


def test_info(digits32):
    _, _, info = digits32
    assert info.name == "digits" and info.resolution == 32
    assert info.num_classes == 10 and info.num_examples == 1797
    assert info.class_names == tuple("0123456789")


def test_shapes_range_and_labels(digits32):
    images, labels, _ = digits32
    assert images.shape == (1797, 32, 32, 3) and images.dtype == np.float32
    assert images.min() >= -1.0 and images.max() <= 1.0
    assert images.min() == -1.0 and images.max() > 0.9  # background is 0 ink; strokes reach 16
    np.testing.assert_array_equal(images[..., 0], images[..., 1])
    np.testing.assert_array_equal(images[..., 0], images[..., 2])
    assert labels.dtype == np.int32
    np.testing.assert_array_equal(labels, load_digits().target)


def test_downsampled_back_resembles_the_original(digits32):
    images, _, _ = digits32
    back = images[..., 0].reshape(-1, 8, 4, 8, 4).mean(axis=(2, 4))  # 4x4 block means -> 8x8
    original = load_digits().images / 8.0 - 1.0  # 0..16 -> [-1, 1]
    correlation = np.corrcoef(back.ravel(), original.ravel())[0, 1]
    assert correlation > 0.95
    assert np.abs(back - original).mean() < 0.2


def test_other_resolution():
    dataset, info = build_dataset("digits", 16)
    image, label = next(iter(dataset))
    assert image.shape == (16, 16, 3) and info.resolution == 16 and label.shape == ()


def test_only_train_split():
    with pytest.raises(ValueError, match="train"):
        build_dataset("digits", 32, split="test")


@pytest.mark.parametrize(
    "split, expected",
    [
        ("train[:1600]", range(1600)),
        ("train[1600:]", range(1600, 1797)),
        ("train[90%:]", range(1617, 1797)),
        ("train[-10:-5]", range(1787, 1792)),
    ],
)
def test_split_slices_select_those_examples(split, expected, digits32):
    images, labels, _ = digits32
    dataset, info = build_dataset("digits", 32, split=split)
    part_images, part_labels = next(iter(dataset.batch(4096)))
    assert info.num_examples == len(expected)
    # The pipeline keeps the dataset order here (build_dataset without shuffling).
    np.testing.assert_array_equal(part_labels.numpy(), labels[list(expected)])
    np.testing.assert_allclose(part_images.numpy(), images[list(expected)])


@pytest.mark.parametrize("split", ["test", "train[a:]", "train[1797:]", "train[5]"])
def test_bad_splits_are_refused(split):
    with pytest.raises(ValueError, match="split"):
        build_dataset("digits", 32, split=split)
