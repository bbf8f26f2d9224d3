"""What a training run shows: TensorBoard scalars, fixed-latent sample grids and attention maps."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from ylg_tf.runs import files
from ylg_tf.runs.directory import RunDirectory
from ylg_tf.training import monitor
from ylg_tf.viz import colorize_segments, image_grid, segment_map


class RunSummaries:
    """TensorBoard events in `<own_dir>/logs` and sample PNGs in `<run_dir>/samples`.

    Args:
      run_dir: the run directory (samples are written by the chief only).
      own_dir: this worker's directory for its event files.
      num_classes, z_dim, resolution, seed: fix the sample grid's labels and latents.
      chief: whether this worker writes samples.
    """

    def __init__(
        self,
        run_dir: RunDirectory,
        own_dir: RunDirectory,
        num_classes: int,
        z_dim: int,
        resolution: int,
        seed: int,
        chief: bool,
    ) -> None:
        self.run_dir, self.chief, self.resolution = run_dir, chief, resolution
        self.writer = tf.summary.create_file_writer(str(own_dir.logs))
        per_class = max(1, 64 // num_classes) if num_classes <= 64 else 1
        self.labels = np.repeat(np.arange(min(num_classes, 64)), per_class).astype(np.int32)
        z = np.random.default_rng(seed).standard_normal((len(self.labels), z_dim))
        self.z = z.astype(np.float32)
        self.columns = per_class if 1 < per_class <= 8 else 8  # a row per class if few

    def scalars(self, step: int, values: dict[str, float], prefix: str = "") -> None:
        with self.writer.as_default(step=step):
            for name, value in values.items():
                tf.summary.scalar(f"{prefix}{name}", value)

    def samples(self, step: int, sampler: keras.Model):
        """A grid of fixed-z samples (one row per class) as PNG and summary, plus attention."""
        if not self.chief:
            return None
        images, probs = sampler((self.z, self.labels), training=False, return_attention_scores=True)
        images = np.asarray(images)
        grid = image_grid(images, self.columns)
        scale = max(1, 64 // self.resolution)  # PNGs of at least 64px a sample
        path = files.write_png(
            self.run_dir.sample_grid(step), image_grid(images, self.columns, scale)
        )
        with self.writer.as_default(step=step):
            tf.summary.image("samples", grid[None], max_outputs=1)
            for k, layer_probs in enumerate(np.asarray(p) for p in probs):
                queries, keys = layer_probs.shape[-2:]
                if keys * 4 == queries:  # image keys, 2x2 pooled: where the centre query looks
                    side = int(np.sqrt(keys))
                    maps = (monitor.attention_grid(layer_probs, (side, side)) + 1) / 2
                    tf.summary.image(f"attention_{k}/centre_query_per_head", maps, max_outputs=16)
                else:  # latents (GANformer): which latent each position attends to most
                    segments = colorize_segments(segment_map(layer_probs[0]))
                    tf.summary.image(f"attention_{k}/latent_segments", segments[None] / 255.0)
        return files.as_path(path)

    def flush(self) -> None:
        self.writer.flush()
