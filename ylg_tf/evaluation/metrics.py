"""FID, intra-class FID, FID-infinity, Inception score and KID on classifier outputs.

FID, IS and KID are TF-GAN 2.1.0's definitions.

tensorflow-gan cannot be imported on TensorFlow >= 2.16, so these are the same definitions
re-implemented in TF2 eager code (docs/background.md, Metrics). Every computation runs in float64
whatever the input dtype, and every function returns Python floats. The metrics take classifier
outputs (logits or penultimate activations), never images: running the classifier is the
evaluator's job (`ylg_tf.evaluation.evaluator`).

Sample size: FID is biased, more so for small sets (two samples of one distribution have FID > 0):
for N generated samples it falls with N, roughly linearly in 1/N, and the slope depends on the
generator, so even the ranking of two models can change with N. The IS of a set depends on its size
too. Compare scores computed with the same numbers of real and generated samples, and always report
those numbers with a score; `fid_infinity` extrapolates FID to infinitely many generated samples.
KID is unbiased.

References:
  Salimans et al., Improved Techniques for Training GANs (IS), https://arxiv.org/abs/1606.03498
  Heusel et al., GANs Trained by a Two Time-Scale Update Rule (FID), https://arxiv.org/abs/1706.08500
  Binkowski et al., Demystifying MMD GANs (KID), https://arxiv.org/abs/1801.01401
  Chong & Forsyth, Effectively Unbiased FID and Inception Score and where to find them
  (FID-infinity), https://arxiv.org/abs/1911.07023
  Miyato & Koyama, cGANs with Projection Discriminator (intra-class FID),
  https://arxiv.org/abs/1802.05637
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

__all__ = [
    "activation_moments",
    "classifier_score_from_logits",
    "frechet_classifier_distance_from_activations",
    "fid_infinity",
    "frechet_distance_from_moments",
    "intra_class_frechet_distance",
    "kernel_classifier_distance_and_std_from_activations",
    "trace_sqrt_product",
]

_EPS = 1e-10  # TF-GAN's threshold under which a singular value is not square-rooted


def _matrix(values, name: str) -> tf.Tensor:
    """A float64 `[n, d]` tensor, or a ValueError naming `name` and its shape."""
    tensor = tf.cast(tf.convert_to_tensor(values), tf.float64)
    if tensor.shape.rank != 2:
        raise ValueError(f"{name} must be 2-D [samples, features], got shape {tensor.shape}.")
    return tensor


def activation_moments(activations) -> tuple[np.ndarray, np.ndarray]:
    """Mean `[d]` and covariance `[d, d]` (unbiased, n - 1 normalization) in float64."""
    x = _matrix(activations, "activations")
    n = x.shape[0]
    if n < 2:
        raise ValueError(f"A covariance needs at least 2 samples, got {n}.")
    mean = tf.reduce_mean(x, axis=0)
    centered = x - mean
    cov = tf.matmul(centered, centered, transpose_a=True) / tf.cast(n - 1, tf.float64)
    return mean.numpy(), cov.numpy()


def _symmetric_sqrt_values(values: tf.Tensor) -> tf.Tensor:
    """Eigenvalues -> eigenvalues of TF-GAN's symmetric square root.

    TF-GAN takes `U diag(s') V^T` from an SVD, with `s' = sqrt(s)` (or `s` below 1e-10). For a
    symmetric matrix `Q diag(l) Q^T` the SVD has `s = |l|` and `V = Q sign(l)`, so its root is
    `Q diag(sign(l) s') Q^T`: the same matrix from the symmetric eigendecomposition, which is
    cheaper and keeps the tiny negative eigenvalues that round-off gives with their sign.
    """
    magnitude = tf.abs(values)
    root = tf.where(magnitude < _EPS, magnitude, tf.sqrt(magnitude))
    return tf.sign(values) * root


def _symmetric_matrix_sqrt(matrix: tf.Tensor) -> tf.Tensor:
    values, vectors = tf.linalg.eigh(matrix)
    return tf.matmul(vectors * _symmetric_sqrt_values(values)[None, :], vectors, transpose_b=True)


def trace_sqrt_product(sigma, sigma_w) -> float:
    """`Tr(sqrt(sigma sigma_w))` for symmetric positive semi-definite matrices, in float64.

    `sigma sigma_w` is not symmetric, but with `A = sqrt(sigma)` it has the eigenvalues of the
    symmetric `A sigma_w A`, so the trace is that of `sqrt(A sigma_w A)`; both roots are taken
    through symmetric eigendecompositions.
    """
    sigma = tf.cast(tf.convert_to_tensor(sigma), tf.float64)
    sigma_w = tf.cast(tf.convert_to_tensor(sigma_w), tf.float64)
    root = _symmetric_matrix_sqrt(sigma)
    inner = tf.matmul(root, tf.matmul(sigma_w, root))
    inner = (inner + tf.transpose(inner)) / 2.0  # symmetric up to round-off; make it exactly so
    values = tf.linalg.eigvalsh(inner)
    return float(tf.reduce_sum(_symmetric_sqrt_values(values)))


def frechet_distance_from_moments(mean1, cov1, mean2, cov2) -> float:
    """`|m - m_w|^2 + Tr(C) + Tr(C_w) - 2 Tr(sqrt(C C_w))` for two Gaussians, in float64."""
    mean1, mean2 = (tf.cast(tf.convert_to_tensor(m), tf.float64) for m in (mean1, mean2))
    cov1, cov2 = (tf.cast(tf.convert_to_tensor(c), tf.float64) for c in (cov1, cov2))
    d = mean1.shape[0]
    for name, value, shape in (
        ("mean2", mean2, [d]),
        ("cov1", cov1, [d, d]),
        ("cov2", cov2, [d, d]),
    ):
        if value.shape.as_list() != shape:
            raise ValueError(f"{name} has shape {value.shape}; expected {shape} for {d} features.")
    trace = tf.linalg.trace(cov1) + tf.linalg.trace(cov2) - 2.0 * trace_sqrt_product(cov1, cov2)
    return float(tf.reduce_sum(tf.math.squared_difference(mean1, mean2)) + trace)


def frechet_classifier_distance_from_activations(activations1, activations2) -> float:
    """Fréchet distance between Gaussians fitted to two sets of activations (FID).

    Given means m, m_w and covariances C, C_w (unbiased, normalized by n - 1) of the two sets:

        |m - m_w|^2 + Tr(C) + Tr(C_w) - 2 Tr(sqrt(C C_w))

    computed in float64, the trace of the root through symmetric eigendecompositions (TF-GAN's
    `frechet_classifier_distance_from_activations`). Biased by the sample size: compare only
    scores of equally large sets.

    Args:
      activations1: `[n1, d]` activations of the real images (e.g. Inception `pool_3`).
      activations2: `[n2, d]` activations of the generated images.

    Returns:
      The distance as a Python float (>= 0 up to round-off; 0 for a set with itself).
    """
    x1 = _matrix(activations1, "activations1")
    x2 = _matrix(activations2, "activations2")
    if x1.shape[1] != x2.shape[1]:
        raise ValueError(f"Feature sizes differ: {x1.shape[1]} vs {x2.shape[1]}.")
    return frechet_distance_from_moments(*activation_moments(x1), *activation_moments(x2))


def _labels(values, count: int, name: str) -> np.ndarray:
    """Integer class labels `[count]`, or a ValueError naming `name`."""
    labels = np.asarray(values)
    if labels.ndim != 1 or len(labels) != count:
        raise ValueError(
            f"{name} must be 1-D with one label per activation row ({count}), "
            f"got shape {labels.shape}."
        )
    if len(labels) and not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{name} must hold integer class ids, got dtype {labels.dtype}.")
    return labels


def intra_class_frechet_distance(
    real_activations, real_labels, generated_activations, generated_labels
) -> dict:
    """FID within each class, and its mean over classes (intra-class FID).

    For a class-conditional generator, FID of the whole set rewards right-looking images of the
    wrong class; intra-class FID compares, class by class, the real images of class c with the
    images generated for class c (`frechet_classifier_distance_from_activations` on those rows),
    and averages the per-class scores with equal weights, as conditional GAN papers report it.
    Each class sees only about 1/classes of the samples, so its FID is more biased by the sample
    size than the FID of the whole set: compare only scores with the same numbers per class.

    Args:
      real_activations: `[n1, d]` activations of the real images.
      real_labels: `[n1]` integer class of each real image.
      generated_activations: `[n2, d]` activations of the generated images.
      generated_labels: `[n2]` integer class each image was generated for.

    Returns:
      `{"per_class": {class id: fid}, "mean": mean of the per-class FIDs}` with Python ints and
      floats, classes in increasing order.

    Raises:
      ValueError: for bad shapes, or when a class (of either set) has fewer than 2 samples in one
        of the sets: no class is silently dropped, since that would change what the mean means.
    """
    x1 = _matrix(real_activations, "real_activations")
    x2 = _matrix(generated_activations, "generated_activations")
    if x1.shape[1] != x2.shape[1]:
        raise ValueError(f"Feature sizes differ: {x1.shape[1]} vs {x2.shape[1]}.")
    y1 = _labels(real_labels, x1.shape[0], "real_labels")
    y2 = _labels(generated_labels, x2.shape[0], "generated_labels")
    classes = np.union1d(y1, y2)
    counts = {int(c): (int(np.sum(y1 == c)), int(np.sum(y2 == c))) for c in classes}
    short = {c: n for c, n in counts.items() if min(n) < 2}
    if not classes.size or short:
        raise ValueError(
            "Intra-class FID needs at least 2 real and 2 generated samples of every class; "
            f"(real, generated) counts of the classes short of that: {short or 'no samples'}."
        )
    per_class = {
        c: frechet_classifier_distance_from_activations(
            tf.boolean_mask(x1, y1 == c), tf.boolean_mask(x2, y2 == c)
        )
        for c in counts
    }
    return {"per_class": per_class, "mean": float(np.mean(list(per_class.values())))}


def _default_fid_sizes(count: int, features: int) -> np.ndarray:
    """15 sizes evenly spaced up to `count`, from a tenth of it (Chong & Forsyth's 5k..50k), but
    from twice the feature count when the set allows (half of it at most): below the feature count
    covariances are singular and FID is no longer linear in 1/N."""
    low = max(min(max(count // 10, 2 * features), count // 2), 2)
    return np.unique(np.linspace(low, count, 15).round().astype(int))


def fid_infinity(real_activations, generated_activations, sizes=None, seed: int = 0) -> dict:
    """FID extrapolated to infinitely many generated samples (Chong & Forsyth's FID-infinity).

    FID of N generated samples is biased upwards, and the bias falls with N roughly as 1/N (its
    expectation is FID-infinity + slope / N to first order, the slope depending on the generator).
    So FID is computed on random subsets of the generated activations of several sizes N
    (independent subsets without replacement, deterministic for `seed`; the real statistics are
    those of all real activations), a least-squares line is fitted to FID against 1/N, and its
    intercept at 1/N = 0 is FID-infinity. The subsets come from one finite set, so the estimate
    is only as good as that set is large; keep every N well above the feature count.

    Args:
      real_activations: `[n1, d]` activations of the real images.
      generated_activations: `[n2, d]` activations of the generated images.
      sizes: subset sizes N, distinct integers in [2, n2], at least two of them; by default 15
        sizes evenly spaced from `n2 / 10` (but at least `2 d` while that is under `n2 / 2`) to
        `n2`, the paper's 5,000..50,000 for 50k Inception activations.
      seed: seed of the subsets.

    Returns:
      `{"fid_infinity": intercept, "slope": slope of FID against 1/N, "points": [(N, FID), ...]}`
      with Python floats, points in increasing N.
    """
    x1 = _matrix(real_activations, "real_activations")
    x2 = _matrix(generated_activations, "generated_activations")
    if x1.shape[1] != x2.shape[1]:
        raise ValueError(f"Feature sizes differ: {x1.shape[1]} vs {x2.shape[1]}.")
    count = x2.shape[0]
    if sizes is None:
        sizes = _default_fid_sizes(count, x2.shape[1])
    sizes = np.asarray(sizes)
    valid = sizes.ndim == 1 and np.issubdtype(sizes.dtype, np.integer)
    if not valid or len(set(sizes.tolist())) != len(sizes) or len(sizes) < 2:
        raise ValueError(f"sizes={sizes.tolist()}; expected at least two distinct integers.")
    if sizes.min() < 2 or sizes.max() > count:
        raise ValueError(
            f"sizes={sizes.tolist()}; each must lie in [2, {count}] (the generated samples)."
        )
    sizes = np.sort(sizes)
    real_moments = activation_moments(x1)
    rng = np.random.default_rng(seed)
    fids = np.array(
        [
            frechet_distance_from_moments(
                *real_moments, *activation_moments(tf.gather(x2, rng.permutation(count)[:n]))
            )
            for n in sizes
        ]
    )
    inverse = 1.0 / sizes.astype(np.float64)
    centred = inverse - inverse.mean()
    slope = float(np.sum(centred * (fids - fids.mean())) / np.sum(centred**2))
    return {
        "fid_infinity": float(fids.mean() - slope * inverse.mean()),
        "slope": slope,
        "points": [(int(n), float(f)) for n, f in zip(sizes, fids, strict=True)],
    }


def classifier_score_from_logits(logits) -> float:
    """Inception score of one set: `exp(mean_x KL(p(y|x) || p(y)))`, in float64.

    `p(y|x)` is the softmax of a sample's logits and `p(y)` their mean over the whole set (no
    splits), as in TF-GAN's `classifier_score_from_logits`. Between 1 and the number of classes.

    Args:
      logits: `[n, classes]` classifier logits of the generated images.

    Returns:
      The score as a Python float.
    """
    logits = _matrix(logits, "logits")
    if logits.shape[0] < 1:
        raise ValueError("The Inception score needs at least one sample.")
    p = tf.nn.softmax(logits)
    marginal = tf.reduce_mean(p, axis=0)
    kl = tf.reduce_sum(p * (tf.nn.log_softmax(logits) - tf.math.log(marginal)), axis=1)
    return float(tf.exp(tf.reduce_mean(kl)))


def _block_bounds(n: int, blocks: int) -> np.ndarray:
    """Start indices of `blocks` contiguous blocks of `n` samples, plus `n` at the end.

    Sizes differ by at most one, the larger blocks last (TF-GAN's split).
    """
    size, larger = divmod(n, blocks)
    sizes = [size] * (blocks - larger) + [size + 1] * larger
    return np.concatenate([[0], np.cumsum(sizes)])


def _polynomial_kernel(x: tf.Tensor, y: tf.Tensor, dim: float) -> tf.Tensor:
    return (tf.matmul(x, y, transpose_b=True) / dim + 1.0) ** 3


def kernel_classifier_distance_and_std_from_activations(
    activations1, activations2, max_block_size: int = 1024
) -> tuple[float, float]:
    """Kernel Inception distance (KID) and the standard error of its block estimate.

    The unbiased estimate of the squared maximum mean discrepancy

        E[k(x, x')] + E[k(y, y')] - 2 E[k(x, y)],   k(x, y) = (x . y / d + 1)^3

    with the block estimator of TF-GAN's `kernel_classifier_distance_and_std_from_activations`:
    both sets are cut into `ceil(max(n1, n2) / max_block_size)` contiguous blocks of near-equal
    size (the larger blocks last), the estimate is computed within each pair of blocks, and the
    result is the mean over blocks with the standard error `std(blocks, ddof=1) / sqrt(blocks)`
    (NaN for a single block). Float64 throughout. The blocks assume both sets are in random
    order; the evaluator shuffles the real set once with a fixed seed.

    Args:
      activations1: `[n1, d]` activations of the real images, n1 >= 2 per block.
      activations2: `[n2, d]` activations of the generated images, n2 >= 2 per block.
      max_block_size: largest block (TF-GAN's default 1024); smaller blocks give more blocks, so a
        better standard error, at more variance of the distance.

    Returns:
      `(kid, standard_error)` as Python floats; the error is NaN when there is one block.
    """
    x = _matrix(activations1, "activations1")
    y = _matrix(activations2, "activations2")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"Feature sizes differ: {x.shape[1]} vs {y.shape[1]}.")
    if isinstance(max_block_size, bool) or not isinstance(max_block_size, int | np.integer):
        raise ValueError(f"max_block_size={max_block_size!r}; expected an integer >= 2.")
    if max_block_size < 2:
        raise ValueError(f"max_block_size={max_block_size!r}; expected an integer >= 2.")
    n1, n2, dim = x.shape[0], y.shape[0], float(x.shape[1])
    blocks = math.ceil(max(n1, n2) / max_block_size)
    if min(n1, n2) < 2 * blocks:
        raise ValueError(
            f"KID needs at least 2 samples per block: {n1} and {n2} samples in {blocks} blocks."
        )
    bounds1, bounds2 = _block_bounds(n1, blocks), _block_bounds(n2, blocks)
    estimates = []
    for b in range(blocks):
        xb = x[bounds1[b] : bounds1[b + 1]]
        yb = y[bounds2[b] : bounds2[b + 1]]
        m, n = float(xb.shape[0]), float(yb.shape[0])
        k_xx = _polynomial_kernel(xb, xb, dim)
        k_yy = _polynomial_kernel(yb, yb, dim)
        k_xy = _polynomial_kernel(xb, yb, dim)
        estimates.append(
            (tf.reduce_sum(k_xx) - tf.linalg.trace(k_xx)) / (m * (m - 1.0))
            + (tf.reduce_sum(k_yy) - tf.linalg.trace(k_yy)) / (n * (n - 1.0))
            - 2.0 * tf.reduce_mean(k_xy)
        )
    estimates = tf.stack(estimates)
    mean = tf.reduce_mean(estimates)
    if blocks == 1:
        return float(mean), float("nan")
    variance = tf.reduce_sum(tf.square(estimates - mean)) / (blocks - 1.0)
    return float(mean), float(tf.sqrt(variance / blocks))
