"""Precision, recall, density and coverage: hand-worked cases and a brute-force float64 check."""

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from ylg_tf.evaluation.prdc import precision_recall_density_coverage


def _column(*values):
    return np.array(values, np.float64)[:, None]


def test_hand_worked_one_dimensional_case():
    # k = 1. Real 0, 1, 2, 3, 10: radii 1, 1, 1, 1, 7. Generated 0.5, 5, 20: radii 4.5, 4.5, 15.
    real, fake = _column(0, 1, 2, 3, 10), _column(0.5, 5, 20)
    scores = precision_recall_density_coverage(real, fake, nearest_k=1)
    # precision: 0.5 is in B(0, 1) and B(1, 1); 5 is in B(10, 7); 20 is in no real ball -> 2/3.
    # density: (2 + 1 + 0) / (k M = 3) = 1.
    # recall: 0, 1, 2, 3 are in B(0.5, 4.5); 10 is in B(20, 15) -> 5/5.
    # coverage: nearest generated sample of 0 and 1 is 0.5 (within 1), of 10 is 5 (within 7);
    # of 2 is 0.5 at 1.5 > 1, of 3 is 5 at 2 > 1 -> 3/5.
    assert scores == pytest.approx(
        {"precision": 2 / 3, "recall": 1.0, "density": 1.0, "coverage": 3 / 5}, abs=1e-12
    )


def test_k_counts_neighbours_other_than_the_point_itself():
    # k = 2. Real 0, 1, 3: second-nearest other point at 3, 2, 3. Generated 4, 6, 7: radii 3, 2, 3.
    real, fake = _column(0, 1, 3), _column(4, 6, 7)
    scores = precision_recall_density_coverage(real, fake, nearest_k=2)
    # precision: 4 is in B(1, 2)? no (3); in B(3, 3) yes. 6: B(3, 3) yes (boundary). 7: no -> 2/3.
    # density: 4 in 1 ball, 6 in 1 ball -> 2 / (2 * 3) = 1/3.
    # recall: 3 in B(4, 3); 1 in B(4, 3) (3, boundary); 0: B(4, 3) no (4) -> 2/3.
    # coverage: 3's nearest generated is 4 at 1 <= 3 yes; 0 -> 4 at 4 > 3; 1 -> 4 at 3 > 2 -> 1/3.
    scores_expected = {"precision": 2 / 3, "recall": 2 / 3, "density": 1 / 3, "coverage": 1 / 3}
    assert scores == pytest.approx(scores_expected, abs=1e-12)


def test_a_point_on_a_ball_boundary_is_inside():
    # k = 1: real radii 1, 1; generated 2 lies at exactly 1 from real 1, so in one real ball;
    # generated 5 is in none: precision 1/2, density 1 / (k M = 2).
    scores = precision_recall_density_coverage(_column(0, 1), _column(2, 5), nearest_k=1)
    assert scores["precision"] == 0.5 and scores["density"] == 0.5


def test_identical_sets_and_far_apart_sets():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(60, 8))
    same = precision_recall_density_coverage(real, real.copy(), nearest_k=3)
    assert same["precision"] == same["recall"] == same["coverage"] == 1.0
    assert same["density"] >= 1.0  # each point lies at least in its own ball
    far = precision_recall_density_coverage(real, real + 1e3, nearest_k=3)
    assert far == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def _brute_force(real, fake, k):
    """Every definition applied to full float64 distance matrices."""
    real_radii = np.sort(cdist(real, real), axis=1)[:, k]  # column 0 is the point itself
    fake_radii = np.sort(cdist(fake, fake), axis=1)[:, k]
    real_fake = cdist(real, fake)  # [N, M]
    in_real_ball = real_fake <= real_radii[:, None]
    return {
        "precision": in_real_ball.any(axis=0).mean(),
        "recall": (real_fake <= fake_radii[None, :]).any(axis=1).mean(),
        "density": in_real_ball.sum() / (k * len(fake)),
        "coverage": (real_fake.min(axis=1) <= real_radii).mean(),
    }


@pytest.mark.parametrize("batch_size", [1, 7, 64, None])
def test_matches_a_brute_force_reference(batch_size):
    rng = np.random.default_rng(1)
    real = rng.normal(size=(150, 16))
    fake = 1.3 * rng.normal(size=(110, 16)) + 0.4  # wider and shifted: every score is in (0, 1)
    for k in (1, 5):
        scores = precision_recall_density_coverage(real, fake, k, batch_size=batch_size)
        expected = _brute_force(real, fake, k)
        assert scores == pytest.approx(expected, abs=1e-12)
        assert all(0 < scores[name] < 1 for name in ("precision", "recall", "coverage"))


def test_float32_inputs_give_the_float64_scores():
    rng = np.random.default_rng(2)
    real, fake = rng.normal(size=(40, 4)).astype(np.float32), rng.normal(size=(30, 4))
    scores = precision_recall_density_coverage(real, fake.astype(np.float32), nearest_k=2)
    expected = _brute_force(real.astype(np.float64), fake.astype(np.float32).astype(float), 2)
    assert scores == pytest.approx(expected, abs=1e-12)


def test_bad_arguments_are_named():
    real = np.zeros((10, 3))
    with pytest.raises(ValueError, match="2-D"):
        precision_recall_density_coverage(real[0], real)
    with pytest.raises(ValueError, match="width"):
        precision_recall_density_coverage(real, np.zeros((10, 4)))
    with pytest.raises(ValueError, match="generated_activations holds NaN"):
        precision_recall_density_coverage(real, np.full((10, 3), np.nan))
    with pytest.raises(ValueError, match="nearest_k=5 needs more than 5"):
        precision_recall_density_coverage(real, np.zeros((5, 3)))
    for bad_k in (0, 2.5, True):
        with pytest.raises(ValueError, match="nearest_k"):
            precision_recall_density_coverage(real, real, nearest_k=bad_k)
    with pytest.raises(ValueError, match="batch_size"):
        precision_recall_density_coverage(real, real, batch_size=0)


def test_distances_are_computed_in_blocks_of_rows(monkeypatch):
    from ylg_tf.evaluation import prdc

    shapes = []
    original = prdc._distances

    def recording(rows, columns, column_norms):
        shapes.append((len(rows), len(columns)))
        return original(rows, columns, column_norms)

    monkeypatch.setattr(prdc, "_distances", recording)
    rng = np.random.default_rng(3)
    real, fake = rng.normal(size=(50, 2)), rng.normal(size=(40, 2))
    blocked = precision_recall_density_coverage(real, fake, 2, batch_size=8)
    assert max(rows for rows, _ in shapes) == 8
    # Blocks of real-real, generated-generated and real-generated rows: 7 + 5 + 7.
    assert len(shapes) == 7 + 5 + 7
    assert blocked == pytest.approx(_brute_force(real, fake, 2), abs=1e-12)
