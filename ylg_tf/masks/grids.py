"""Enumerations of a 2-D grid into 1-D order: ESA's Manhattan order, a Hilbert curve, row-major.

ESA (Enumerate, Shift, Apply) enumerates the key grid so that 1-D neighbours are 2-D neighbours,
then applies a 1-D pattern over that order (docs/background.md, Sparse attention).
"""

from __future__ import annotations

import numpy as np

CURVES = ("manhattan", "hilbert", "row_major")


def enumerate_grid(rows: int, cols: int, curve: str = "manhattan") -> np.ndarray:
    """Returns the `(row, col)` cells of a grid in visiting order, int `[rows * cols, 2]`.

    Curves:
      - `"manhattan"` (ESA): by Manhattan distance from the top-left corner, ties in increasing
        row order: (0,0), (0,1), (1,0), (0,2), (1,1), (2,0), ...
      - `"hilbert"`: by position along the Hilbert curve of the smallest power-of-two square that
        holds the grid (starting top-left); on other sizes cells outside the grid are skipped.
      - `"row_major"`: plain raster order, i.e. no ESA ("YLG - no ESA").
    """
    for value, what in ((rows, "rows"), (cols, "cols")):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"Grid {what} must be an integer >= 1, got {value!r}.")
    if curve not in CURVES:
        raise ValueError(f"Unknown curve {curve!r}; expected one of {CURVES}.")
    r, c = np.divmod(np.arange(rows * cols), cols)
    if curve == "manhattan":
        order = np.lexsort((r, r + c))
    elif curve == "hilbert":
        order = np.argsort(_hilbert_index(r, c, max(rows, cols)), kind="stable")
    else:
        order = np.arange(rows * cols)
    return np.stack([r[order], c[order]], axis=1)


def _hilbert_index(row: np.ndarray, col: np.ndarray, extent: int) -> np.ndarray:
    """Distance along the Hilbert curve of each cell (x = col, y = row), vectorized over cells."""
    side = 1 << max(extent - 1, 0).bit_length()
    x, y = col.copy(), row.copy()
    index = np.zeros_like(x)
    s = side // 2
    while s > 0:
        rx = (x & s) > 0
        ry = (y & s) > 0
        index += s * s * ((3 * rx) ^ ry)
        # Rotate the quadrant so that the sub-curve starts where the parent curve enters it.
        flip = ~ry & rx
        x = np.where(flip, side - 1 - x, x)
        y = np.where(flip, side - 1 - y, y)
        x, y = np.where(~ry, y, x), np.where(~ry, x, y)
        s //= 2
    return index
