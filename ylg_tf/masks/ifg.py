"""Information Flow Graph (IFG) analysis of multi-step attention patterns (supplementary §6).

The IFG of a pattern with steps A_1..A_T has vertex sets V_0 (inputs) .. V_T (outputs); query i of
V_t is joined to key j of V_{t-1} when A_t[i, j]. Following §6, every token is a storage node that
holds one token of information: inner vertices (V_1 .. V_{T-1}) have capacity one, as in the
vertex-split IFGs of distributed storage. That capacity is what makes the star transformer (all
inputs -> one hub -> all outputs) carry a flow of one token only, as §6 says.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from ylg_tf.masks.patterns import block_size, sparse_pattern


def reachability(pattern: np.ndarray) -> np.ndarray:
    """Number of IFG paths `[n_out, n_in]` from each input to each output.

    Steps compose in order: `pattern[0]` is the first step (V_0 -> V_1) and the product is
    `A_T @ ... @ A_2 @ A_1`. For LTR, (step 2 after step 1) is all-true, the reverse is not.
    """
    pattern = _as_pattern(pattern)
    paths = pattern[0].astype(np.float64)
    for step in pattern[1:]:
        paths = step.astype(np.float64) @ paths
    return paths


def full_information(pattern: np.ndarray) -> bool:
    """Whether every input reaches every output in the IFG (`reachability` gives the order)."""
    return bool(np.all(reachability(pattern) > 0))


def pair_flow(pattern: np.ndarray, inputs: Sequence[int], outputs: Sequence[int]) -> int:
    """Max-flow (scipy) from a set of inputs to a set of outputs, each a unit source / sink.

    Every IFG edge and every inner vertex has capacity one, so the value is the number of tokens
    that can flow at once along edge-disjoint paths through distinct storage nodes.
    """
    pattern = _as_pattern(pattern)
    steps, n_out, n_in = pattern.shape
    # Vertex numbering: V_0 | (in, out) copies of each inner layer | V_T | source | sink.
    layer_in = [0] + [n_in * (2 * t - 1) for t in range(1, steps)] + [n_in * (2 * steps - 1)]
    layer_out = [0] + [n_in * 2 * t for t in range(1, steps)] + [n_in * (2 * steps - 1)]
    source, sink = layer_in[-1] + n_out, layer_in[-1] + n_out + 1
    tails, heads = [], []
    for t, step in enumerate(pattern, start=1):
        query, key = np.nonzero(step)
        tails.append(layer_out[t - 1] + key)
        heads.append(layer_in[t] + query)
    for t in range(1, steps):  # vertex split: the inner node stores one token
        tails.append(layer_in[t] + np.arange(n_in))
        heads.append(layer_out[t] + np.arange(n_in))
    tails += [np.full(len(inputs), source), layer_in[-1] + np.asarray(outputs)]
    heads += [np.asarray(inputs), np.full(len(outputs), sink)]
    tails, heads = np.concatenate(tails), np.concatenate(heads)
    graph = sparse.csr_matrix(
        (np.ones(len(tails), dtype=np.int32), (tails, heads)), shape=(sink + 1, sink + 1)
    )
    return int(csgraph.maximum_flow(graph, source, sink).flow_value)


def min_pair_flow(pattern: np.ndarray) -> tuple[int, tuple[int, int, int, int] | None]:
    """Minimum over input pairs {a, b} and output pairs {c, d} of their two-token `pair_flow`.

    2 means every pair of inputs reaches every pair of outputs by two disjoint paths (the stronger
    property of §6); 1 means a single node is a bottleneck for some pairs; 0 means some pair of
    inputs cannot reach some pair of outputs at all. Returns `(value, (a, b, c, d))` with a pair
    attaining it, or `(2, None)`.

    Checking all ~n^4 / 4 pairs with max-flow is out of reach for n = 256, so this uses Menger's
    theorem: the flow is below 2 exactly when one unit (an input, an output or an inner node)
    separates the inputs from the outputs, which is found from path counts. A witness is then
    confirmed with `pair_flow`. One- and two-step patterns only.
    """
    pattern = _as_pattern(pattern)
    steps, n_out, n_in = pattern.shape
    if steps > 2 or n_in < 2:
        raise ValueError(f"min_pair_flow needs 1 or 2 steps and n >= 2, got shape {pattern.shape}.")
    paths = reachability(pattern)
    unreachable = paths == 0  # [output, input]
    value, witness = 2, None
    if (rect := _rectangle(unreachable)) is not None:
        value, witness = 0, rect
    elif (col := _first_with_two(unreachable.T)) is not None:  # input b misses outputs c, d
        b, (c, d) = col
        value, witness = 1, ((b + 1) % n_in, b, c, d)
    elif (row := _first_with_two(unreachable)) is not None:  # output c misses inputs a, b
        c, (a, b) = row
        value, witness = 1, (a, b, c, (c + 1) % n_out)
    elif steps == 2:
        witness = _inner_node_cut(pattern, paths)
        value = 2 if witness is None else 1
    if witness is not None:
        a, b, c, d = witness
        confirmed = pair_flow(pattern, [a, b], [c, d])
        assert confirmed == value, f"Menger analysis {value} != max-flow {confirmed} at {witness}"
    return value, witness


def pattern_summary(name: str, n: int) -> dict:
    """Density, attended keys per query, Full Information and minimum pair flow of a pattern."""
    pattern = sparse_pattern(name, n)
    per_step = pattern.reshape(len(pattern), -1).mean(axis=1)
    flow = min_pair_flow(pattern)[0] if n >= 2 else None
    return {
        "pattern": name,
        "n": n,
        "block_size": block_size(n),
        "steps": len(pattern),
        "density_per_step": [float(d) for d in per_step],
        "keys_per_query_per_step": [float(d * n) for d in per_step],
        "attended_positions": int(pattern.sum()),
        "full_information": full_information(pattern),
        "min_pair_flow": flow,
    }


def _inner_node_cut(pattern: np.ndarray, paths: np.ndarray) -> tuple[int, int, int, int] | None:
    """(a, b, c, d) whose every path runs through one inner node m, or None."""
    first, second = pattern
    single = paths == 1
    for m in range(first.shape[0]):
        outputs, inputs = np.flatnonzero(second[:, m]), np.flatnonzero(first[m])
        if len(outputs) < 2 or len(inputs) < 2:
            continue
        # Every output attending m reaches every input m attends to; a single path runs via m.
        if (rect := _rectangle(single[np.ix_(outputs, inputs)])) is not None:
            a, b, c, d = rect
            return int(inputs[a]), int(inputs[b]), int(outputs[c]), int(outputs[d])
    return None


def _rectangle(table: np.ndarray) -> tuple[int, int, int, int] | None:
    """(col a, col b, row c, row d) with table true at all four crossings, or None."""
    transposed = table.shape[0] > table.shape[1]
    wide = table.T if transposed else table  # Gram matrix over the shorter side
    shared = wide.astype(np.float32) @ wide.T.astype(np.float32)
    np.fill_diagonal(shared, 0)
    hits = np.argwhere(shared >= 2)
    if len(hits) == 0:
        return None
    r1, r2 = hits[0]
    c1, c2 = np.flatnonzero(wide[r1] & wide[r2])[:2]
    r1, r2, c1, c2 = int(r1), int(r2), int(c1), int(c2)
    return (r1, r2, c1, c2) if transposed else (c1, c2, r1, r2)


def _first_with_two(table: np.ndarray) -> tuple[int, tuple[int, int]] | None:
    """(row, (two columns)) of the first row with at least two true entries, or None."""
    rows = np.flatnonzero(table.sum(axis=1) >= 2)
    if len(rows) == 0:
        return None
    cols = np.flatnonzero(table[rows[0]])[:2]
    return int(rows[0]), (int(cols[0]), int(cols[1]))


def _as_pattern(pattern: np.ndarray) -> np.ndarray:
    pattern = np.asarray(pattern, dtype=bool)
    if pattern.ndim != 3 or pattern.shape[1] != pattern.shape[2]:
        raise ValueError(f"A pattern is boolean [steps, n, n], got shape {pattern.shape}.")
    return pattern
