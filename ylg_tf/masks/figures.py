"""PNG figures of patterns, head masks and Information Flow Graphs (supplementary Figs. 3 and 4).

Uses matplotlib's object API (no pyplot state), so it is safe in binaries, tests and notebooks.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from ylg_tf.masks.grids import CURVES, enumerate_grid
from ylg_tf.masks.layouts import LAYOUTS, head_masks, layout_heads
from ylg_tf.masks.patterns import sparse_pattern

# The supplementary's colours: neither step, first step only, second step only, both steps.
_STEP_COLOURS = ("#f5d547", "#9ecae1", "#74c476", "#08519c")
_STEP_LABELS = ("not attended", "step 1", "step 2", "both steps")


def plot_patterns(names: Sequence[str], n: int, path: str | Path) -> Path:
    """One panel per pattern with both steps overlaid, as in supplementary Fig. 3 (top row)."""
    fig = Figure(figsize=(3.2 * len(names), 3.6))
    for k, name in enumerate(names):
        pattern = sparse_pattern(name, n)
        code = pattern[0].astype(int) + 2 * pattern[-1] if len(pattern) == 2 else 3 * pattern[0]
        ax = fig.add_subplot(1, len(names), k + 1)
        ax.imshow(code, cmap=ListedColormap(_STEP_COLOURS), vmin=0, vmax=3)
        ax.set_title(f"{name} (n={n})")
        ax.set_xlabel("key j")
        ax.set_ylabel("query i")
    legend = zip(_STEP_COLOURS, _STEP_LABELS, strict=True)
    fig.legend(
        handles=[Patch(color=colour, label=label) for colour, label in legend],
        loc="lower center",
        ncol=4,
    )
    fig.subplots_adjust(bottom=0.25)
    return _save(fig, path)


def plot_head_masks(
    layout: str,
    key_hw: Sequence[int],
    path: str | Path,
    curve: str = "manhattan",
    heads: int | None = None,
    query_cell: Sequence[int] | None = None,
) -> Path:
    """Per head: the `[nq, nk]` mask over a 2x query grid (top) and, on the 2-D key grid, the
    keys that one query cell attends to (bottom; default the centre cell)."""
    key_hw = tuple(key_hw)
    query_hw = (2 * key_hw[0], 2 * key_hw[1])
    masks = head_masks(layout, query_hw, key_hw, curve, heads)
    qi, qj = query_cell if query_cell is not None else (query_hw[0] // 2, query_hw[1] // 2)
    steps = LAYOUTS.get(layout, (("dense", 0),) * layout_heads(layout, heads))
    fig = Figure(figsize=(2.4 * len(masks), 5.2))
    for h, mask in enumerate(masks):
        title = f"head {h}: {steps[h][0]} step {steps[h][1] + 1}"
        top = fig.add_subplot(2, len(masks), h + 1)
        top.imshow(mask, cmap="Blues", aspect="auto", interpolation="nearest")
        top.set_title(title, fontsize=8)
        top.set_axis_off()
        bottom = fig.add_subplot(2, len(masks), len(masks) + h + 1)
        bottom.imshow(mask[qi * query_hw[1] + qj].reshape(key_hw), cmap="Blues", vmin=0, vmax=1)
        bottom.plot([qj / 2 - 0.25], [qi / 2 - 0.25], "r+", markersize=8)
        bottom.set_title(f"query ({qi},{qj})", fontsize=8)
        bottom.set_axis_off()
    fig.suptitle(f"{layout} heads, {curve} order, keys {key_hw[0]}x{key_hw[1]}")
    return _save(fig, path)


def plot_ifg(name: str, n: int, path: str | Path) -> Path:
    """The Information Flow Graph V0 -> V1 -> V2 of a pattern (supplementary Figs. 3c/d, 4a)."""
    pattern = sparse_pattern(name, n)
    fig = Figure(figsize=(1.6 + 1.6 * len(pattern), max(3.0, 0.35 * n)))
    ax = fig.add_subplot(1, 1, 1)
    y = np.arange(n)[::-1]
    for t, step in enumerate(pattern):
        query, key = np.nonzero(step)
        colour = _STEP_COLOURS[1 + t % 2]
        for q, k in zip(query, key, strict=True):
            ax.plot([t, t + 1], [y[k], y[q]], color=colour, linewidth=0.8, zorder=1)
    for t in range(len(pattern) + 1):
        ax.scatter(np.full(n, t), y, s=60, color="white", edgecolors="black", zorder=2)
        ax.text(t, n + 0.2, f"$V^{t}$", ha="center")
    for i in range(n):
        ax.text(-0.15, y[i], str(i), ha="right", va="center", fontsize=7)
    ax.set_title(f"IFG of {name}, n={n}", pad=22)
    ax.set_xlim(-0.5, len(pattern) + 0.3)
    ax.set_axis_off()
    return _save(fig, path)


def plot_grid_orders(
    rows: int, cols: int, path: str | Path, curves: Sequence[str] = CURVES
) -> Path:
    """Per curve, the path that enumerates the grid: ESA's Manhattan order, Hilbert, row-major.

    Cells are coloured by visiting step and joined in order; on grids of at most 8x8 cells each
    cell also shows its step.
    """
    fig = Figure(figsize=(3.2 * len(curves), 3.4))
    for k, curve in enumerate(curves):
        cells = enumerate_grid(rows, cols, curve)
        step = np.empty((rows, cols))
        step[cells[:, 0], cells[:, 1]] = np.arange(rows * cols)
        ax = fig.add_subplot(1, len(curves), k + 1)
        ax.imshow(step, cmap="viridis", interpolation="nearest")
        ax.plot(cells[:, 1], cells[:, 0], color="white", linewidth=1.0)
        ax.plot(cells[:1, 1], cells[:1, 0], "o", color="red", markersize=4)
        if rows * cols <= 64:
            for (r, c), index in zip(cells, range(rows * cols), strict=True):
                ax.text(c, r, str(index), ha="center", va="center", fontsize=7, color="red")
        ax.set_title(f"{curve} order, {rows}x{cols}", fontsize=9)
        ax.set_axis_off()
    return _save(fig, path)


def _save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path
