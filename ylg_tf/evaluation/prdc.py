"""Precision, recall, density and coverage of generated samples, on classifier activations.

FID folds fidelity and diversity into one number; these four separate them. With real
activations R (N rows), generated activations F (M rows), Euclidean distance d, and the k-NN
radius `r_k(x)` = distance from x to its k-th nearest neighbour in its own set (x itself
excluded), every ball B(x, r_k(x)) being closed (a point at exactly r_k(x) is inside):

- precision (Kynkaanniemi et al. 2019): the fraction of f in F lying in some real ball
  B(r, r_k(r)): how much of the generated set looks real;
- recall (same paper): the fraction of r in R lying in some generated ball B(f, r_k(f)): how
  much of the real set the generator reaches;
- density (Naeem et al. 2020): `1 / (k M) * sum_f #{r : f in B(r, r_k(r))}`: like precision but
  counting how many real balls hold each sample, so a few real outliers with large balls weigh
  less; it is 1 on average when F follows R, and may exceed 1;
- coverage (same paper): the fraction of r in R whose ball B(r, r_k(r)) holds some f: recall
  measured with real radii only, so generated outliers cannot inflate it.

All four lie in [0, 1] (density in [0, N/k]) and are deterministic. Distances are computed in
float64 one block of rows at a time, so memory stays at `batch_size` x max(N, M) distances
whatever N and M (50k x 50k never builds a 50k x 50k matrix); time is O((N + M)^2 d).

References:
  Kynkaanniemi et al., Improved Precision and Recall Metric for Assessing Generative Models,
  https://arxiv.org/abs/1904.06991
  Naeem et al., Reliable Fidelity and Diversity Metrics for Generative Models,
  https://arxiv.org/abs/2002.09797
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["precision_recall_density_coverage"]

_BLOCK_ELEMENTS = 2**24  # distances held at once by default: 128 MiB in float64


def _activations(values, name: str) -> np.ndarray:
    """A finite float64 `[n, d]` array, or a ValueError naming `name`."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"{name} must be 2-D [samples, features], got shape {array.shape}.")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} holds NaN or infinite values.")
    return array


def _row_blocks(num_rows: int, rows_per_block: int):
    for start in range(0, num_rows, rows_per_block):
        yield slice(start, min(start + rows_per_block, num_rows))


def _squared_norms(x: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", x, x)


def _distances(rows: np.ndarray, columns: np.ndarray, column_norms: np.ndarray) -> np.ndarray:
    """Euclidean distances `[len(rows), len(columns)]` from squared norms and one matrix product."""
    squared = _squared_norms(rows)[:, None] - 2.0 * rows @ columns.T + column_norms[None]
    return np.sqrt(np.maximum(squared, 0.0))


def _knn_radii(x: np.ndarray, k: int, rows_per_block: int) -> np.ndarray:
    """Distance from each row of x to its k-th nearest other row."""
    norms = _squared_norms(x)
    radii = np.empty(len(x))
    for block in _row_blocks(len(x), rows_per_block):
        distances = _distances(x[block], x, norms)
        own = np.arange(block.stop - block.start)
        distances[own, own + block.start] = np.inf  # a point is not its own neighbour
        radii[block] = np.partition(distances, k - 1, axis=1)[:, k - 1]
    return radii


def precision_recall_density_coverage(
    real_activations, generated_activations, nearest_k: int = 5, batch_size: int | None = None
) -> dict[str, float]:
    """Precision, recall, density and coverage of generated against real activations.

    Args:
      real_activations: `[N, d]` classifier activations of real images (e.g. FID's pool features).
      generated_activations: `[M, d]` activations of generated images, same classifier.
      nearest_k: k of the k-NN radii (5 in both papers); needs N > k and M > k.
      batch_size: rows of one distance block; None picks about 2**24 distances (128 MiB).

    Returns:
      `{"precision", "recall", "density", "coverage"}` as Python floats (definitions in the
      module docstring).

    Raises:
      ValueError: arrays not 2-D, of different widths, not finite, or too few rows for k.
    """
    real = _activations(real_activations, "real_activations")
    fake = _activations(generated_activations, "generated_activations")
    if real.shape[1] != fake.shape[1]:
        raise ValueError(
            f"real and generated activations differ in width: {real.shape[1]} vs {fake.shape[1]}."
        )
    if isinstance(nearest_k, bool) or not isinstance(nearest_k, numbers.Integral) or nearest_k < 1:
        raise ValueError(f"nearest_k must be an integer >= 1, got {nearest_k!r}.")
    if min(len(real), len(fake)) <= nearest_k:
        raise ValueError(
            f"nearest_k={nearest_k} needs more than {nearest_k} real and generated samples, got "
            f"{len(real)} real and {len(fake)} generated."
        )
    if batch_size is None:
        batch_size = max(1, _BLOCK_ELEMENTS // max(len(real), len(fake)))
    elif (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, numbers.Integral)
        or batch_size < 1
    ):
        raise ValueError(f"batch_size must be an integer >= 1 or None, got {batch_size!r}.")

    real_radii = _knn_radii(real, nearest_k, batch_size)
    fake_radii = _knn_radii(fake, nearest_k, batch_size)
    fake_norms = _squared_norms(fake)
    real_balls_holding = np.zeros(len(fake), np.int64)  # per f: #{r : f in B(r, r_k(r))}
    recalled = np.empty(len(real), bool)
    covered = np.empty(len(real), bool)
    for block in _row_blocks(len(real), batch_size):
        distances = _distances(real[block], fake, fake_norms)
        in_real_ball = distances <= real_radii[block, None]
        real_balls_holding += in_real_ball.sum(axis=0)
        covered[block] = in_real_ball.any(axis=1)
        recalled[block] = (distances <= fake_radii[None]).any(axis=1)
    return {
        "precision": float(np.mean(real_balls_holding > 0)),
        "recall": float(np.mean(recalled)),
        "density": float(real_balls_holding.sum() / (nearest_k * len(fake))),
        "coverage": float(np.mean(covered)),
    }
