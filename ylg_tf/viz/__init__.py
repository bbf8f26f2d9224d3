"""Pictures of what the models do, as NumPy arrays and PNG files.

Import-light: NumPy and the standard library at import (no TensorFlow, no matplotlib; Pillow only
when a PNG is written, `ylg_tf.masks` only when a pattern is drawn), so that figures can be drawn
from saved arrays on any machine. Every `*_figure` returns a uint8 RGB array and has a `write_*`
twin that writes it as a PNG file.
"""

from ylg_tf.viz.attention import query_attention, query_attention_figure, write_query_attention_png
from ylg_tf.viz.grids import image_grid, write_image_grid
from ylg_tf.viz.heatmaps import heatmap, upscale
from ylg_tf.viz.patterns import (
    grid_order_figure,
    head_mask_figure,
    ifg_figure,
    write_grid_order_png,
    write_head_mask_png,
    write_ifg_png,
)
from ylg_tf.viz.png import write_png
from ylg_tf.viz.saliency import saliency_figure, write_saliency_png
from ylg_tf.viz.segments import (
    PALETTE,
    colorize_segments,
    palette,
    segment_figure,
    segment_map,
    write_segment_png,
)

__all__ = [
    "PALETTE",
    "colorize_segments",
    "grid_order_figure",
    "head_mask_figure",
    "heatmap",
    "ifg_figure",
    "image_grid",
    "palette",
    "query_attention",
    "query_attention_figure",
    "saliency_figure",
    "segment_figure",
    "segment_map",
    "upscale",
    "write_grid_order_png",
    "write_head_mask_png",
    "write_ifg_png",
    "write_image_grid",
    "write_png",
    "write_query_attention_png",
    "write_saliency_png",
    "write_segment_png",
]
