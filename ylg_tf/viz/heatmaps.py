"""Scalar maps (attention, saliency) as colour images, NumPy only.

The colour scale is viridis, sampled at nine anchors and interpolated linearly: perceptually
ordered, readable in grey, and it keeps `ylg_tf.viz` free of matplotlib at import.
"""

from __future__ import annotations

import numpy as np

#: Viridis at 0, 1/8, ..., 1: matplotlib's `viridis` colour table at those points, rounded.
VIRIDIS_ANCHORS = np.array(
    [
        (68, 1, 84), (71, 45, 123), (59, 82, 139), (44, 114, 142), (33, 145, 140),
        (40, 174, 128), (94, 201, 98), (173, 220, 48), (253, 231, 37),
    ],
    dtype=np.float64,
)  # fmt: skip


def heatmap(values: np.ndarray, vmin: float | None = None, vmax: float | None = None) -> np.ndarray:
    """A `[H, W]` array -> uint8 `[H, W, 3]` viridis image, scaled to [vmin, vmax].

    The range defaults to the array's own min and max; a constant array maps to the low colour.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or 0 in values.shape:
        raise ValueError(f"heatmap expects a non-empty [H, W] array, got shape {values.shape}.")
    if not np.all(np.isfinite(values)):
        raise ValueError("heatmap got NaN or infinite values.")
    low = values.min() if vmin is None else float(vmin)
    high = values.max() if vmax is None else float(vmax)
    scaled = np.clip((values - low) / (high - low), 0.0, 1.0) if high > low else values * 0.0
    position = scaled * (len(VIRIDIS_ANCHORS) - 1)
    left = np.minimum(position.astype(int), len(VIRIDIS_ANCHORS) - 2)
    fraction = (position - left)[..., None]
    rgb = (1 - fraction) * VIRIDIS_ANCHORS[left] + fraction * VIRIDIS_ANCHORS[left + 1]
    return np.round(rgb).astype(np.uint8)


def upscale(image: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of `[h, w]` or `[h, w, C]` to `size` when it is a multiple of h, w.

    Attention and saliency maps live on coarse grids; blocky pixels show that grid honestly.
    """
    image = np.asarray(image)
    height, width = (size, size) if isinstance(size, int) else size
    if height % image.shape[0] or width % image.shape[1]:
        raise ValueError(
            f"Cannot upscale a {image.shape[0]}x{image.shape[1]} map to {height}x{width}: "
            "the target must be a whole multiple of the map."
        )
    rows, cols = height // image.shape[0], width // image.shape[1]
    return np.repeat(np.repeat(image, rows, axis=0), cols, axis=1)
