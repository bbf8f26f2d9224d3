"""Sparse attention patterns as arrays: head masks on the 2-D grid, ESA orders, IFG reachability.

`ylg_tf.masks.figures` draws the labelled matplotlib versions of these (PNG files with titles,
legends and IFG edges); these are their NumPy counterparts, returned as uint8 arrays so that a
notebook or a TensorBoard summary can use them without matplotlib. `ylg_tf.masks` is imported
when a figure is drawn, so importing `ylg_tf.viz` stays light.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ylg_tf.viz.heatmaps import heatmap
from ylg_tf.viz.panels import MARK, enlarge, figure_scale, outline, side_by_side
from ylg_tf.viz.png import write_png

ATTENDED = np.array((8, 81, 156), np.uint8)  # dark blue, as in the supplementary's figures
IGNORED = np.array((235, 235, 235), np.uint8)


def _mask_colours(mask: np.ndarray) -> np.ndarray:
    return np.where(np.asarray(mask, bool)[..., None], ATTENDED, IGNORED).astype(np.uint8)


def head_mask_figure(
    layout: str,
    key_hw: Sequence[int],
    query_yx: Sequence[int] | None = None,
    *,
    curve: str = "manhattan",
    heads: int | None = None,
    scale: int | None = None,
) -> np.ndarray:
    """Per head of a layout, the key cells one query cell attends to, on the 2-D key grid.

    Queries lie on the key grid (as in the key-space mask). Attended keys are dark blue, the
    others light grey, and the query cell is framed in red.

    Args:
        layout: a head layout of `ylg_tf.masks.LAYOUT_NAMES` (`"ylg"`, `"ylg_strided"`, ...).
        key_hw: the key grid `(height, width)`.
        query_yx: the query cell; default the centre cell.
        curve: the grid enumeration (`"manhattan"` = ESA, `"hilbert"`, `"row_major"`).
        heads: head count of the `"dense"` layout.
        scale: integer enlargement; default: panels at least 128 pixels.

    Returns:
        uint8 RGB, one panel per head, separated by white gaps.
    """
    from ylg_tf.masks import head_masks

    key_hw = tuple(int(v) for v in key_hw)
    masks = head_masks(layout, key_hw, key_hw, curve, heads)
    row, col = (key_hw[0] // 2, key_hw[1] // 2) if query_yx is None else map(int, query_yx)
    if not (0 <= row < key_hw[0] and 0 <= col < key_hw[1]):
        raise ValueError(f"query_yx={(row, col)} lies outside the {key_hw[0]}x{key_hw[1]} grid.")
    factor = figure_scale(max(key_hw), scale)
    box = (row * factor, col * factor, (row + 1) * factor, (col + 1) * factor)
    panels = [
        outline(enlarge(_mask_colours(mask[row * key_hw[1] + col].reshape(key_hw)), factor), *box)
        for mask in masks
    ]
    return side_by_side(panels)


def grid_order_figure(
    rows: int, cols: int, curves: Sequence[str] | None = None, *, scale: int | None = None
) -> np.ndarray:
    """Per enumeration curve, each cell coloured by its visiting step (viridis, first = dark).

    ESA's Manhattan order shows anti-diagonal bands, the Hilbert curve nested quadrants, the
    row-major order (YLG - no ESA) horizontal stripes.

    Returns:
        uint8 RGB, one panel per curve (default `ylg_tf.masks.CURVES`).
    """
    from ylg_tf.masks import CURVES, enumerate_grid

    panels = []
    for curve in CURVES if curves is None else curves:
        cells = enumerate_grid(rows, cols, curve)
        step = np.empty((rows, cols))
        step[cells[:, 0], cells[:, 1]] = np.arange(rows * cols)
        panels.append(heatmap(step, vmin=0, vmax=max(rows * cols - 1, 1)))
    factor = figure_scale(max(rows, cols), scale)
    return side_by_side([enlarge(panel, factor) for panel in panels])


def ifg_figure(pattern: str | np.ndarray, n: int | None = None, *, scale: int | None = None):
    """The steps of a multi-step pattern and its IFG reachability, as matrices.

    Panels: each step's `[n, n]` mask (row = query, column = key; dark blue = attended), then the
    number of IFG paths from each input (column) to each output (row), viridis from 0 to the
    maximum, with the pairs that no path joins in red: the pattern has Full Information exactly
    when the last panel has no red.

    Args:
        pattern: a pattern name of `ylg_tf.masks.PATTERNS` (then `n` is required) or boolean step
            masks `[steps, n, n]`.
        n: positions of a named pattern.
        scale: integer enlargement; default: panels at least 128 pixels.
    """
    from ylg_tf.masks import reachability, sparse_pattern

    if isinstance(pattern, str):
        if n is None:
            raise ValueError(f"Pass n, the number of positions, with the pattern name {pattern!r}.")
        pattern = sparse_pattern(pattern, n)
    pattern = np.asarray(pattern, dtype=bool)
    paths = reachability(pattern)
    colours = heatmap(paths, vmin=0.0, vmax=max(paths.max(), 1.0))
    colours[paths == 0] = MARK
    panels = [_mask_colours(step) for step in pattern] + [colours]
    factor = figure_scale(pattern.shape[-1], scale)
    return side_by_side([enlarge(panel, factor) for panel in panels])


def write_head_mask_png(path: str | Path, layout: str, key_hw: Sequence[int], **kwargs) -> Path:
    """Writes `head_mask_figure(layout, key_hw, **kwargs)` as a PNG file; returns its path."""
    return write_png(path, head_mask_figure(layout, key_hw, **kwargs))


def write_grid_order_png(path: str | Path, rows: int, cols: int, **kwargs) -> Path:
    """Writes `grid_order_figure(rows, cols, **kwargs)` as a PNG file; returns its path."""
    return write_png(path, grid_order_figure(rows, cols, **kwargs))


def write_ifg_png(path: str | Path, pattern: str | np.ndarray, n: int | None = None, **kwargs):
    """Writes `ifg_figure(pattern, n, **kwargs)` as a PNG file; returns its path."""
    return write_png(path, ifg_figure(pattern, n, **kwargs))
