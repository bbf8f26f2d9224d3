"""Tests of `ylg_tf.viz.saliency`: saliency per head next to the image (supplementary Fig. 1)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ylg_tf.viz import saliency_figure, write_saliency_png
from ylg_tf.viz.heatmaps import VIRIDIS_ANCHORS

LOW, MID, HIGH = VIRIDIS_ANCHORS[0], VIRIDIS_ANCHORS[4], VIRIDIS_ANCHORS[-1]


def _saliency():
    """Two heads on a 2x2 grid: head 0 all on the top-left cell, head 1 half as much on the
    bottom-right cell as on the top-right one (each head sums to one)."""
    return np.array([[[1.0, 0.0], [0.0, 0.0]], [[0.0, 2 / 3], [0.0, 1 / 3]]])


def test_panels_per_head_scaled_to_their_own_maximum():
    image = np.random.default_rng(0).integers(0, 256, (4, 4, 3), dtype=np.uint8)
    figure = saliency_figure(image, _saliency(), scale=1)
    assert figure.dtype == np.uint8 and figure.shape == (4, 3 * 4 + 2 * 2, 3)
    np.testing.assert_array_equal(figure[:, :4], image)
    np.testing.assert_array_equal(figure[:, 4:6], 255)
    head0, head1 = figure[:, 6:10], figure[:, 12:16]
    np.testing.assert_array_equal(head0[:2, :2], np.broadcast_to(HIGH, (2, 2, 3)))
    np.testing.assert_array_equal(head0[2:, :], np.broadcast_to(LOW, (2, 4, 3)))
    np.testing.assert_array_equal(head1[:2, 2:], np.broadcast_to(HIGH, (2, 2, 3)))  # its max
    np.testing.assert_array_equal(head1[2:, 2:], np.broadcast_to(MID, (2, 2, 3)))  # half of it


def test_shared_scale_compares_heads_and_alpha_blends():
    figure = saliency_figure(np.zeros((2, 2)), _saliency(), shared_scale=True, scale=1)
    head1 = figure[:, 8:10]  # 2/3 of the common maximum 1 -> position 16/3 on the 0..8 anchors
    expected = VIRIDIS_ANCHORS[5] + (16 / 3 - 5) * (VIRIDIS_ANCHORS[6] - VIRIDIS_ANCHORS[5])
    np.testing.assert_array_equal(head1[0, 1], np.round(expected))
    white = np.full((2, 2, 3), 255, np.uint8)
    blended = saliency_figure(white, _saliency(), alpha=0.5, scale=1)
    np.testing.assert_array_equal(blended[0, 4], np.round(0.5 * 255 + 0.5 * HIGH))


def test_several_images_come_first():
    target, inversion = np.full((4, 4), -1.0), np.full((4, 4), 1.0)
    figure = saliency_figure([target, inversion], _saliency(), scale=2)
    assert figure.shape == (8, 4 * 8 + 3 * 2, 3)
    np.testing.assert_array_equal(figure[:, :8], 0)
    np.testing.assert_array_equal(figure[:, 10:18], 255)
    np.testing.assert_array_equal(figure[0, 20], HIGH)  # head 0, top-left, 2x enlarged


def test_write_round_trips(tmp_path):
    path = write_saliency_png(tmp_path / "s.png", np.zeros((4, 4, 3)), _saliency())
    with Image.open(path) as png:
        np.testing.assert_array_equal(
            np.asarray(png), saliency_figure(np.zeros((4, 4)), _saliency())
        )


@pytest.mark.parametrize(
    "image,saliency,match",
    [
        (np.zeros((4, 4)), np.zeros((1, 2, 2, 2)), r"saliency\[i\]"),
        (np.zeros((5, 4)), np.zeros((2, 2, 2)), "5x4"),
        (np.zeros((4, 4)), np.full((2, 2), np.inf), "infinite"),
        ([np.zeros((4, 4)), np.zeros((2, 2))], np.zeros((2, 2)), "one size"),
    ],
)
def test_errors_name_the_bad_value(image, saliency, match):
    with pytest.raises(ValueError, match=match):
        saliency_figure(image, saliency)
