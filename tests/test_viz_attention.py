"""Tests of `ylg_tf.viz.attention`: the attention of one query per head, over its image."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ylg_tf.viz import query_attention, query_attention_figure, write_query_attention_png
from ylg_tf.viz.heatmaps import VIRIDIS_ANCHORS
from ylg_tf.viz.panels import MARK

LOW, HIGH = VIRIDIS_ANCHORS[0], VIRIDIS_ANCHORS[-1]


def _one_hot_probs():
    """3 heads, 4x4 queries, 2x2 keys: query (1, 2) attends only to key (0, 1) in head 0, only to
    key (1, 0) in head 1, uniformly in head 2; every other query attends only to key (1, 1)."""
    probs = np.zeros((3, 16, 4))
    probs[:, :, 3] = 1.0
    q = 1 * 4 + 2
    probs[:, q] = 0.0
    probs[0, q, 1] = 1.0
    probs[1, q, 2] = 1.0
    probs[2, q] = 0.25
    return probs


def test_query_attention_picks_the_query_row():
    maps = query_attention(_one_hot_probs(), (1, 2))
    assert maps.shape == (3, 2, 2)
    np.testing.assert_array_equal(maps[0], [[0, 1], [0, 0]])
    np.testing.assert_array_equal(maps[1], [[0, 0], [1, 0]])
    np.testing.assert_array_equal(maps[2], np.full((2, 2), 0.25))
    np.testing.assert_array_equal(query_attention(_one_hot_probs(), (0, 0))[1], [[0, 0], [0, 1]])
    # One head [nq, nk] and rectangular grids.
    probs = np.arange(6 * 2, dtype=float).reshape(6, 2)
    np.testing.assert_array_equal(query_attention(probs, (1, 0), (2, 3), (1, 2)), [[[6, 7]]])


def test_figure_heatmap_is_maximal_exactly_at_the_attended_key():
    image = np.zeros((8, 8, 3), np.uint8)  # keys 4x4 pixels, queries 2x2 pixels
    figure = query_attention_figure(image, _one_hot_probs(), (1, 2), alpha=1.0, scale=1)
    assert figure.dtype == np.uint8 and figure.shape == (8, 4 * 8 + 3 * 2, 3)
    np.testing.assert_array_equal(figure[:, 8:10], 255)  # white gap
    frame = np.zeros((8, 8), bool)  # the red frame around query (1, 2): pixels [2, 4) x [4, 6)
    frame[1:5, 3:7] = True
    frame[2:4, 4:6] = False
    for head, key in ((0, (0, 1)), (1, (1, 0))):
        panel = figure[:, 10 * (head + 1) : 10 * (head + 1) + 8]
        expected = np.zeros((8, 8), bool)
        expected[4 * key[0] : 4 * key[0] + 4, 4 * key[1] : 4 * key[1] + 4] = True
        colours = np.where(expected[..., None], HIGH, LOW)
        np.testing.assert_array_equal(panel[~frame], colours[~frame])
        np.testing.assert_array_equal(panel[frame], np.broadcast_to(MARK, (frame.sum(), 3)))
    uniform = figure[:, 30:38]  # head 2: uniform over keys -> all at its own maximum
    np.testing.assert_array_equal(uniform[~frame], np.broadcast_to(HIGH, ((~frame).sum(), 3)))
    np.testing.assert_array_equal(figure[:, :8][~frame], 0)  # the image, framed
    np.testing.assert_array_equal(figure[:, :8][frame], np.broadcast_to(MARK, (frame.sum(), 3)))


def test_figure_blends_over_the_image_and_enlarges():
    image = np.full((8, 8), 1.0, np.float32)  # white, grayscale in [-1, 1]
    figure = query_attention_figure(image, _one_hot_probs(), (0, 0), alpha=0.25, scale=2)
    assert figure.shape == (16, 4 * 16 + 3 * 2, 3)
    head1 = figure[:, 18:34]  # query (0, 0) attends to key (1, 1) -> bottom right
    np.testing.assert_array_equal(head1[12, 12], np.round(0.75 * 255 + 0.25 * HIGH))
    np.testing.assert_array_equal(head1[2, 12], np.round(0.75 * 255 + 0.25 * LOW))
    default = query_attention_figure(image, _one_hot_probs(), (0, 0))
    assert default.shape[0] == 128  # panels enlarged to at least 128 pixels


def test_write_round_trips(tmp_path):
    image = np.random.default_rng(0).uniform(-1, 1, (8, 8, 3))
    path = write_query_attention_png(tmp_path / "a" / "att.png", image, _one_hot_probs(), (3, 3))
    with Image.open(path) as png:
        np.testing.assert_array_equal(
            np.asarray(png), query_attention_figure(image, _one_hot_probs(), (3, 3))
        )


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(probs=np.zeros((2, 3, 16, 4)), query_yx=(0, 0)), r"probs\[i\]"),
        (dict(probs=np.zeros((2, 15, 4)), query_yx=(0, 0)), "15 query cells"),
        (dict(probs=np.zeros((2, 16, 4)), query_yx=(4, 0)), r"query_yx=\(4, 0\)"),
        (dict(probs=np.zeros((2, 16, 4)), query_yx=(0, 0), image=np.zeros((6, 6))), "6x6"),
        (dict(probs=np.zeros((2, 16, 4)), query_yx=(0, 0), alpha=2.0), "alpha=2.0"),
    ],
)
def test_errors_name_the_bad_value(kwargs, match):
    kwargs.setdefault("image", np.zeros((8, 8, 3)))
    with pytest.raises(ValueError, match=match):
        query_attention_figure(**kwargs)
