"""Sampling a generator: truncated latents (the truncation trick) and sample grids."""

from ylg_tf.sampling.grids import sample_grid_images, sample_run, write_sample_grids
from ylg_tf.sampling.truncation import parse_truncations, truncated_normal, truncation_label

__all__ = [
    "parse_truncations",
    "sample_grid_images",
    "sample_run",
    "truncated_normal",
    "truncation_label",
    "write_sample_grids",
]
