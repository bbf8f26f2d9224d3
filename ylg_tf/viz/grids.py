"""Sample grids: a batch of generated images as one picture, NumPy only."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ylg_tf.viz.png import write_png


def image_grid(images: np.ndarray, columns: int, scale: int = 1) -> np.ndarray:
    """`[N, H, W, C]` floats in [-1, 1] -> one uint8 grid with 1px white gaps.

    Each image is enlarged `scale` times (nearest neighbour) so that small samples stay legible;
    images fill the rows left to right and the cells after the last image stay white.
    """
    images = np.asarray(images, np.float32)
    if images.ndim != 4 or images.shape[0] == 0:
        raise ValueError(f"image_grid expects a non-empty [N, H, W, C] batch, got {images.shape}.")
    if columns < 1 or scale < 1:
        raise ValueError(f"columns and scale must be >= 1, got columns={columns}, scale={scale}.")
    images = np.clip((images + 1.0) * 127.5, 0, 255).astype(np.uint8)
    images = images.repeat(scale, axis=1).repeat(scale, axis=2)
    count, height, width, channels = images.shape
    rows = -(-count // columns)
    grid = np.full((rows * (height + 1) - 1, columns * (width + 1) - 1, channels), 255, np.uint8)
    for k, image in enumerate(images):
        top, left = (k // columns) * (height + 1), (k % columns) * (width + 1)
        grid[top : top + height, left : left + width] = image
    return grid


def write_image_grid(path: str | Path, images: np.ndarray, columns: int, scale: int = 1) -> Path:
    """Writes `image_grid(images, columns, scale)` as a PNG file; returns its path."""
    return write_png(path, image_grid(images, columns, scale))
