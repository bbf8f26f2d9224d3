"""Where one query pixel looks, per attention head, drawn over the image it was computed for.

An attention layer's probabilities `[heads, n_queries, n_keys]` (e.g. one sample of a map from
`generator((z, labels), return_attention_scores=True)`, which returns one map per layer) hold,
per head, one distribution over key cells for every query cell. The figure shows the image with
the chosen query cell framed in red, then one heatmap per head of that query's distribution,
enlarged to the image and blended over it. Each head is scaled to its own maximum, so that sparse
heads (a few keys) and dense heads (all keys) are both readable.

Example:
```python
# one attention layer: a 1-tuple of maps; probs [B, 8, 256, 64]
images, (probs,) = generator((z, labels), return_attention_scores=True)
write_query_attention_png("attention.png", images[0], probs[0], query_yx=(5, 9))
```
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ylg_tf.viz.heatmaps import heatmap, upscale
from ylg_tf.viz.panels import (
    blend,
    enlarge,
    figure_scale,
    grid_shape,
    outline,
    per_head,
    side_by_side,
    to_uint8_rgb,
)
from ylg_tf.viz.png import write_png


def query_attention(
    probs,
    query_yx: Sequence[int],
    query_hw: Sequence[int] | None = None,
    key_hw: Sequence[int] | None = None,
) -> np.ndarray:
    """The attention distribution of one query cell per head, float64 `[heads, key_h, key_w]`.

    Args:
        probs: attention probabilities of one sample, `[heads, nq, nk]` or `[nq, nk]` (one head),
            query and key cells flattened row-major.
        query_yx: the query cell `(row, col)` on the query grid.
        query_hw, key_hw: the grids `(height, width)`; default square.
    """
    probs = per_head(probs, "probs", "nq, nk")
    query_hw = grid_shape(probs.shape[1], query_hw, "query cells")
    key_hw = grid_shape(probs.shape[2], key_hw, "key cells")
    row, col = (int(v) for v in query_yx)
    if not (0 <= row < query_hw[0] and 0 <= col < query_hw[1]):
        raise ValueError(
            f"query_yx={tuple(query_yx)} lies outside the {query_hw[0]}x{query_hw[1]} query grid."
        )
    return probs[:, row * query_hw[1] + col].reshape(-1, *key_hw)


def query_attention_figure(
    image,
    probs,
    query_yx: Sequence[int],
    query_hw: Sequence[int] | None = None,
    key_hw: Sequence[int] | None = None,
    *,
    alpha: float = 0.7,
    scale: int | None = None,
) -> np.ndarray:
    """`image with the query framed | one heatmap per head` as one uint8 RGB array.

    Args:
        image: `[H, W]`, `[H, W, 1]` or `[H, W, 3]`, floats in [-1, 1] or uint8; H and W must be
            whole multiples of both grids.
        probs: attention of this image, `[heads, nq, nk]` or `[nq, nk]`.
        query_yx: the query cell `(row, col)` on the query grid.
        query_hw, key_hw: the grids `(height, width)`; default square.
        alpha: opacity of the heatmaps over the image (1: heatmaps alone).
        scale: integer enlargement of the figure; default: panels at least 128 pixels.

    Returns:
        uint8 `[S*H, (1 + heads) * (S*W + 2) - 2, 3]` for the enlargement S; the query cell is
        framed in red on every panel, the heatmaps are viridis from 0 to each head's maximum.
    """
    maps = query_attention(probs, query_yx, query_hw, key_hw)
    image = to_uint8_rgb(image)
    height, width = image.shape[:2]
    probs_shape = np.shape(probs)
    query_hw = grid_shape(probs_shape[-2], query_hw, "query cells")
    for grid, what in ((query_hw, "query"), (maps.shape[1:], "key")):
        if height % grid[0] or width % grid[1]:
            raise ValueError(
                f"The image ({height}x{width}) must be a whole multiple of the {what} grid "
                f"({grid[0]}x{grid[1]})."
            )
    panels = [image]
    for head in maps:
        colours = upscale(heatmap(head, vmin=0.0, vmax=max(head.max(), 1e-12)), (height, width))
        panels.append(blend(image, colours, alpha))
    factor = figure_scale(max(height, width), scale)
    cell_h, cell_w = factor * height // query_hw[0], factor * width // query_hw[1]
    row, col = (int(v) for v in query_yx)
    box = (row * cell_h, col * cell_w, (row + 1) * cell_h, (col + 1) * cell_w)
    return side_by_side([outline(enlarge(panel, factor), *box) for panel in panels])


def write_query_attention_png(
    path: str | Path, image, probs, query_yx: Sequence[int], **kwargs
) -> Path:
    """Writes `query_attention_figure(image, probs, query_yx, **kwargs)` as a PNG file."""
    return write_png(path, query_attention_figure(image, probs, query_yx, **kwargs))
