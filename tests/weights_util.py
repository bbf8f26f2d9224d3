"""Comparing the initial weights of two models by path (the seeded-weights tests)."""

import numpy as np


def assert_shared_identical(first: dict, second: dict) -> tuple[set, set]:
    """Asserts every path both dicts have holds bit-identical values; returns the paths only
    the first and only the second has."""
    shared = first.keys() & second.keys()
    assert len(shared) > 30
    for path in sorted(shared):
        np.testing.assert_array_equal(first[path], second[path], err_msg=path)
    return first.keys() - shared, second.keys() - shared
