"""FID, intra-class FID, FID-infinity, IS and KID against NumPy / SciPy float64 re-computations
and hand-worked cases."""

import math

import numpy as np
import pytest
import scipy.linalg
import scipy.special
import scipy.stats

from ylg_tf.evaluation import (
    classifier_score_from_logits,
    frechet_classifier_distance_from_activations,
    frechet_distance_from_moments,
    kernel_classifier_distance_and_std_from_activations,
)
from ylg_tf.evaluation.metrics import (
    fid_infinity,
    intra_class_frechet_distance,
    trace_sqrt_product,
)


def _correlated(rng, n, d, shift=0.0):
    mixing = rng.standard_normal((d, d)) / np.sqrt(d)
    return rng.standard_normal((n, d)) @ mixing + shift


# --- references -----------------------------------------------------------------------------------


def _fid_scipy(x, y):
    """The textbook formula with SciPy's general (non-symmetric) matrix square root."""
    m1, m2 = x.mean(0), y.mean(0)
    c1, c2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    root = scipy.linalg.sqrtm(c1 @ c2)
    return float(np.sum((m1 - m2) ** 2) + np.trace(c1) + np.trace(c2) - 2 * np.trace(root).real)


def _tfgan_trace_sqrt_numpy(sigma, sigma_w, eps=1e-10):
    """TF-GAN's algorithm as it is written (two SVD-based square roots), in NumPy."""

    def root(mat):
        u, s, vt = np.linalg.svd(mat)
        si = np.where(s < eps, s, np.sqrt(s))
        return u @ np.diag(si) @ vt

    a = root(sigma)
    return float(np.trace(root(a @ sigma_w @ a)))


def _inception_score_scipy(logits):
    p = scipy.special.softmax(logits.astype(np.float64), axis=1)
    marginal = p.mean(0)
    kl = np.array([scipy.stats.entropy(row, marginal) for row in p])  # KL(p || marginal)
    return float(np.exp(kl.mean()))


def _mmd2_unbiased_pairs(x, y):
    """Unbiased MMD^2 with k(a, b) = (a.b/d + 1)^3, by explicit loops over pairs."""
    d = x.shape[1]

    def k(a, b):
        return (float(a @ b) / d + 1.0) ** 3

    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def _kid_blocks_reference(x, y, max_block_size):
    """TF-GAN's blocking: ceil(max(n) / max_block) blocks, the larger ones last."""
    blocks = math.ceil(max(len(x), len(y)) / max_block_size)

    def cut(a):
        size, larger = divmod(len(a), blocks)
        sizes = [size] * (blocks - larger) + [size + 1] * larger
        return np.split(a, np.cumsum(sizes)[:-1])

    estimates = [_mmd2_unbiased_pairs(a, b) for a, b in zip(cut(x), cut(y), strict=True)]
    std = np.std(estimates, ddof=1) / np.sqrt(blocks) if blocks > 1 else float("nan")
    return float(np.mean(estimates)), float(std), [len(a) for a in cut(x)]


# --- FID ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n1,n2,d", [(60, 60, 6), (80, 45, 10), (200, 150, 3)])
def test_fid_against_scipy_sqrtm(n1, n2, d):
    rng = np.random.default_rng(n1 + d)
    x = _correlated(rng, n1, d)
    y = _correlated(rng, n2, d, shift=0.3) * 1.5
    expected = _fid_scipy(x, y)
    assert frechet_classifier_distance_from_activations(x, y) == pytest.approx(expected, rel=1e-9)
    # float32 inputs are computed in float64 too: only the input rounding differs
    assert frechet_classifier_distance_from_activations(
        x.astype(np.float32), y.astype(np.float32)
    ) == pytest.approx(expected, rel=1e-5)


def test_fid_by_hand():
    # 1-D: means 1 and 3, unbiased variances 2 and 8: 4 + 2 + 8 - 2 sqrt(16) = 6.
    assert frechet_classifier_distance_from_activations([[0.0], [2.0]], [[1.0], [5.0]]) == (
        pytest.approx(6.0, abs=1e-12)
    )
    # Diagonal 2-D Gaussians: sum over axes of (dm^2 + (s1 - s2)^2).
    fid = frechet_distance_from_moments([0, 0], np.diag([1.0, 4.0]), [1, 2], np.diag([9.0, 1.0]))
    assert fid == pytest.approx((1 + 4) + (1 - 3) ** 2 + (2 - 1) ** 2, abs=1e-12)


def test_fid_of_a_set_with_itself_is_zero_and_a_shift_costs_its_square():
    rng = np.random.default_rng(0)
    x = _correlated(rng, 100, 8)
    assert abs(frechet_classifier_distance_from_activations(x, x)) < 1e-9
    shift = rng.standard_normal(8)
    assert frechet_classifier_distance_from_activations(x, x + shift) == pytest.approx(
        float(shift @ shift), rel=1e-9
    )
    # More features than samples: singular covariances, still ~0 with itself.
    wide = rng.standard_normal((20, 64))
    assert abs(frechet_classifier_distance_from_activations(wide, wide)) < 1e-8


def test_trace_sqrt_product_equals_tfgan_svd_algorithm():
    rng = np.random.default_rng(1)
    for n, d in ((40, 5), (12, 30)):  # full rank, and rank-deficient (d > n)
        c1 = np.cov(_correlated(rng, n, d), rowvar=False)
        c2 = np.cov(_correlated(rng, n, d), rowvar=False)
        assert trace_sqrt_product(c1, c2) == pytest.approx(
            _tfgan_trace_sqrt_numpy(c1, c2), rel=1e-8, abs=1e-10
        )


def test_fid_and_is_are_order_invariant():
    rng = np.random.default_rng(2)
    x, y = _correlated(rng, 70, 5), _correlated(rng, 50, 5, shift=0.5)
    logits = rng.standard_normal((50, 7)) * 3
    fid = frechet_classifier_distance_from_activations(x, y)
    inception = classifier_score_from_logits(logits)
    for _ in range(3):
        px, py = rng.permutation(len(x)), rng.permutation(len(y))
        assert frechet_classifier_distance_from_activations(x[px], y[py]) == pytest.approx(
            fid, rel=1e-10
        )
        assert classifier_score_from_logits(logits[py]) == pytest.approx(inception, rel=1e-12)


def test_fid_rejects_bad_shapes():
    with pytest.raises(ValueError, match="2-D"):
        frechet_classifier_distance_from_activations(np.zeros(5), np.zeros((5, 1)))
    with pytest.raises(ValueError, match="Feature sizes differ"):
        frechet_classifier_distance_from_activations(np.zeros((5, 2)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="at least 2 samples"):
        frechet_classifier_distance_from_activations(np.zeros((1, 2)), np.zeros((5, 2)))


# --- intra-class FID ------------------------------------------------------------------------------


def test_intra_class_fid_against_scipy_per_class():
    rng = np.random.default_rng(6)
    real_labels, gen_labels = rng.integers(0, 3, 150), rng.integers(0, 3, 120)
    real = _correlated(rng, 150, 4) + real_labels[:, None]
    gen = _correlated(rng, 120, 4) * 1.3 + 0.8 * gen_labels[:, None]
    result = intra_class_frechet_distance(real, real_labels, gen, gen_labels)
    expected = {c: _fid_scipy(real[real_labels == c], gen[gen_labels == c]) for c in range(3)}
    assert list(result["per_class"]) == [0, 1, 2]
    for c in range(3):
        assert result["per_class"][c] == pytest.approx(expected[c], rel=1e-9)
    assert result["mean"] == pytest.approx(np.mean(list(expected.values())), rel=1e-9)


def test_intra_class_fid_by_hand_and_it_sees_wrong_classes():
    # Class 7: the 1-D case of test_fid_by_hand (6); class 2: identical sets (0). Mean 3.
    real, real_labels = [[0.0], [2.0], [4.0], [5.0]], [7, 7, 2, 2]
    gen, gen_labels = [[1.0], [5.0], [5.0], [4.0]], [7, 7, 2, 2]
    result = intra_class_frechet_distance(real, real_labels, gen, gen_labels)
    assert result["per_class"] == {2: pytest.approx(0.0, abs=1e-12), 7: pytest.approx(6.0)}
    assert result["mean"] == pytest.approx(3.0)
    # Images of the wrong class: the pooled FID is 0, the intra-class FID is not.
    rng = np.random.default_rng(7)
    x, labels = rng.standard_normal((60, 2)), np.repeat([0, 1], 30)
    x[labels == 1] += 3.0
    swapped = intra_class_frechet_distance(x, labels, x, 1 - labels)
    assert abs(frechet_classifier_distance_from_activations(x, x)) < 1e-9
    assert swapped["mean"] > 9.0  # each class pays its squared mean shift, about 2 * 3^2 = 18


def test_intra_class_fid_rejects_missing_or_tiny_classes():
    x = np.zeros((4, 2))
    # Class 1 is real only, class 3 generated only: both named with their (real, generated) counts.
    with pytest.raises(ValueError, match=r"\{1: \(2, 0\), 3: \(0, 2\)\}"):
        intra_class_frechet_distance(x, [0, 0, 1, 1], x, [0, 0, 3, 3])
    with pytest.raises(ValueError, match=r"\{1: \(1, 2\)\}"):  # one real sample of class 1
        intra_class_frechet_distance(x, [0, 0, 0, 1], x, [0, 0, 1, 1])
    with pytest.raises(ValueError, match="one label per activation row"):
        intra_class_frechet_distance(x, [0, 0, 1], x, [0, 0, 1, 1])
    with pytest.raises(ValueError, match="integer class ids"):
        intra_class_frechet_distance(x, [0.0, 0.0, 1.0, 1.0], x, [0, 0, 1, 1])


# --- FID-infinity ---------------------------------------------------------------------------------


def _whitened(rng, n, d):
    """n samples whose sample mean is exactly 0 and sample covariance exactly I."""
    x = rng.standard_normal((n, d))
    x -= x.mean(0)
    return np.linalg.solve(np.linalg.cholesky(np.cov(x, rowvar=False)), x.T).T


def test_fid_infinity_removes_the_sample_size_bias():
    # Real statistics exactly N(0, I), generated N(m, I): the true FID is |m|^2 = 0.08. For
    # identity covariances, E[FID_N] = |m|^2 + d / N (mean) + d (d + 1) / (4 N) (covariance,
    # to first order) + O(1/N^2): a slope of 296 against 1/N for d = 32.
    rng = np.random.default_rng(0)
    d, shift = 32, 0.05
    real = _whitened(rng, 1000, d)
    generated = rng.standard_normal((2000, d)) + shift
    truth = d * shift**2
    result = fid_infinity(real, generated, sizes=np.linspace(400, 2000, 9).astype(int), seed=0)
    largest_n, fid_at_largest = result["points"][-1]
    assert largest_n == 2000
    assert fid_at_largest == pytest.approx(
        frechet_classifier_distance_from_activations(real, generated), rel=1e-9
    )
    assert abs(result["fid_infinity"] - truth) < 0.5 * abs(fid_at_largest - truth)
    assert abs(result["fid_infinity"] - truth) < 0.06
    assert result["slope"] == pytest.approx(d + d * (d + 1) / 4, rel=0.2)
    fids = [fid for _, fid in result["points"]]
    assert fids[0] > fids[-1]  # FID falls with N


def test_fid_infinity_fit_equals_polyfit_and_is_deterministic():
    rng = np.random.default_rng(8)
    real, generated = _correlated(rng, 300, 5), _correlated(rng, 400, 5, shift=0.4)
    result = fid_infinity(real, generated, sizes=[400, 50, 120, 260], seed=3)
    sizes, fids = np.array(result["points"]).T
    assert sizes.tolist() == [50, 120, 260, 400]
    slope, intercept = np.polyfit(1.0 / sizes, fids, 1)
    assert result["slope"] == pytest.approx(slope, rel=1e-9)
    assert result["fid_infinity"] == pytest.approx(intercept, rel=1e-9)
    subset = generated[np.random.default_rng(3).permutation(400)[:50]]  # the first subset drawn
    assert fids[0] == pytest.approx(
        frechet_classifier_distance_from_activations(real, subset), rel=1e-9
    )
    assert fid_infinity(real, generated, sizes=[400, 50, 120, 260], seed=3) == result
    other = fid_infinity(real, generated, sizes=[400, 50, 120, 260], seed=4)
    assert other["points"][0] != result["points"][0]


def test_fid_infinity_default_sizes_and_bad_sizes():
    rng = np.random.default_rng(9)
    real, generated = rng.standard_normal((50, 3)), rng.standard_normal((200, 3))
    sizes = [n for n, _ in fid_infinity(real, generated)["points"]]
    assert sizes == np.linspace(20, 200, 15).round().astype(int).tolist()  # from a tenth of 200
    wide = fid_infinity(rng.standard_normal((50, 30)), rng.standard_normal((200, 30)))["points"]
    assert wide[0][0] == 60  # twice the 30 features
    for bad in ([100], [100, 100], [1, 100], [100, 201], [10.0, 100.0]):
        with pytest.raises(ValueError, match="sizes="):
            fid_infinity(real, generated, sizes=bad)


# --- Inception score ------------------------------------------------------------------------------


def test_inception_score_against_scipy():
    rng = np.random.default_rng(3)
    logits = rng.standard_normal((64, 10)) * 2.5
    assert classifier_score_from_logits(logits) == pytest.approx(
        _inception_score_scipy(logits), rel=1e-12
    )
    assert classifier_score_from_logits(logits.astype(np.float32)) == pytest.approx(
        _inception_score_scipy(logits.astype(np.float32)), rel=1e-6
    )


def test_inception_score_by_hand():
    # Identical predictions: p(y|x) = p(y), KL = 0, IS = 1.
    assert classifier_score_from_logits(np.tile([[1.0, 2.0, 3.0]], (5, 1))) == pytest.approx(1.0)
    # Four confident, distinct, equally frequent classes: IS = 4.
    assert classifier_score_from_logits(100.0 * np.eye(4)) == pytest.approx(4.0, rel=1e-12)
    # Two samples, p = (1, 0) and (1/2, 1/2): marginal (3/4, 1/4);
    # KL1 = log(4/3), KL2 = 1/2 log(2/3) + 1/2 log(2); IS = exp(mean).
    logits = np.log([[1.0, 1e-300], [0.5, 0.5]])
    expected = np.exp((np.log(4 / 3) + 0.5 * np.log(2 / 3) + 0.5 * np.log(2)) / 2)
    assert classifier_score_from_logits(logits) == pytest.approx(expected, rel=1e-12)


# --- KID ------------------------------------------------------------------------------------------


def test_kid_single_block_against_pairwise_loops():
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((15, 4)), rng.standard_normal((11, 4)) + 0.4
    kid, std = kernel_classifier_distance_and_std_from_activations(x, y)
    assert kid == pytest.approx(_mmd2_unbiased_pairs(x, y), rel=1e-10)
    assert math.isnan(std)  # one block: no standard error, as in TF-GAN


@pytest.mark.parametrize("n1,n2,block", [(10, 7, 4), (23, 23, 5), (9, 30, 8)])
def test_kid_blocks_and_standard_error_against_reference(n1, n2, block):
    rng = np.random.default_rng(n1 * n2)
    x, y = rng.standard_normal((n1, 3)), rng.standard_normal((n2, 3)) * 1.3
    expected, expected_std, sizes = _kid_blocks_reference(x, y, block)
    kid, std = kernel_classifier_distance_and_std_from_activations(x, y, max_block_size=block)
    assert kid == pytest.approx(expected, rel=1e-10)
    assert std == pytest.approx(expected_std, rel=1e-9)
    assert len(sizes) == math.ceil(max(n1, n2) / block)
    assert sizes == sorted(sizes) and max(sizes) - min(sizes) <= 1  # larger blocks last


def test_kid_by_hand():
    # d = 1: k(0, 0) = 1, k(1, 1) = 8, k(0, 1) = 1 -> 1 + 8 - 2 * 1 = 7.
    kid, _ = kernel_classifier_distance_and_std_from_activations([[0.0], [0.0]], [[1.0], [1.0]])
    assert kid == pytest.approx(7.0, abs=1e-12)


def test_kid_single_block_is_order_invariant_and_near_zero_for_one_distribution():
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((40, 6)), rng.standard_normal((40, 6))
    kid, _ = kernel_classifier_distance_and_std_from_activations(x, y)
    permuted, _ = kernel_classifier_distance_and_std_from_activations(
        x[rng.permutation(40)], y[rng.permutation(40)]
    )
    assert permuted == pytest.approx(kid, rel=1e-10)
    far, _ = kernel_classifier_distance_and_std_from_activations(x, y + 2.0)
    assert abs(kid) < 0.2 * far


def test_kid_rejects_too_small_blocks():
    with pytest.raises(ValueError, match="at least 2 samples per block"):
        kernel_classifier_distance_and_std_from_activations(
            np.zeros((3, 2)), np.zeros((10, 2)), max_block_size=4
        )
    with pytest.raises(ValueError, match="max_block_size"):
        kernel_classifier_distance_and_std_from_activations(
            np.zeros((3, 2)), np.zeros((3, 2)), max_block_size=1
        )
