"""Tests of `ylg_tf.viz.grids` beyond the layout test in test_training.py: PNG and errors."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ylg_tf.viz import image_grid, write_image_grid


def test_grid_cells_hold_each_image_in_order():
    images = np.linspace(-1, 1, 5)[:, None, None, None] * np.ones((5, 3, 2, 1), np.float32)
    grid = image_grid(images, columns=3, scale=2)
    assert grid.shape == (2 * 6 + 1, 3 * 4 + 2, 1)
    expected = [0, 63, 127, 191, 255]  # (x + 1) * 127.5, truncated
    for k in range(5):
        top, left = (k // 3) * 7, (k % 3) * 5
        np.testing.assert_array_equal(grid[top : top + 6, left : left + 4], expected[k])
    np.testing.assert_array_equal(grid[7:, 10:], 255)  # the sixth cell stays white


def test_write_image_grid_round_trips(tmp_path):
    images = np.random.default_rng(0).uniform(-1, 1, (4, 5, 5, 3)).astype(np.float32)
    path = write_image_grid(tmp_path / "g" / "grid.png", images, columns=2, scale=3)
    with Image.open(path) as png:
        np.testing.assert_array_equal(np.asarray(png), image_grid(images, 2, 3))


@pytest.mark.parametrize(
    "images,columns,match",
    [(np.zeros((4, 4, 3)), 2, r"\(4, 4, 3\)"), (np.zeros((0, 4, 4, 3)), 2, "non-empty"),
     (np.zeros((2, 4, 4, 3)), 0, "columns=0")],
)  # fmt: skip
def test_errors(images, columns, match):
    with pytest.raises(ValueError, match=match):
        image_grid(images, columns)
