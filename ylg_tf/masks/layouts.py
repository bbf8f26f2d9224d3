"""Head layouts: which pattern step each head of one attention layer applies, on a 2-D grid.

YLG computes the steps of a multi-step pattern in parallel as different heads of ONE layer and
concatenates their values (supplementary §4), so a layout is a list of (pattern, step) per head.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from ylg_tf.masks.grids import CURVES, enumerate_grid
from ylg_tf.masks.patterns import sparse_pattern

_RTL = (("rtl", 0), ("rtl", 1))
_LTR = (("ltr", 0), ("ltr", 1))

#: Heads of each fixed layout, in the published code's order where it has one
#: (docs/background.md, Sparse attention).
LAYOUTS: dict[str, tuple[tuple[str, int], ...]] = {
    # RTL and LTR, each used twice: [RTL1, RTL2, RTL1, RTL2, LTR1, LTR2, LTR1, LTR2].
    "ylg": _RTL * 2 + _LTR * 2,
    # The Full-Information strided pattern four times (supplementary §3).
    "ylg_strided": (("strided_fi", 0), ("strided_fi", 1)) * 4,
    # Sparse Transformers' strided pattern without Full Information, for comparison.
    "strided": (("strided", 0), ("strided", 1)) * 4,
    # 4 sparse heads (RTL, LTR) + 4 dense heads (supplementary §5.3).
    "dense_sparse": _RTL + _LTR + (("dense", 0),) * 4,
}
#: `"dense"` has as many all-true heads as asked for (SAGAN: 1; its 8-head ablation: 8).
LAYOUT_NAMES = (*LAYOUTS, "dense")


def layout_heads(layout: str, heads: int | None = None) -> int:
    """Number of heads of `layout`; `heads` is required for `"dense"` only (default 1)."""
    if layout == "dense":
        heads = 1 if heads is None else heads
        if not isinstance(heads, (int, np.integer)) or heads < 1:
            raise ValueError(
                f"`heads` must be an integer >= 1 for the dense layout, got {heads!r}."
            )
        return int(heads)
    if layout not in LAYOUTS:
        raise ValueError(f"Unknown head layout {layout!r}; expected one of {LAYOUT_NAMES}.")
    if heads is not None and heads != len(LAYOUTS[layout]):
        raise ValueError(
            f"Layout {layout!r} has {len(LAYOUTS[layout])} heads, got heads={heads!r}."
        )
    return len(LAYOUTS[layout])


def head_masks(
    layout: str,
    query_hw: Sequence[int],
    key_hw: Sequence[int],
    curve: str = "manhattan",
    heads: int | None = None,
) -> np.ndarray:
    """Boolean masks `[heads, nq, nk]` of a layout, query and key cells flattened row-major.

    The 1-D patterns are taken over the key grid enumerated by `curve` and mapped back to 2-D
    cells (ESA). Queries may lie on a finer (or coarser) grid than keys, e.g. SAGAN's 2x2-pooled
    keys: query cell (i, j) uses the mask row of the key cell its centre lies in. The published
    code tiles the key-space mask over the queries instead (docs/background.md); this aligns them
    geometrically. The result is cached and read-only.
    """
    query_hw, key_hw = _grid_shape(query_hw, "query_hw"), _grid_shape(key_hw, "key_hw")
    if curve not in CURVES:
        raise ValueError(f"Unknown curve {curve!r}; expected one of {CURVES}.")
    return _head_masks(layout, query_hw, key_hw, curve, layout_heads(layout, heads))


@functools.lru_cache(maxsize=32)
def _head_masks(
    layout: str, query_hw: tuple[int, int], key_hw: tuple[int, int], curve: str, heads: int
) -> np.ndarray:
    key_rows, key_cols = key_hw
    n_keys = key_rows * key_cols
    cells = enumerate_grid(key_rows, key_cols, curve)
    # rank[k] = position of flat key cell k in the 1-D order.
    rank = np.empty(n_keys, dtype=np.int64)
    rank[cells[:, 0] * key_cols + cells[:, 1]] = np.arange(n_keys)
    query_rank = rank[_key_cell_of_queries(query_hw, key_hw)]
    steps = LAYOUTS.get(layout, (("dense", 0),) * heads)
    masks = np.stack(
        [sparse_pattern(name, n_keys)[step][np.ix_(query_rank, rank)] for name, step in steps]
    )
    masks.setflags(write=False)
    return masks


def _key_cell_of_queries(query_hw: tuple[int, int], key_hw: tuple[int, int]) -> np.ndarray:
    """Flat key cell holding the centre of each flat query cell, e.g. (i // 2, j // 2) for 2x."""
    (q_rows, q_cols), (k_rows, k_cols) = query_hw, key_hw
    rows = ((2 * np.arange(q_rows) + 1) * k_rows) // (2 * q_rows)
    cols = ((2 * np.arange(q_cols) + 1) * k_cols) // (2 * q_cols)
    return (rows[:, None] * k_cols + cols[None, :]).reshape(-1)


def _grid_shape(hw: Sequence[int], what: str) -> tuple[int, int]:
    values = tuple(hw) if isinstance(hw, Sequence) else ()
    if len(values) != 2 or any(not isinstance(v, (int, np.integer)) or v < 1 for v in values):
        raise ValueError(f"`{what}` must be two integers >= 1 (rows, cols), got {hw!r}.")
    return int(values[0]), int(values[1])
