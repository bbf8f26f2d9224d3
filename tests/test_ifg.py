"""Information-Flow-Graph analysis: Full Information and pair flows against brute-force max-flow."""

import itertools
import json

import numpy as np
import pytest

from ylg_tf import masks
from ylg_tf.masks.report import write_report


def _star(n):
    """Star transformer (supplementary §6): every input -> hub node 0 -> every output."""
    first = np.zeros((n, n), dtype=bool)
    second = np.zeros((n, n), dtype=bool)
    first[0, :] = True
    second[:, 0] = True
    return np.stack([first, second])


def _brute_force_min_pair_flow(pattern):
    n = pattern.shape[1]
    pairs = list(itertools.combinations(range(n), 2))
    return min(masks.pair_flow(pattern, ins, outs) for ins in pairs for outs in pairs)


def test_star_has_full_information_but_one_token_of_pair_flow():
    star = _star(6)
    assert masks.full_information(star)
    assert masks.pair_flow(star, [1, 2], [3, 4]) == 1
    assert masks.min_pair_flow(star)[0] == 1


def test_pair_flow_by_hand():
    dense = masks.sparse_pattern("dense", 5)
    assert masks.pair_flow(dense, [0, 1], [2, 3]) == 2
    assert masks.pair_flow(np.stack([dense[0], dense[0]]), [0, 1], [2, 3]) == 2
    identity = np.eye(4, dtype=bool)[None]
    assert masks.pair_flow(identity, [0, 1], [0, 2]) == 1
    assert masks.pair_flow(identity, [0, 1], [2, 3]) == 0


@pytest.mark.parametrize("n", [4, 6, 9])
@pytest.mark.parametrize("name", ["ltr", "rtl", "strided", "strided_fi", "dense"])
def test_min_pair_flow_matches_brute_force(name, n):
    pattern = masks.sparse_pattern(name, n)
    value, witness = masks.min_pair_flow(pattern)
    assert value == _brute_force_min_pair_flow(pattern)
    if witness is not None:
        a, b, c, d = witness
        assert a != b and c != d
        assert masks.pair_flow(pattern, [a, b], [c, d]) == value


def test_min_pair_flow_on_random_patterns_matches_brute_force():
    rng = np.random.default_rng(0)
    for density in (0.3, 0.5, 0.7):
        for _ in range(4):
            pattern = rng.random((2, 6, 6)) < density
            assert masks.min_pair_flow(pattern)[0] == _brute_force_min_pair_flow(pattern)


def test_reachability_counts_paths():
    # LTR at n = 4: output 0 reaches input 0 through V1 nodes 0 and 1 (its own and block 0's end).
    paths = masks.reachability(masks.sparse_pattern("ltr", 4))
    assert paths[0, 0] == 2 and paths[0, 2] == 1


def test_summary_at_256():
    rows = {name: masks.pattern_summary(name, 256) for name in masks.PATTERNS}
    assert [rows[p]["full_information"] for p in ("ltr", "rtl", "strided", "strided_fi")] == [
        True,
        True,
        False,
        True,
    ]
    assert rows["strided"]["min_pair_flow"] == 0
    assert rows["dense"]["min_pair_flow"] == 2
    assert rows["ltr"]["keys_per_query_per_step"][0] == pytest.approx(8.5)  # (s + 1) / 2


def test_report_writes_table_json_and_figures(tmp_path):
    table, written = write_report(tmp_path, n=64, ifg_n=9, layouts=("ylg",), grid=4)
    assert "| strided | 64 | 8 | 2 |" in table
    for path in written:
        assert path.exists() and path.stat().st_size > 0, path
    pngs = [p for p in written if p.suffix == ".png"]
    assert len(pngs) == 6 and all(p.read_bytes()[:4] == b"\x89PNG" for p in pngs)
    rows = json.loads((tmp_path / "summary.json").read_text())
    assert {r["pattern"]: r["full_information"] for r in rows}["strided_fi"] is True
