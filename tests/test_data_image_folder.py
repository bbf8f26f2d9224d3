"""Image-folder source: class sub-folders, every format, corrupt files skipped or rejected, classes
without a usable image dropped with a warning (or rejected in strict mode)."""

import json
import logging
import os

import numpy as np
import pytest
from PIL import Image

from ylg_tf.data import UnreadableImagesError, build_dataset, image_folder
from ylg_tf.data.image_folder import find_unreadable, list_image_files
from ylg_tf.runs.directory import RunDirectory

RES = 8


def _save(path, array, **kwargs):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(array).save(path, **kwargs)
    return str(path)


def _constant(value, channels=3, shape=(10, 14)):
    return np.full((*shape, channels), value, np.uint8).squeeze()


@pytest.fixture
def folder(tmp_path):
    """Two classes (sorted: a_apple -> 0, b_zebra -> 1), every format, grayscale and alpha images,
    one corrupt PNG, an empty class folder, hidden files and a text file. Each image is one
    constant colour, so its expected output is known exactly."""
    root = tmp_path / "images"
    a, b = root / "a_apple", root / "b_zebra"
    rgb = np.dstack([_constant(10, 1), _constant(20, 1), _constant(30, 1)])
    expected = {
        _save(a / "gray.png", _constant(100, channels=1)): (100, 100, 100),
        _save(a / "gray_alpha.png", _constant(60, channels=2)): (60, 60, 60),
        _save(a / "img.bmp", _constant(30)): (30, 30, 30),
        _save(a / "anim.gif", _constant(0)): (0, 0, 0),
        _save(a / "pic.webp", _constant(255), lossless=True): (255, 255, 255),
        _save(b / "rgba.png", np.dstack([rgb, _constant(7, 1)])): (10, 20, 30),
        _save(b / "sub" / "deep.jpg", _constant(200), quality=100): (200, 200, 200),
        _save(b / "UPPER.PNG", rgb): (10, 20, 30),
    }
    corrupt = a / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG not really a png" * 10)
    (a / "notes.txt").write_text("not an image")
    (a / ".hidden.png").write_bytes(b"junk")
    os.makedirs(b / ".cache")
    (b / ".cache" / "thumb.png").write_bytes(b"junk")
    (root / "c_empty").mkdir()
    return str(root), expected, str(corrupt)


def _all(dataset):
    return [(image.numpy(), int(label)) for image, label in dataset]


def test_listing_follows_sorted_sub_folders(folder):
    root, expected, corrupt = folder
    paths, labels, class_names = list_image_files(root)
    assert class_names == ("a_apple", "b_zebra", "c_empty")  # listing keeps the empty folder
    assert sorted(paths) == sorted([*expected, corrupt])
    for path, label in zip(paths, labels, strict=True):
        assert label == (0 if "/a_apple/" in path else 1)


def test_corrupt_file_skipped_and_reported(folder, caplog):
    root, expected, corrupt = folder
    with caplog.at_level(logging.WARNING):
        dataset, info = build_dataset(f"folder:{root}", RES)
    assert info.skipped_files == (corrupt,)
    assert info.num_examples == len(expected) and info.num_classes == 2
    assert info.class_names == ("a_apple", "b_zebra") and info.name == f"folder:{root}"
    assert "1 unreadable" in caplog.text and corrupt in caplog.text
    assert "'c_empty' (no image file)" in caplog.text
    assert "{'a_apple': 0, 'b_zebra': 1}" in caplog.text

    examples = _all(dataset)
    assert len(examples) == len(expected)
    for (image, label), (path, rgb) in zip(examples, sorted(expected.items()), strict=True):
        assert image.shape == (RES, RES, 3) and image.dtype == np.float32
        assert label == (0 if "/a_apple/" in path else 1)
        atol = 0.02 if path.endswith(".jpg") else 1e-5  # JPEG is lossy
        np.testing.assert_allclose(
            image, np.broadcast_to(np.array(rgb) / 127.5 - 1, image.shape), atol=atol
        )


def test_strict_mode_names_the_file_and_the_flag(folder):
    root, _, corrupt = folder
    os.rmdir(os.path.join(root, "c_empty"))
    with pytest.raises(UnreadableImagesError, match="corrupt.png") as raised:
        build_dataset(f"folder:{root}", RES, strict=True)
    assert raised.value.paths == (corrupt,)
    assert isinstance(raised.value, ValueError)
    assert "pass --config.data.strict=False to skip them" in str(raised.value)


def test_strict_mode_refuses_an_empty_class_folder_before_decoding(folder, monkeypatch):
    root, _, _ = folder
    decoded = []
    monkeypatch.setattr(image_folder, "find_unreadable", lambda paths: decoded.append(paths) or [])
    with pytest.raises(ValueError, match="'c_empty' \\(no image file\\)") as raised:
        build_dataset(f"folder:{root}", RES, strict=True)
    assert "--config.data.strict=False" in str(raised.value)
    assert not decoded


def _three_classes(tmp_path, middle_files):
    """Classes a, b, c; a and c hold constant images of values 10 and 200, b holds
    `middle_files` (name -> bytes)."""
    root = tmp_path / "three"
    for i in range(2):
        _save(root / "a" / f"{i}.png", _constant(10))
        _save(root / "c" / f"{i}.png", _constant(200))
    (root / "b").mkdir()
    for name, data in middle_files.items():
        (root / "b" / name).write_bytes(data)
    return str(root)


@pytest.mark.parametrize(
    "middle_files, reason",
    [({}, "no image file"), ({"x.png": b"garbage", "y.jpg": b"junk"}, "no readable image")],
)
def test_class_without_a_usable_image_is_dropped_and_ids_renumbered(
    tmp_path, caplog, middle_files, reason
):
    root = _three_classes(tmp_path, middle_files)
    with caplog.at_level(logging.INFO):
        dataset, info = build_dataset(f"folder:{root}", RES)
    assert info.class_names == ("a", "c") and info.num_classes == 2 and info.num_examples == 4
    assert f"'b' ({reason})" in caplog.text and "dropped" in caplog.text
    assert "{'a': 0, 'c': 1}" in caplog.text
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "'b'" in r.message]
    assert len(warnings) == 1
    # Each label names the folder its image came from: a (value 10) -> 0, c (value 200) -> 1.
    for image, label in _all(dataset):
        folder_value = 10 if label == 0 else 200
        np.testing.assert_allclose(image, folder_value / 127.5 - 1, atol=1e-5)
    assert sorted(label for _, label in _all(dataset)) == [0, 0, 1, 1]


def test_run_json_stores_the_class_to_id_map_after_a_dropped_class(tmp_path):
    """Folders a, b (unreadable files only), c: run.json maps a -> 0, c -> 1, and a run read back
    from it has the same class names without the data."""
    root = _three_classes(tmp_path, {"x.png": b"garbage"})
    _, info = build_dataset(f"folder:{root}", RES)
    run = RunDirectory(tmp_path / "run")
    run.write_info(info)
    content = json.loads((tmp_path / "run" / "run.json").read_text())
    assert content["class_to_id"] == {"a": 0, "c": 1}
    assert content["class_names"] == ["a", "c"] and content["num_classes"] == 2
    assert run.read_info(None).class_names == ("a", "c")


def test_strict_mode_refuses_a_class_of_unreadable_files(tmp_path):
    root = _three_classes(tmp_path, {"x.png": b"garbage"})
    with pytest.raises(UnreadableImagesError, match="--config.data.strict=False"):
        build_dataset(f"folder:{root}", RES, strict=True)


def test_class_to_id_map_is_logged_when_nothing_is_dropped(tmp_path, caplog):
    for name in ("dogs", "cats"):
        _save(tmp_path / name / "0.png", _constant(1))
    with caplog.at_level(logging.INFO, logger="absl"):
        _, info = build_dataset(f"folder:{tmp_path}", RES)
    assert info.class_names == ("cats", "dogs")
    assert "2 classes, label ids {'cats': 0, 'dogs': 1}" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_truncated_files_are_found(tmp_path):
    good = _save(tmp_path / "good.png", _constant(1))
    full = (tmp_path / "good.png").read_bytes()
    for name in ("cut.png", "cut.jpg"):
        _save(tmp_path / name, _constant(1))
        data = (tmp_path / name).read_bytes()
        (tmp_path / name).write_bytes(data[: len(data) // 2])
    (tmp_path / "empty.gif").write_bytes(b"")
    assert len(full) > 0
    bad = find_unreadable(sorted(str(p) for p in tmp_path.iterdir()))
    assert bad == sorted(str(tmp_path / n) for n in ("cut.jpg", "cut.png", "empty.gif"))
    assert good not in bad


def test_report_lists_the_first_few_and_counts_the_rest(tmp_path, caplog):
    for i in range(8):
        (tmp_path / f"bad{i}.png").write_bytes(b"garbage")
    _save(tmp_path / "ok.png", _constant(1))
    with caplog.at_level(logging.WARNING):
        _, info = build_dataset(f"folder:{tmp_path}", RES)
    assert len(info.skipped_files) == 8
    assert "8 unreadable" in caplog.text and "and 3 more" in caplog.text


def test_images_directly_in_the_folder_are_one_class(tmp_path, caplog):
    for i in range(3):
        _save(tmp_path / f"{i}.png", _constant(i))
    dataset, info = build_dataset(f"folder:{tmp_path}", RES)
    assert info.num_classes == 1 and info.num_examples == 3
    assert info.class_names == (tmp_path.name,)
    assert [label for _, label in _all(dataset)] == [0, 0, 0]
    (tmp_path / "empty").mkdir()
    with caplog.at_level(logging.WARNING):
        _, info = build_dataset(f"folder:{tmp_path}", RES)
    assert info.num_classes == 1 and "['empty']" in caplog.text and "one class" in caplog.text


def test_file_broken_after_the_check_is_dropped_not_fatal(tmp_path):
    for i in range(3):
        _save(tmp_path / "cls" / f"{i}.png", _constant(i))
    dataset, info = build_dataset(f"folder:{tmp_path}", RES)
    (tmp_path / "cls" / "1.png").write_bytes(b"broken later")
    assert info.num_examples == 3 and len(_all(dataset)) == 2


def test_empty_or_missing_folders_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="no image files"):
        build_dataset(f"folder:{tmp_path}", RES)
    (tmp_path / "cls").mkdir()
    (tmp_path / "cls" / "readme.txt").write_text("x")
    with pytest.raises(ValueError, match="no image files"):
        build_dataset(f"folder:{tmp_path}", RES)
    with pytest.raises(FileNotFoundError, match="missing"):
        build_dataset(f"folder:{tmp_path / 'missing'}", RES)
    (tmp_path / "cls" / "bad.png").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="no readable image"):
        build_dataset(f"folder:{tmp_path}", RES)
    with pytest.raises(ValueError, match="no folder"):
        build_dataset("folder:", RES)


def test_only_train_split(tmp_path):
    _save(tmp_path / "a.png", _constant(1))
    with pytest.raises(ValueError, match="train"):
        build_dataset(f"folder:{tmp_path}", RES, split="test")
