"""Pictures of what the models do, as NumPy arrays and PNG files.

Import-light: NumPy and the standard library at import (no TensorFlow, no matplotlib; Pillow only
when a PNG is written), so that figures can be drawn from saved arrays on any machine.
"""

from ylg_tf.viz.heatmaps import heatmap, upscale
from ylg_tf.viz.png import write_png
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
    "heatmap",
    "palette",
    "segment_figure",
    "segment_map",
    "upscale",
    "write_png",
    "write_segment_png",
]
