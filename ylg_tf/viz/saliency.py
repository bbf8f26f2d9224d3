"""Saliency per discriminator head (YLG supplementary Fig. 1) as one picture.

YLG's inversion weighs the D0-space loss by, per head, how much attention each key position
receives from all queries of a real image (`ylg_tf.inversion.saliency_maps`, `[batch, heads, h0,
w0]`). Showing the image next to one heatmap per head tells which regions each head deems
important, and hence which regions the inversion will try hardest to match.

Example:
```python
saliency = saliency_maps(discriminator, images, labels)  # [B, heads, h0, w0]
write_saliency_png("saliency.png", images[0], saliency[0])
write_saliency_png("inversion.png", [target, inverted], saliency[0])  # target | inversion | heads
```
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ylg_tf.viz.heatmaps import heatmap, upscale
from ylg_tf.viz.panels import blend, enlarge, figure_scale, per_head, side_by_side, to_uint8_rgb
from ylg_tf.viz.png import write_png


def saliency_figure(
    image,
    saliency,
    *,
    alpha: float = 1.0,
    shared_scale: bool = False,
    scale: int | None = None,
) -> np.ndarray:
    """`image | one saliency heatmap per head` as one uint8 RGB array.

    Args:
        image: `[H, W]`, `[H, W, 1]` or `[H, W, 3]` (floats in [-1, 1] or uint8), or a list of
            such images of one size shown first (e.g. `[target, inversion]`); H and W must be
            whole multiples of the saliency grid.
        saliency: saliency of the (first) image per head, `[heads, h0, w0]` or `[h0, w0]`.
        alpha: opacity of the heatmaps over the first image (1: heatmaps alone, as in Fig. 1).
        shared_scale: one colour scale, 0 to the maximum over all heads, so that heads compare;
            by default each head spans the whole scale from 0 to its own maximum.
        scale: integer enlargement of the figure; default: panels at least 128 pixels.

    Returns:
        uint8 RGB, `len(images) + heads` panels side by side, separated by white gaps.
    """
    images = (
        [image] if isinstance(image, np.ndarray) or not isinstance(image, (list, tuple)) else image
    )
    images = [to_uint8_rgb(im) for im in images]
    if not images or any(im.shape != images[0].shape for im in images):
        raise ValueError(
            f"Images must be one or more of one size, got {[im.shape for im in images]}."
        )
    saliency = per_head(saliency, "saliency", "h0, w0")
    if not np.all(np.isfinite(saliency)):
        raise ValueError("saliency holds NaN or infinite values.")
    height, width = images[0].shape[:2]
    if height % saliency.shape[1] or width % saliency.shape[2]:
        raise ValueError(
            f"The image ({height}x{width}) must be a whole multiple of the saliency grid "
            f"({saliency.shape[1]}x{saliency.shape[2]})."
        )
    top = saliency.max()
    panels = list(images)
    for head in saliency:
        vmax = top if shared_scale else head.max()
        colours = heatmap(head, vmin=0.0, vmax=max(vmax, 1e-12))
        panels.append(blend(images[0], upscale(colours, (height, width)), alpha))
    factor = figure_scale(max(height, width), scale)
    return side_by_side([enlarge(panel, factor) for panel in panels])


def write_saliency_png(path: str | Path, image, saliency, **kwargs) -> Path:
    """Writes `saliency_figure(image, saliency, **kwargs)` as a PNG file; returns its path."""
    return write_png(path, saliency_figure(image, saliency, **kwargs))
