"""Latent -> image attention as a segment map: which latent controls which region of the image.

GANformer's bipartite attention (`ylg_tf.layers.BipartiteAttention`) returns, per image position,
a distribution over the k latents, `[batch, heads, n, k]`. Averaging over heads and taking the
most attended latent at each position segments the image into the regions each latent controls
(Hudson & Zitnick, 2021, Fig. 4). Works on NumPy arrays (or anything `np.asarray` accepts).

Example:
```python
images, (probs,) = generator((z, labels), return_attention_scores=True)  # one map per layer
write_segment_png("segments.png", probs[0], image=images[0])  # image | overlay | segments
```
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ylg_tf.viz.panels import blend, enlarge, figure_scale, grid_shape, side_by_side, to_uint8_rgb
from ylg_tf.viz.png import write_png

#: Fixed colours of latents 0..19 (matplotlib's tab20, saturated shades first, then light ones).
PALETTE = np.array(
    [
        (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
        (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
        (174, 199, 232), (255, 187, 120), (152, 223, 138), (255, 152, 150), (197, 176, 213),
        (196, 156, 148), (247, 182, 210), (199, 199, 199), (219, 219, 141), (158, 218, 229),
    ],
    dtype=np.uint8,
)  # fmt: skip


def palette(count: int) -> np.ndarray:
    """`count` distinct colours, uint8 `[count, 3]`: `PALETTE`, then golden-angle hues."""
    if count <= len(PALETTE):
        return PALETTE[:count].copy()
    hues = (np.arange(count - len(PALETTE)) * 0.618033988749895) % 1.0
    # HSV with s = 0.65, v = 0.9 -> RGB.
    k = (np.array([5.0, 3.0, 1.0]) + hues[:, None] * 6.0) % 6.0
    rgb = 0.9 - 0.9 * 0.65 * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)
    return np.concatenate([PALETTE, np.round(rgb * 255).astype(np.uint8)])


def segment_map(attention, grid_hw: Sequence[int] | None = None) -> np.ndarray:
    """The most attended latent at each image position, int32 `[height, width]`.

    Args:
        attention: latent -> image probabilities of one sample, `[heads, n, k]` (averaged over
            heads) or `[n, k]`; positions flattened row-major.
        grid_hw: the image grid `(height, width)`; default: square, `sqrt(n)` a side.

    Returns:
        int32 `[height, width]` latent indices in `[0, k)`.
    """
    attention = np.asarray(attention, dtype=np.float64)
    if attention.ndim == 3:
        attention = attention.mean(axis=0)
    if attention.ndim != 2 or 0 in attention.shape:
        raise ValueError(
            f"segment_map expects the attention of one sample, [heads, n, k] or [n, k], got "
            f"shape={attention.shape} (for a batch, pass attention[i])."
        )
    height, width = grid_shape(attention.shape[0], grid_hw, "image positions")
    return attention.argmax(axis=-1).reshape(height, width).astype(np.int32)


def colorize_segments(segments: np.ndarray, num_latents: int | None = None) -> np.ndarray:
    """Latent indices `[H, W]` -> uint8 RGB `[H, W, 3]` with one fixed colour per latent."""
    segments = np.asarray(segments)
    count = int(segments.max()) + 1 if num_latents is None else int(num_latents)
    if segments.size and (segments.min() < 0 or segments.max() >= count):
        raise ValueError(
            f"Segment indices must lie in [0, {count}), got values in "
            f"[{segments.min()}, {segments.max()}]."
        )
    return palette(count)[segments]


def segment_figure(
    attention,
    image=None,
    *,
    alpha: float = 0.5,
    scale: int | None = None,
    grid_hw: Sequence[int] | None = None,
    num_latents: int | None = None,
) -> np.ndarray:
    """The segment map as a picture, optionally next to and over the image it was made for.

    Args:
        attention: latent -> image probabilities of one sample, `[heads, n, k]` or `[n, k]`.
        image: optional `[H, W, 3]` (or grayscale) image, floats in [-1, 1] or uint8, whose
            height and width are multiples of the attention grid's.
        alpha: opacity of the segment colours over the image, in [0, 1].
        scale: integer enlargement (nearest neighbour) of the whole figure; default: enough for
            panels at least 128 pixels wide.
        grid_hw: the attention grid `(height, width)`; default square.
        num_latents: colour count (default: the attention's k).

    Returns:
        uint8 RGB: the coloured segments alone, or with an image three panels side by side,
        `image | image blended with segments | segments`, separated by white gaps.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got alpha={alpha!r}.")
    attention = np.asarray(attention)
    segments = segment_map(attention, grid_hw)
    colours = colorize_segments(segments, num_latents or attention.shape[-1])
    if image is None:
        panels = [colours]
    else:
        image = to_uint8_rgb(image)
        (rows, cols), (height, width) = segments.shape, image.shape[:2]
        if height % rows or width % cols or height // rows != width // cols:
            raise ValueError(
                f"The image ({height}x{width}) must be the attention grid ({rows}x{cols}) "
                "enlarged by one integer factor."
            )
        colours = enlarge(colours, height // rows)
        panels = [image, blend(image, colours, alpha), colours]
    factor = figure_scale(max(panels[0].shape[:2]), scale)
    return side_by_side([enlarge(panel, factor) for panel in panels])


def write_segment_png(path: str | Path, attention, image=None, **kwargs) -> Path:
    """Writes `segment_figure(attention, image, **kwargs)` as a PNG file; returns its path."""
    return write_png(path, segment_figure(attention, image, **kwargs))
