"""2-D sparse attention masks and their Information-Flow-Graph analysis, in plain NumPy.

Importing this package never imports TensorFlow: patterns can be studied on their own.
"""

from ylg_tf.masks.grids import CURVES, enumerate_grid
from ylg_tf.masks.ifg import (
    full_information,
    min_pair_flow,
    pair_flow,
    pattern_summary,
    reachability,
)
from ylg_tf.masks.layouts import LAYOUT_NAMES, LAYOUTS, head_masks, layout_heads
from ylg_tf.masks.patterns import PATTERNS, block_size, sparse_pattern

__all__ = [
    "CURVES",
    "LAYOUTS",
    "LAYOUT_NAMES",
    "PATTERNS",
    "block_size",
    "enumerate_grid",
    "full_information",
    "head_masks",
    "layout_heads",
    "min_pair_flow",
    "pair_flow",
    "pattern_summary",
    "reachability",
    "sparse_pattern",
]
