"""Tests of `ylg_tf.viz.heatmaps` against matplotlib's viridis and hand-worked arrays."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib import colormaps

from ylg_tf.viz import heatmap, upscale
from ylg_tf.viz.heatmaps import VIRIDIS_ANCHORS


def test_anchors_match_matplotlib_viridis():
    positions = np.arange(9) / 8
    reference = np.round(colormaps["viridis"](positions)[:, :3] * 255)
    np.testing.assert_allclose(VIRIDIS_ANCHORS, reference, atol=1)
    colours = heatmap(positions[None])[0].astype(int)  # the anchors themselves, no interpolation
    np.testing.assert_allclose(colours, reference, atol=1)


def test_between_anchors_is_close_to_matplotlib():
    positions = np.linspace(0, 1, 101)
    reference = colormaps["viridis"](positions)[:, :3] * 255
    error = np.abs(heatmap(positions[None])[0] - reference).max(axis=-1)
    # Linear between nine anchors: within 7 levels up to 7/8, off by < 18 levels (measured 16.7)
    # where viridis bends most, between its last two anchors.
    assert error[:88].max() <= 7 and error.max() < 18


def test_range_clipping_and_constant_maps():
    values = np.array([[-5.0, 0.0, 2.0, 4.0, 9.0]])
    colours = heatmap(values, vmin=0.0, vmax=4.0)[0]
    np.testing.assert_array_equal(colours[0], colours[1])  # below vmin -> low colour
    np.testing.assert_array_equal(colours[0], VIRIDIS_ANCHORS[0])
    np.testing.assert_array_equal(colours[2], VIRIDIS_ANCHORS[4])  # midpoint = anchor 4/8
    np.testing.assert_array_equal(colours[3], colours[4])
    np.testing.assert_array_equal(colours[4], VIRIDIS_ANCHORS[8])
    constant = heatmap(np.full((2, 3), 7.0))
    assert constant.dtype == np.uint8 and constant.shape == (2, 3, 3)
    np.testing.assert_array_equal(constant, np.broadcast_to(VIRIDIS_ANCHORS[0], (2, 3, 3)))
    halfway = heatmap(np.array([[0.0, 1 / 16, 1.0]]))[0, 1]  # halfway between anchors 0 and 1
    np.testing.assert_array_equal(halfway, np.round((VIRIDIS_ANCHORS[0] + VIRIDIS_ANCHORS[1]) / 2))


@pytest.mark.parametrize(
    "values,match",
    [
        (np.zeros(4), r"shape \(4,\)"),
        (np.array([[np.nan, 1.0]]), "NaN"),
        (np.zeros((0, 3)), "0, 3"),
    ],
)
def test_heatmap_errors(values, match):
    with pytest.raises(ValueError, match=match):
        heatmap(values)


def test_upscale_repeats_each_cell():
    small = np.array([[1, 2], [3, 4]])
    np.testing.assert_array_equal(
        upscale(small, (4, 6)),
        [[1, 1, 1, 2, 2, 2], [1, 1, 1, 2, 2, 2], [3, 3, 3, 4, 4, 4], [3, 3, 3, 4, 4, 4]],
    )
    rgb = np.arange(12).reshape(2, 2, 3)
    assert upscale(rgb, 4).shape == (4, 4, 3)
    np.testing.assert_array_equal(upscale(rgb, 4)[3, 0], rgb[1, 0])
    with pytest.raises(ValueError, match="2x2 map to 5x4"):
        upscale(small, (5, 4))
