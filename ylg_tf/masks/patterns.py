"""1-D sparse attention patterns of YLG (LTR, RTL), Sparse Transformers (strided) and dense.

A pattern is a boolean array `[steps, n, n]`: entry `[t, i, j]` says that at step `t` query `i` may
attend to key `j`, both indexed in the 1-D order that ESA (see `grids.py`) puts on a 2-D grid.
Definitions follow the YLG supplementary material §3 (docs/background.md, Sparse attention).

Blocks are consecutive runs of `s = floor(sqrt(n))` positions; when `n` is not a perfect square the
last block is shorter. "The last element of every block" therefore includes `n - 1`, which keeps
LTR's Full Information for every `n` (with the literal `j mod s == s - 1` it fails whenever the
short tail block does not end on a multiple of `s`).
"""

from __future__ import annotations

import functools
import math

import numpy as np

PATTERNS = ("ltr", "rtl", "strided", "strided_fi", "dense")


def block_size(n: int) -> int:
    """YLG's block size `floor(sqrt(n))` for `n` key positions."""
    _check_length(n)
    return math.isqrt(n)


def sparse_pattern(name: str, n: int) -> np.ndarray:
    """Returns the boolean step masks `[steps, n, n]` of pattern `name` over `n` positions.

    Patterns: `"ltr"` and `"rtl"` (YLG, two steps), `"strided"` (Sparse Transformers, two steps,
    no Full Information), `"strided_fi"` (its Full-Information extension used by YLG-Strided) and
    `"dense"` (one all-true step). The result is cached and read-only.
    """
    if name not in PATTERNS:
        raise ValueError(f"Unknown pattern {name!r}; expected one of {PATTERNS}.")
    _check_length(n)
    return _pattern(name, n)


@functools.lru_cache(maxsize=32)
def _pattern(name: str, n: int) -> np.ndarray:
    s = math.isqrt(n)
    i = np.arange(n)[:, None]
    j = np.arange(n)[None, :]
    same_block = (i // s) == (j // s)
    diagonal = i == j
    if name == "ltr":
        # Step 1 "left floor": j in [i - (i mod s), i]. Step 2 "left repetitive": itself and
        # the last element of every block, looking both ways.
        steps = (same_block & (j <= i), diagonal | (j % s == s - 1) | (j == n - 1))
    elif name == "rtl":
        # Step 1 "right floor" is the transpose of the left floor; step 2 "right repetitive":
        # itself and the first element of every block.
        steps = (same_block & (j >= i), diagonal | (j % s == 0))
    elif name == "strided":
        # Sparse Transformers: a causal window of s, then every s-th earlier position.
        steps = ((j <= i) & (j > i - s), (j <= i) & ((i - j) % s == 0))
    elif name == "strided_fi":
        # The window step is kept. The strided step looks both ways, so output i reaches every
        # window ending at a position congruent to i mod s, and attends to position n - 1,
        # whose window covers the tail after the last such position. Full Information follows
        # (proved for every n by `ifg.full_information` in the tests) with O(n sqrt n) edges.
        steps = ((j <= i) & (j > i - s), ((i - j) % s == 0) | (j == n - 1))
    else:  # dense
        steps = (np.ones((n, n), dtype=bool),)
    pattern = np.stack(np.broadcast_arrays(*steps))
    pattern.setflags(write=False)
    return pattern


def _check_length(n: int) -> None:
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValueError(f"The number of positions must be an integer >= 1, got {n!r}.")
