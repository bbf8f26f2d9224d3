"""Building blocks of the figures: images to uint8 RGB, enlargement, panels side by side, boxes.

Every figure of `ylg_tf.viz` is a row of equally sized panels separated by white gaps, enlarged
by one integer factor so that 32x32 samples and 16x16 grids stay legible.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MIN_SIDE = 128  # default enlargement makes panels at least this many pixels on their longer side
GAP = 2  # white pixels between panels
MARK = np.array((228, 26, 28), np.uint8)  # the red of marked query cells


def to_uint8_rgb(image) -> np.ndarray:
    """`[H, W]`, `[H, W, 1]` or `[H, W, 3]`, floats in [-1, 1] (the models' convention) or
    uint8 -> uint8 `[H, W, 3]`."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[-1] not in (1, 3):
        raise ValueError(f"image must be [H, W], [H, W, 1] or [H, W, 3], got {image.shape}.")
    if image.dtype != np.uint8:
        image = np.clip((image.astype(np.float64) + 1.0) * 127.5, 0, 255).round()
    return np.broadcast_to(image, (*image.shape[:2], 3)).astype(np.uint8)


def enlarge(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement by an integer factor."""
    return image.repeat(factor, axis=0).repeat(factor, axis=1)


def figure_scale(side: int, scale: int | None) -> int:
    """`scale` checked, or by default the factor that makes a `side`-pixel panel >= MIN_SIDE."""
    factor = max(1, -(-MIN_SIDE // side)) if scale is None else scale
    if not isinstance(factor, (int, np.integer)) or factor < 1:
        raise ValueError(f"scale must be an integer >= 1, got scale={scale!r}.")
    return int(factor)


def side_by_side(panels: Sequence[np.ndarray], gap: int = GAP) -> np.ndarray:
    """Equally sized uint8 `[H, W, 3]` panels in one row, separated by `gap` white columns."""
    height, width = panels[0].shape[:2]
    if any(panel.shape[:2] != (height, width) for panel in panels):
        shapes = [panel.shape[:2] for panel in panels]
        raise ValueError(f"Panels must share one size, got {shapes}.")
    figure = np.full((height, len(panels) * (width + gap) - gap, 3), 255, dtype=np.uint8)
    for k, panel in enumerate(panels):
        figure[:, k * (width + gap) : k * (width + gap) + width] = panel
    return figure


def blend(image: np.ndarray, overlay: np.ndarray, alpha: float) -> np.ndarray:
    """`overlay` drawn with opacity `alpha` over `image` (both uint8 RGB of one size)."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got alpha={alpha!r}.")
    mixed = (1.0 - alpha) * image.astype(np.float64) + alpha * overlay.astype(np.float64)
    return np.round(mixed).astype(np.uint8)


def outline(image: np.ndarray, top: int, left: int, bottom: int, right: int) -> np.ndarray:
    """A copy of `image` with a 1-pixel red frame just around rows [top, bottom) and columns
    [left, right): the framed cell itself stays visible."""
    image = image.copy()
    height, width = image.shape[:2]
    rows = slice(max(top - 1, 0), min(bottom + 1, height))
    cols = slice(max(left - 1, 0), min(right + 1, width))
    for row in (top - 1, bottom):
        if 0 <= row < height:
            image[row, cols] = MARK
    for col in (left - 1, right):
        if 0 <= col < width:
            image[rows, col] = MARK
    return image


def grid_shape(count: int, grid_hw: Sequence[int] | None, what: str) -> tuple[int, int]:
    """`grid_hw` checked against `count` cells, or the square grid of `count` cells."""
    if grid_hw is None:
        side = int(round(np.sqrt(count)))
        if side * side != count:
            raise ValueError(
                f"{count} {what} do not form a square grid; pass their (height, width)."
            )
        return side, side
    height, width = (int(v) for v in grid_hw)
    if height * width != count:
        raise ValueError(f"A {height}x{width} grid has {height * width} cells, not {count} {what}.")
    return height, width


def per_head(values, name: str, axes: str) -> np.ndarray:
    """One sample's `[heads, *axes]` or `[*axes]` (one head) map as float64 `[heads, a, b]`."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 2:
        values = values[None]
    if values.ndim != 3 or 0 in values.shape:
        raise ValueError(
            f"{name} must be of one sample, [heads, {axes}] or [{axes}], got "
            f"shape={values.shape} (for a batch, pass {name}[i])."
        )
    return values
