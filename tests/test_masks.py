"""Patterns, grid orders and head layouts against their definitions, written out independently."""

import subprocess
import sys

import numpy as np
import pytest

from ylg_tf import masks

SIZES = [1, 2, 3, 4, 5, 7, 9, 10, 16, 17, 24, 25, 64, 70]


def _blocks(n):
    s = int(np.floor(np.sqrt(n)))
    return s, [list(range(start, min(start + s, n))) for start in range(0, n, s)]


def _reference(name, n):
    """The definitions of docs/background.md, one (i, j) at a time."""
    s, blocks = _blocks(n)
    block_of = {i: b for b in blocks for i in b}
    lasts = {b[-1] for b in blocks}
    firsts = {b[0] for b in blocks}
    rules = {
        "ltr": (
            lambda i, j: i - i % s <= j <= i,
            lambda i, j: j == i or j in lasts,
        ),
        "rtl": (
            lambda i, j: j in block_of[i] and j >= i,
            lambda i, j: j == i or j in firsts,
        ),
        "strided": (
            lambda i, j: i - s + 1 <= j <= i,
            lambda i, j: j <= i and (i - j) % s == 0,
        ),
        "dense": (lambda i, j: True,),
    }[name]
    return np.array([[[rule(i, j) for j in range(n)] for i in range(n)] for rule in rules])


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("name", ["ltr", "rtl", "strided", "dense"])
def test_pattern_matches_definition(name, n):
    np.testing.assert_array_equal(masks.sparse_pattern(name, n), _reference(name, n))


def test_ltr_and_rtl_for_four_positions_by_hand():
    # n = 4, s = 2: blocks {0, 1} and {2, 3} (supplementary Fig. 4 draws RTL at N = 4).
    ltr = np.array(
        [
            [[1, 0, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0], [0, 0, 1, 1]],
            [[1, 1, 0, 1], [0, 1, 0, 1], [0, 1, 1, 1], [0, 1, 0, 1]],
        ],
        dtype=bool,
    )
    rtl = np.array(
        [
            [[1, 1, 0, 0], [0, 1, 0, 0], [0, 0, 1, 1], [0, 0, 0, 1]],
            [[1, 0, 1, 0], [1, 1, 1, 0], [1, 0, 1, 0], [1, 0, 1, 1]],
        ],
        dtype=bool,
    )
    np.testing.assert_array_equal(masks.sparse_pattern("ltr", 4), ltr)
    np.testing.assert_array_equal(masks.sparse_pattern("rtl", 4), rtl)


def test_rtl_floor_is_transpose_of_ltr_floor():
    for n in SIZES:
        np.testing.assert_array_equal(
            masks.sparse_pattern("rtl", n)[0], masks.sparse_pattern("ltr", n)[0].T
        )


@pytest.mark.parametrize("n", range(1, 130))
def test_full_information(n):
    for name in ("ltr", "rtl", "strided_fi", "dense"):
        assert masks.full_information(masks.sparse_pattern(name, n)), (name, n)
    if n >= 2:
        assert not masks.full_information(masks.sparse_pattern("strided", n))
    if n >= 4:  # with s >= 2 no single sparse step reaches everything
        for name in ("ltr", "rtl", "strided", "strided_fi"):
            for step in masks.sparse_pattern(name, n):
                assert not masks.full_information(step[None]), (name, n)


def test_strided_lacks_the_path_named_in_fig_3c():
    # "there is no path from node 2 of V0 to node 1 of V2"
    assert masks.reachability(masks.sparse_pattern("strided", 16))[1, 2] == 0
    assert masks.reachability(masks.sparse_pattern("strided_fi", 16))[1, 2] > 0


def test_strided_fi_extends_strided():
    for n in SIZES:
        strided, extended = (
            masks.sparse_pattern("strided", n),
            masks.sparse_pattern("strided_fi", n),
        )
        assert np.all(extended >= strided), n  # only edges are added


@pytest.mark.parametrize("name", ["ltr", "rtl"])
def test_composition_order_matters(name):
    pattern = masks.sparse_pattern(name, 25)
    assert masks.full_information(pattern)  # step 2 after step 1
    assert not masks.full_information(pattern[::-1])  # step 1 after step 2


def test_densities_at_256_match_the_paper():
    for name in ("ltr", "rtl"):
        floor, repetitive = masks.sparse_pattern(name, 256).mean(axis=(1, 2))
        assert floor == pytest.approx(0.033, abs=0.0005)
        assert repetitive == pytest.approx(0.066, abs=0.0005)


@pytest.mark.parametrize("name", ["ltr", "rtl", "strided", "strided_fi"])
def test_attended_positions_grow_as_n_sqrt_n(name):
    ratios = [masks.sparse_pattern(name, n).sum() / n**1.5 for n in (64, 256, 1024)]
    assert max(ratios) / min(ratios) < 1.2, ratios


def test_invalid_patterns_raise():
    with pytest.raises(ValueError, match="'fixed'"):
        masks.sparse_pattern("fixed", 16)
    with pytest.raises(ValueError, match="0"):
        masks.sparse_pattern("ltr", 0)


def test_esa_orders_by_hand():
    np.testing.assert_array_equal(
        masks.enumerate_grid(3, 3),
        [[0, 0], [0, 1], [1, 0], [0, 2], [1, 1], [2, 0], [1, 2], [2, 1], [2, 2]],
    )
    np.testing.assert_array_equal(
        masks.enumerate_grid(4, 4),
        [
            [0, 0], [0, 1], [1, 0], [0, 2], [1, 1], [2, 0], [0, 3], [1, 2],
            [2, 1], [3, 0], [1, 3], [2, 2], [3, 1], [2, 3], [3, 2], [3, 3],
        ],
    )  # fmt: skip


@pytest.mark.parametrize("curve", masks.CURVES)
@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (4, 4), (5, 3), (2, 7), (8, 8)])
def test_every_curve_visits_every_cell_once(curve, shape):
    cells = masks.enumerate_grid(*shape, curve)
    flat = cells[:, 0] * shape[1] + cells[:, 1]
    np.testing.assert_array_equal(np.sort(flat), np.arange(shape[0] * shape[1]))


@pytest.mark.parametrize("side", [2, 4, 8, 16])
def test_hilbert_steps_to_a_neighbour_each_time(side):
    cells = masks.enumerate_grid(side, side, "hilbert")
    np.testing.assert_array_equal(np.abs(np.diff(cells, axis=0)).sum(axis=1), 1)
    np.testing.assert_array_equal(cells[0], [0, 0])


def test_row_major_is_raster_order():
    np.testing.assert_array_equal(
        masks.enumerate_grid(2, 3, "row_major"), np.argwhere(np.ones((2, 3)))
    )


def _reference_head_mask(name, step, query_hw, key_hw, curve):
    """ESA by hand: 1-D pattern over the enumerated key grid, a query using its key cell's row."""
    order = [tuple(c) for c in masks.enumerate_grid(*key_hw, curve)]
    rank = {cell: k for k, cell in enumerate(order)}
    pattern = masks.sparse_pattern(name, len(order))[step]
    fy, fx = query_hw[0] // key_hw[0], query_hw[1] // key_hw[1]
    mask = np.zeros((query_hw[0] * query_hw[1], len(order)), dtype=bool)
    for qi in range(query_hw[0]):
        for qj in range(query_hw[1]):
            own = rank[(qi // fy, qj // fx)]
            for (ki, kj), k in rank.items():
                mask[qi * query_hw[1] + qj, ki * key_hw[1] + kj] = pattern[own, k]
    return mask


@pytest.mark.parametrize("curve", masks.CURVES)
@pytest.mark.parametrize("query_hw,key_hw", [((4, 4), (4, 4)), ((8, 8), (4, 4)), ((6, 10), (3, 5))])
def test_ylg_heads_against_esa_by_hand(curve, query_hw, key_hw):
    got = masks.head_masks("ylg", query_hw, key_hw, curve)
    order = [
        ("rtl", 0),
        ("rtl", 1),
        ("rtl", 0),
        ("rtl", 1),
        ("ltr", 0),
        ("ltr", 1),
        ("ltr", 0),
        ("ltr", 1),
    ]
    assert got.shape == (8, query_hw[0] * query_hw[1], key_hw[0] * key_hw[1])
    for head, (name, step) in enumerate(order):
        np.testing.assert_array_equal(
            got[head], _reference_head_mask(name, step, query_hw, key_hw, curve), err_msg=str(head)
        )


def test_other_layouts():
    strided = masks.head_masks("ylg_strided", (8, 8), (4, 4))
    mixed = masks.head_masks("dense_sparse", (8, 8), (4, 4))
    ylg = masks.head_masks("ylg", (8, 8), (4, 4))
    assert strided.shape[0] == mixed.shape[0] == 8
    for head in range(8):
        expected = _reference_head_mask("strided_fi", head % 2, (8, 8), (4, 4), "manhattan")
        np.testing.assert_array_equal(strided[head], expected)
    np.testing.assert_array_equal(mixed[:4], ylg[[0, 1, 4, 5]])
    assert mixed[4:].all()
    dense = masks.head_masks("dense", (8, 8), (4, 4), heads=3)
    assert dense.shape == (3, 64, 16) and dense.all()
    assert masks.head_masks("dense", (8, 8), (4, 4)).shape[0] == 1


def test_every_query_attends_to_its_own_key_cell():
    for layout in ("ylg", "ylg_strided", "strided"):
        for curve in masks.CURVES:
            got = masks.head_masks(layout, (10, 6), (5, 3), curve)
            own = (np.arange(10)[:, None] // 2 * 3 + np.arange(6)[None, :] // 2).reshape(-1)
            assert got[:, np.arange(60), own].all(), (layout, curve)


def test_esa_keeps_full_information_in_two_dimensions():
    for layout, heads in (("ylg", (0, 1)), ("ylg", (4, 5)), ("ylg_strided", (0, 1))):
        for curve in masks.CURVES:
            m = masks.head_masks(layout, (6, 5), (6, 5), curve)
            assert masks.full_information(m[list(heads)])


def test_no_esa_differs_from_esa():
    esa = masks.head_masks("ylg", (16, 16), (8, 8))
    raster = masks.head_masks("ylg", (16, 16), (8, 8), curve="row_major")
    assert esa.sum() == raster.sum() and not np.array_equal(esa, raster)


def test_head_masks_are_cached_and_read_only():
    a = masks.head_masks("ylg", (8, 8), (4, 4))
    assert a is masks.head_masks("ylg", [8, 8], (4, 4))
    with pytest.raises(ValueError):
        a[0, 0, 0] = False


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(layout="ylg3"), "ylg3"),
        (dict(curve="zorder"), "zorder"),
        (dict(heads=4), "heads=4"),
        (dict(layout="dense", heads=0), "0"),
        (dict(key_hw=(4,)), r"\(4,\)"),
        (dict(query_hw=(0, 4)), r"\(0, 4\)"),
    ],
)
def test_head_mask_errors_name_the_bad_value(kwargs, match):
    args = dict(layout="ylg", query_hw=(8, 8), key_hw=(4, 4)) | kwargs
    with pytest.raises(ValueError, match=match):
        masks.head_masks(**args)


def test_masks_package_does_not_import_tensorflow():
    code = "import sys, ylg_tf.masks, ylg_tf.masks.report; assert 'tensorflow' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
