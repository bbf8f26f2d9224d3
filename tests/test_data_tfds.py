"""tfds sources: mocked catalogue datasets (no network) and a real, locally generated dataset.

`tfds.testing.mock_data` with `MockPolicy.USE_CODE` needs no metadata files: the features come from
the dataset's code in the installed tfds, `download_and_prepare` becomes a no-op and examples are
random but deterministic. Split sizes are then unknown, so `num_examples` is None. The tiny builder
below goes through the real `download_and_prepare` (it generates, nothing to download).
"""

import io
from unittest import mock

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from PIL import Image

from ylg_tf.data import build_dataset, tfds_source

RES = 16


def _raw(name: str) -> list[dict]:
    """The mocked examples with images still encoded (the generator differs per decoding mode)."""
    skip = {"image": tfds.decode.SkipDecoding()}
    return list(tfds.load(name, split="train", decoders=skip).as_numpy_iterator())


def _mocked(num_examples=4):
    return tfds.testing.mock_data(
        num_examples=num_examples, policy=tfds.testing.MockPolicy.USE_CODE
    )


def _reference(encoded: bytes, resolution: int) -> np.ndarray:
    """Pillow decode + NumPy crop + Pillow antialiased bilinear resize: independent of our code."""
    image = np.asarray(Image.open(io.BytesIO(encoded)).convert("RGB"))
    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    crop = image[top : top + side, left : left + side].astype(np.float32)
    resized = [
        np.asarray(Image.fromarray(crop[..., c], "F").resize((resolution,) * 2, Image.BILINEAR))
        for c in range(3)
    ]
    return np.stack(resized, axis=-1) / 127.5 - 1.0


def test_cifar10_matches_tfds_decoding():
    with _mocked():
        dataset, info = build_dataset("cifar10", RES)
        ours = [(x.numpy(), int(y)) for x, y in dataset]
        theirs = [(ex["image"], int(ex["label"])) for ex in _raw("cifar10")]
    assert info.num_classes == 10 and info.num_examples is None and info.resolution == RES
    assert info.class_names is not None and len(info.class_names) == 10
    assert len(ours) == len(theirs) == 4
    for (image, label), (raw, raw_label) in zip(ours, theirs, strict=True):
        assert image.shape == (RES, RES, 3) and image.dtype == np.float32
        assert label == raw_label and 0 <= label < 10
        np.testing.assert_allclose(image, _reference(raw, RES), atol=1e-4)


def test_grayscale_dataset_gets_three_channels():
    with _mocked():
        dataset, info = build_dataset("mnist", RES)
        image, label = next(iter(dataset))
    assert info.num_classes == 10 and label.dtype == tf.int32
    image = image.numpy()
    assert image.shape == (RES, RES, 3)
    np.testing.assert_array_equal(image[..., 0], image[..., 2])


def test_unlabelled_dataset_of_varying_sizes():
    with _mocked():
        dataset, info = build_dataset("lsun/bedroom", RES)
        ours = [(x.numpy(), int(y)) for x, y in dataset]
        raws = [ex["image"] for ex in _raw("lsun/bedroom")]
    assert info.num_classes == 1 and info.class_names is None
    sizes = {Image.open(io.BytesIO(raw)).size for raw in raws}
    assert len(sizes) > 1 and any(w != h for w, h in sizes)  # random, non-square mock images
    for (image, label), raw in zip(ours, raws, strict=True):
        assert label == 0 and image.shape == (RES, RES, 3)
        # LSUN's mock images are JPEGs of noise, where TensorFlow's and Pillow's JPEG decoders
        # (DCT and chroma upsampling) differ by a few levels: compare on average
        error = np.abs(image - _reference(raw, RES))
        assert error.mean() < 0.02 and error.max() < 0.15, (error.mean(), error.max())


def test_imagenet_manual_dir_and_data_dir_reach_tfds(tmp_path):
    data_dir, manual_dir = str(tmp_path / "tfds"), str(tmp_path / "manual")
    with (
        _mocked(),
        mock.patch.object(tfds_source.tfds, "builder", wraps=tfds.builder) as builder,
        mock.patch.object(tfds.core.DatasetBuilder, "download_and_prepare") as prepare,
    ):
        dataset, info = build_dataset("imagenet2012", RES, data_dir=data_dir, manual_dir=manual_dir)
        image, _ = next(iter(dataset))
    assert builder.call_args.kwargs["data_dir"] == data_dir
    assert prepare.call_args.kwargs["download_config"].manual_dir == manual_dir
    assert info.num_classes == 1000 and image.shape == (RES, RES, 3)


def test_unknown_name_lists_accepted_forms():
    with pytest.raises(ValueError, match="'digits', 'folder:") as raised:
        build_dataset("cifar1O", RES)
    assert "cifar10" in str(raised.value)  # close match suggested
    with pytest.raises(ValueError, match="'digits'"):
        build_dataset("", RES)


def test_dataset_without_image_feature_is_rejected():
    with _mocked(), pytest.raises(ValueError, match="image feature"):
        build_dataset("imdb_reviews", RES)


class YlgTinyImages(tfds.core.GeneratorBasedBuilder):
    """Six 6x10 / 10x6 labelled images; generated locally, so preparing it needs no network."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(shape=(None, None, 3)),
                    "label": tfds.features.ClassLabel(names=["even", "odd"]),
                }
            ),
        )

    def _split_generators(self, dl_manager):
        del dl_manager
        return {"train": self._generate_examples(6), "test": self._generate_examples(2)}

    def _generate_examples(self, count):
        for i in range(count):
            shape = (6, 10) if i % 2 else (10, 6)
            image = np.full((*shape, 3), 255, np.uint8)
            top, left = (shape[0] - 6) // 2, (shape[1] - 6) // 2
            image[top : top + 6, left : left + 6] = 40 * i  # only the central square is kept
            yield i, {"image": image, "label": i % 2}


@pytest.fixture(scope="module")
def tiny_data_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("tfds"))


def test_real_prepare_path_offline(tiny_data_dir):
    data_dir = tiny_data_dir
    dataset, info = build_dataset("ylg_tiny_images", 4, data_dir=data_dir)
    assert info.num_examples == 6 and info.num_classes == 2
    assert info.class_names == ("even", "odd")
    values = sorted((round(float(x.numpy().mean()), 4), int(y)) for x, y in dataset)
    expected = sorted((round(40 * i / 127.5 - 1, 4), i % 2) for i in range(6))
    assert values == expected

    _, test_info = build_dataset("ylg_tiny_images", 4, split="test[:1]", data_dir=data_dir)
    assert test_info.num_examples == 1
    with pytest.raises(ValueError, match="no split 'validation'"):
        build_dataset("ylg_tiny_images", 4, split="validation", data_dir=data_dir)


@pytest.mark.parametrize(
    ("split", "sizes"),
    [
        ("train+test", [6, 2]),  # two files for two pipelines: each reads its own file
        ("train", [3, 3]),  # one file: both read it and keep every other record
    ],
)
def test_input_pipelines_shard_by_file_when_they_can(tiny_data_dir, split, sizes):
    contexts = [tf.distribute.InputContext(2, pipeline, 2) for pipeline in range(2)]
    shards = []
    for context in contexts:
        dataset, _ = build_dataset(
            "ylg_tiny_images", 4, split=split, data_dir=tiny_data_dir, input_context=context
        )
        shards.append([x.numpy().tobytes() + bytes([int(y)]) for x, y in dataset])
    assert [len(shard) for shard in shards] == sizes
    whole, _ = build_dataset("ylg_tiny_images", 4, split=split, data_dir=tiny_data_dir)
    assert sorted(shards[0] + shards[1]) == sorted(
        x.numpy().tobytes() + bytes([int(y)]) for x, y in whole
    )
