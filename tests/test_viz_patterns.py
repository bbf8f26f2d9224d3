"""Tests of `ylg_tf.viz.patterns` (NumPy figures of head masks, ESA orders, IFGs) and of
`ylg_tf.masks.figures.plot_grid_orders`, with hand-enumerated small cases."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from ylg_tf.viz import (
    grid_order_figure,
    head_mask_figure,
    heatmap,
    ifg_figure,
    write_grid_order_png,
    write_head_mask_png,
    write_ifg_png,
)
from ylg_tf.viz.heatmaps import VIRIDIS_ANCHORS
from ylg_tf.viz.panels import MARK
from ylg_tf.viz.patterns import ATTENDED, IGNORED

# YLG's 8 heads on a 3x3 key grid (s = 3), query = the centre cell. ESA's Manhattan order is
# (0,0) (0,1) (1,0) (0,2) (1,1) (2,0) (1,2) (2,1) (2,2), so the centre is position 4 of block 1
# (positions 3, 4, 5). By hand: RTL1 = {4, 5}; RTL2 = {4} + block starts {0, 3, 6};
# LTR1 = {3, 4}; LTR2 = {4} + block ends {2, 5, 8}.
_ORDER = [(0, 0), (0, 1), (1, 0), (0, 2), (1, 1), (2, 0), (1, 2), (2, 1), (2, 2)]
_HEADS = [{4, 5}, {0, 3, 4, 6}, {3, 4}, {2, 4, 5, 8}]  # RTL1, RTL2, LTR1, LTR2
_YLG = [_HEADS[0], _HEADS[1], _HEADS[0], _HEADS[1], _HEADS[2], _HEADS[3], _HEADS[2], _HEADS[3]]


def _centres(panel: np.ndarray, scale: int, shape) -> np.ndarray:
    """The colour at the centre pixel of each grid cell of an enlarged panel."""
    return panel[scale // 2 :: scale, scale // 2 :: scale][: shape[0], : shape[1]]


def test_head_mask_figure_ylg_by_hand():
    scale = 3
    figure = head_mask_figure("ylg", (3, 3), scale=scale)
    assert figure.dtype == np.uint8 and figure.shape == (9, 8 * 9 + 7 * 2, 3)
    for head, positions in enumerate(_YLG):
        panel = figure[:, head * 11 : head * 11 + 9]
        expected = np.zeros((3, 3), bool)
        for position in positions:
            expected[_ORDER[position]] = True
        colours = np.where(expected[..., None], ATTENDED, IGNORED)
        np.testing.assert_array_equal(_centres(panel, scale, (3, 3)), colours, err_msg=f"{head}")
        np.testing.assert_array_equal(panel[2, 2:7], np.broadcast_to(MARK, (5, 3)))  # frame
        np.testing.assert_array_equal(panel[3:6, 3:6], np.broadcast_to(ATTENDED, (3, 3, 3)))


def test_head_mask_figure_row_major_and_other_query():
    # Row-major order: position = 3 * row + col. Query (0, 0) in LTR1 attends {0} only; in LTR2
    # {0} + block ends {2, 5, 8}, i.e. the last column.
    figure = head_mask_figure("ylg", (3, 3), (0, 0), curve="row_major", scale=3)
    ltr2 = _centres(figure[:, 5 * 11 : 5 * 11 + 9], 3, (3, 3))
    expected = np.zeros((3, 3), bool)
    expected[0, 0] = True
    expected[:, 2] = True
    np.testing.assert_array_equal(ltr2, np.where(expected[..., None], ATTENDED, IGNORED))
    with pytest.raises(ValueError, match=r"query_yx=\(3, 0\)"):
        head_mask_figure("ylg", (3, 3), (3, 0))
    with pytest.raises(ValueError, match="'nope'"):
        head_mask_figure("nope", (3, 3))


def test_grid_order_figure_by_hand():
    # 2x3 grid. Manhattan: (0,0) (0,1) (1,0) (0,2) (1,1) (1,2); row-major: raster order.
    steps = {
        "manhattan": np.array([[0, 1, 3], [2, 4, 5]]),
        "row_major": np.array([[0, 1, 2], [3, 4, 5]]),
    }
    figure = grid_order_figure(2, 3, list(steps), scale=2)
    assert figure.shape == (4, 2 * 6 + 2, 3)
    for k, step in enumerate(steps.values()):
        panel = figure[:, k * 8 : k * 8 + 6]
        np.testing.assert_array_equal(_centres(panel, 2, (2, 3)), heatmap(step / 5.0, 0.0, 1.0))
    np.testing.assert_array_equal(figure[0, 0], VIRIDIS_ANCHORS[0])  # first visited: darkest
    np.testing.assert_array_equal(figure[3, 5], VIRIDIS_ANCHORS[-1])  # last visited: brightest
    assert grid_order_figure(4, 4).shape == (128, 3 * 128 + 2 * 2, 3)  # every curve


def test_ifg_figure_by_hand_and_full_information():
    identity = np.stack([np.eye(3, dtype=bool)] * 2)  # information never leaves its position
    figure = ifg_figure(identity, scale=1)
    assert figure.shape == (3, 3 * 3 + 2 * 2, 3)
    np.testing.assert_array_equal(
        figure[:, :3], np.where(np.eye(3, dtype=bool)[..., None], ATTENDED, IGNORED)
    )
    paths = figure[:, 10:]
    np.testing.assert_array_equal(
        paths[np.eye(3, dtype=bool)], np.broadcast_to(VIRIDIS_ANCHORS[-1], (3, 3))
    )
    np.testing.assert_array_equal(paths[~np.eye(3, dtype=bool)], np.broadcast_to(MARK, (6, 3)))

    def has_red(name):
        last = ifg_figure(name, 16, scale=1)[:, -16:]
        return bool(np.all(last == MARK, axis=-1).any())

    # Supplementary §6 / Fig. 3: strided lacks Full Information, LTR, RTL and strided_fi have it.
    assert has_red("strided")
    assert not any(has_red(name) for name in ("ltr", "rtl", "strided_fi"))
    with pytest.raises(ValueError, match="Pass n"):
        ifg_figure("ltr")


def test_writers_round_trip(tmp_path):
    cases = [
        (
            write_head_mask_png(tmp_path / "h.png", "ylg_strided", (4, 4)),
            head_mask_figure("ylg_strided", (4, 4)),
        ),
        (write_grid_order_png(tmp_path / "o.png", 4, 4), grid_order_figure(4, 4)),
        (write_ifg_png(tmp_path / "i.png", "ltr", 9), ifg_figure("ltr", 9)),
    ]
    for path, expected in cases:
        with Image.open(path) as png:
            np.testing.assert_array_equal(np.asarray(png), expected)


def test_plot_grid_orders_writes_a_png(tmp_path):
    from ylg_tf.masks.figures import plot_grid_orders

    path = plot_grid_orders(4, 6, tmp_path / "orders.png")
    with Image.open(path) as png:
        assert png.format == "PNG" and png.width > 2 * png.height  # three panels in a row
    with pytest.raises(ValueError, match="'zigzag'"):
        plot_grid_orders(4, 4, tmp_path / "bad.png", curves=("zigzag",))


def test_importing_viz_stays_light():
    code = (
        "import sys, ylg_tf.viz; "
        "print(sorted(m for m in ('tensorflow', 'matplotlib', 'scipy', 'PIL', 'ylg_tf.masks') "
        "if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
