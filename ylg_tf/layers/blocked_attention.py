"""Blocked sparse attention: compute only the positions YLG's 2-D sparse masks allow.

In the 1-D order that ESA puts on the key grid, every pattern step is block structured, so the
allowed (query, key) positions can be computed directly, at O(n sqrt n) instead of the O(n^2) of a
masked dense score matrix (`s = floor(sqrt(n))`, blocks of `s` consecutive ranks):

| structure | pattern steps | queries grouped by | keys of a group |
|---|---|---|---|
| block | LTR / RTL step 1 | block of their rank | the block's keys |
| window | strided / strided_fi step 1 | block of their rank | the previous and this block |
| residue | strided / strided_fi step 2 | rank mod s | the residue class + all-true columns |
| summary | LTR / RTL step 2 | (all queries) | all-true columns + each query's own key |
| dense | dense heads | - | all keys, no mask |

Queries sharing a key cell (4 of them when keys are 2x2 pooled) share its mask row, so queries are
gathered into slots `[groups, ranks per group, queries per key cell]` and the logits of a group are
one batched `[ranks * queries per key cell, keys]` product. A small mask per group, added to the
logits as a large negative bias, removes what the pattern does not allow, padding, and keys that
appear twice in a row (so that every allowed key is counted exactly once and the softmax equals
the masked one).

The tables are built in NumPy from the config: the masks are read off `ylg_tf.masks.sparse_pattern`
(the single definition of the patterns) at the gathered positions, and `build_plan` checks that
the gathered positions cover every allowed one. `dense_masks(plan)` scatters a plan back into
`[heads, nq, nk]` masks, which the tests compare with `ylg_tf.masks.head_masks`.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np
from keras import ops

from ylg_tf.layers._common import attention_probs, large_negative
from ylg_tf.masks import enumerate_grid, layout_heads, sparse_pattern
from ylg_tf.masks.layouts import LAYOUTS, _key_cell_of_queries

#: Structure computing each (pattern, step); see the module docstring.
STRUCTURES = {
    ("ltr", 0): "block",
    ("rtl", 0): "block",
    ("strided", 0): "window",
    ("strided_fi", 0): "window",
    ("ltr", 1): "summary",
    ("rtl", 1): "summary",
    ("strided", 1): "residue",
    ("strided_fi", 1): "residue",
    ("dense", 0): "dense",
}


@dataclasses.dataclass(frozen=True, eq=False)
class HeadGroup:
    """Heads of one layer computed together with one structure (NumPy tables, built once).

    Attributes:
        structure: a value of `STRUCTURES`.
        heads: the layer's head indices in this group, `[h]`.
        shape: `(groups, ranks per group, queries per key cell)`; `(1, nq, 1)` for dense.
        num_keys: keys of the layer (`nk`).
        query_slots: flat query index of each slot, `[groups * ranks * per_cell]` (padding -> 0).
        query_position: slot of each flat query, `[nq]`.
        keys: flat index into `[h * nk]` (head-major) of each group's keys, `[h, groups, L]`.
        own_keys: flat key index of each slot rank's own key, `[groups, ranks]`, or None when the
            structure has no own-key term.
        mask: `[h, groups, ranks, L (+ 1 own)]`, True = attend.
        bias: float32 logit offsets of the keys, 0 where allowed, a large negative value
            elsewhere, `[h, groups, ranks, 1, L]`; `own_bias`, `[h, groups, ranks, 1]`, those
            of the own keys (or None).
        slot_table: flat query index of each slot, `[groups, ranks, per_cell]` (-1 = padding).
    """

    structure: str
    heads: np.ndarray
    shape: tuple[int, int, int]
    num_keys: int
    query_slots: np.ndarray | None = None
    query_position: np.ndarray | None = None
    keys: np.ndarray | None = None
    own_keys: np.ndarray | None = None
    mask: np.ndarray | None = None
    bias: np.ndarray | None = None
    own_bias: np.ndarray | None = None
    slot_table: np.ndarray | None = None

    @functools.cached_property
    def entries(self) -> tuple[np.ndarray, np.ndarray]:
        """Where each allowed probability goes, and where it comes from: two flat int arrays.

        Targets index `[h, nq, nk]`, sources the group's `[h, groups, ranks, per_cell, L (+1)]`
        probabilities. Computed on first use (only attention maps need them).
        """
        heads, num_groups, ranks, columns = self.mask.shape
        per_cell = self.shape[2]
        num_queries, num_keys = len(self.query_position), self.num_keys
        head, g, r, k = np.nonzero(self.mask)
        width = self.keys.shape[-1]
        key_cells = self.keys - (np.arange(heads) * num_keys)[:, None, None]
        cell = key_cells[head, g, np.minimum(k, width - 1)]
        if self.own_keys is not None:
            cell = np.where(k < width, cell, self.own_keys[g, r])
        query = self.slot_table[g, r]  # [entries, per_cell]
        used = query >= 0
        first = (((head * num_groups + g) * ranks + r) * per_cell)[:, None]
        source = (first + np.arange(per_cell)[None, :]) * columns + k[:, None]
        target = (head[:, None] * num_queries + query) * num_keys + cell[:, None]
        return _frozen(target[used]), _frozen(source[used])


@dataclasses.dataclass(frozen=True, eq=False)
class BlockedPlan:
    """How a layout's heads are computed on given query and key grids; see `build_plan`."""

    num_heads: int
    num_queries: int
    num_keys: int
    groups: tuple[HeadGroup, ...]
    head_order: np.ndarray  # heads concatenated group by group -> the layer's head order


def build_plan(
    layout: str,
    query_hw: tuple[int, int],
    key_hw: tuple[int, int],
    curve: str = "manhattan",
    heads: int | None = None,
) -> BlockedPlan:
    """Index and mask tables computing `head_masks(layout, query_hw, key_hw, curve, heads)`.

    Cached: layers of the same configuration share one plan (its arrays are read-only).
    """
    num_heads = layout_heads(layout, heads)
    return _build_plan(layout, tuple(query_hw), tuple(key_hw), curve, num_heads)


@functools.lru_cache(maxsize=16)
def _build_plan(
    layout: str, query_hw: tuple[int, int], key_hw: tuple[int, int], curve: str, num_heads: int
) -> BlockedPlan:
    steps = LAYOUTS.get(layout, (("dense", 0),) * num_heads)
    n = key_hw[0] * key_hw[1]
    num_queries = query_hw[0] * query_hw[1]
    cells = enumerate_grid(key_hw[0], key_hw[1], curve)
    key_of_rank = cells[:, 0] * key_hw[1] + cells[:, 1]
    rank_of_key = np.empty(n, dtype=np.int64)
    rank_of_key[key_of_rank] = np.arange(n)
    slots, per_cell = _query_slots(rank_of_key[_key_cell_of_queries(query_hw, key_hw)], n)

    by_structure: dict[str, list[int]] = {}
    for head, step in enumerate(steps):
        by_structure.setdefault(STRUCTURES[step], []).append(head)
    groups = []
    for structure, group_heads in by_structure.items():
        if structure == "dense":
            groups.append(
                HeadGroup("dense", _frozen(np.asarray(group_heads)), (1, num_queries, 1), n)
            )
            continue
        tables = [_head_tables(structure, *steps[h], n) for h in group_heads]
        groups.append(
            _group(structure, np.asarray(group_heads), tables, slots, per_cell, key_of_rank, n)
        )
    head_order = np.argsort(np.concatenate([g.heads for g in groups]))
    return BlockedPlan(num_heads, num_queries, n, tuple(groups), _frozen(head_order))


def _query_slots(query_rank: np.ndarray, n: int) -> tuple[np.ndarray, int]:
    """`[n, per_cell]` flat query index of each slot of each key rank (-1 = empty slot)."""
    counts = np.bincount(query_rank, minlength=n)
    per_cell = int(counts.max())
    order = np.argsort(query_rank, kind="stable")
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    within = np.arange(len(order)) - first[query_rank[order]]
    slots = np.full((n, per_cell), -1, dtype=np.int64)
    slots[query_rank[order], within] = order
    return slots, per_cell


def _head_tables(structure: str, name: str, step: int, n: int):
    """Rank tables of one head: `(arrangement [G, Rg], keys [G, L], own, pattern)`.

    `arrangement` lists the (padded) ranks of each query group, `keys` the key ranks every query
    of a group looks at (-1 = none); `own` adds each query's own key.
    """
    pattern = sparse_pattern(name, n)[step]
    s = math.isqrt(n)
    blocks = -(-n // s)
    ranks = np.arange(blocks * s).reshape(blocks, s)
    valid = np.where(ranks < n, ranks, -1)
    own = False
    if structure == "block":
        arrangement, keys = ranks, valid
    elif structure == "window":
        previous = np.concatenate([np.full((1, s), -1), valid[:-1]])
        arrangement, keys = ranks, np.concatenate([previous, valid], axis=1)
    else:
        # Keys every query may attend to (e.g. the last element of every block for LTR).
        columns = np.flatnonzero(pattern.all(axis=0))
        if structure == "residue":
            arrangement = ranks.T
            keys = np.concatenate([valid.T, np.broadcast_to(columns, (s, len(columns)))], axis=1)
        else:  # summary
            arrangement, keys, own = ranks.reshape(1, -1), columns[None, :], True
    return arrangement, keys, own, pattern


def _group(structure, heads, tables, slots, per_cell, key_of_rank, n) -> HeadGroup:
    arrangement, _, own, _ = tables[0]
    num_groups, ranks_per_group = arrangement.shape
    width = max(keys.shape[1] for _, keys, _, _ in tables)
    rows = arrangement < n  # real ranks (the last block may be short)
    row_ranks = np.where(rows, arrangement, 0)

    masks, key_ranks = [], []
    for _, keys, _, pattern in tables:
        keys = np.pad(keys, ((0, 0), (0, width - keys.shape[1])), constant_values=-1)
        # A key listed twice in a group's row (e.g. n - 1 in its own residue class) counts once.
        earlier = np.tril(keys[:, :, None] == keys[:, None, :], k=-1).any(axis=2)
        usable = (keys >= 0) & ~earlier
        mask = (
            pattern[row_ranks[:, :, None], np.maximum(keys, 0)[:, None, :]]
            & usable[:, None, :]
            & rows[:, :, None]
        )
        if own:
            listed = (mask & (keys[:, None, :] == arrangement[:, :, None])).any(axis=2)
            own_mask = pattern[row_ranks, row_ranks] & rows & ~listed
            mask = np.concatenate([mask, own_mask[:, :, None]], axis=2)
        if mask.sum() != pattern.sum():
            raise RuntimeError(
                f"Internal error: the {structure!r} structure does not cover its pattern "
                f"({mask.sum()} of {pattern.sum()} allowed positions over n={n} keys)."
            )
        masks.append(mask)
        key_ranks.append(keys)
    mask = np.stack(masks)  # [h, G, Rg, L (+1)]
    key_ranks = np.stack(key_ranks)  # [h, G, L]
    key_cells = key_of_rank[np.maximum(key_ranks, 0)]
    own_cells = key_of_rank[row_ranks]

    slot_table = slots[np.minimum(arrangement, n - 1)]  # [G, Rg, per_cell]
    slot_table = np.where(rows[:, :, None], slot_table, -1)
    flat_slots = slot_table.reshape(-1)
    query_position = np.empty(int((flat_slots >= 0).sum()), dtype=np.int64)
    query_position[flat_slots[flat_slots >= 0]] = np.flatnonzero(flat_slots >= 0)

    bias = np.where(mask, 0.0, large_negative("float32")).astype(np.float32)
    head_offsets = np.arange(len(heads))[:, None, None] * n
    return HeadGroup(
        structure=structure,
        heads=_frozen(heads),
        shape=(num_groups, ranks_per_group, per_cell),
        query_slots=_frozen(np.maximum(flat_slots, 0)),
        query_position=_frozen(query_position),
        keys=_frozen(key_cells + head_offsets),
        own_keys=_frozen(own_cells) if own else None,
        mask=_frozen(mask),
        bias=_frozen(bias[:, :, :, None, :width]),
        own_bias=_frozen(bias[:, :, :, None, width]) if own else None,
        slot_table=_frozen(slot_table),
        num_keys=n,
    )


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array)
    if array.dtype.kind in "iu" and (array.size == 0 or array.max() < 2**31):
        array = array.astype(np.int32)
    array.setflags(write=False)
    return array


def dense_masks(plan: BlockedPlan) -> np.ndarray:
    """Scatters a plan's allowed positions into boolean masks `[heads, nq, nk]`.

    Every allowed position is listed exactly once (checked: a duplicate raises).
    """
    masks = np.zeros((plan.num_heads, plan.num_queries * plan.num_keys), dtype=np.int64)
    for group in plan.groups:
        if group.structure == "dense":
            masks[group.heads] = 1
            continue
        targets, _ = group.entries
        counts = np.bincount(targets, minlength=len(group.heads) * masks.shape[1])
        masks[group.heads] += counts.reshape(len(group.heads), -1)
    if masks.max() > 1:
        raise AssertionError("A position is listed more than once.")
    return masks.reshape(plan.num_heads, plan.num_queries, plan.num_keys).astype(bool)


def blocked_attention(query, key, value, plan: BlockedPlan, return_probs: bool = False):
    """Multi-head attention restricted to the positions a plan allows.

    Args:
        query: `[batch, heads, nq, depth]`.
        key: `[batch, heads, nk, depth]`.
        value: `[batch, heads, nk, value_depth]`.
        plan: from `build_plan`, for these heads and sizes.
        return_probs: also return the dense probabilities (scattered; only for inspection).

    Returns:
        `[batch, heads, nq, value_depth]` in the dtype of `value`, and with `return_probs` the
        probabilities `[batch, heads, nq, nk]` in that dtype, masked positions exactly 0.
    """
    per_group = [_split_heads(x, plan) for x in (query, key, value)]
    outputs, probs = [], []
    for group, q, k, v in zip(plan.groups, *per_group, strict=True):
        if group.structure == "dense":
            p = ops.cast(attention_probs(q, k), v.dtype)
            outputs.append(ops.matmul(p, v))
            probs.append(p)
        else:
            out, p = _group_attention(q, k, v, group, return_probs)
            outputs.append(out)
            probs.append(p)
    attended = _restore_head_order(outputs, plan)
    if not return_probs:
        return attended
    return attended, _restore_head_order(probs, plan)


def _split_heads(x, plan: BlockedPlan) -> list:
    """`[x[:, group.heads] for group in plan.groups]`, by one permutation and a split (strided
    slices and per-group gathers of the head axis are several times slower on CPU)."""
    if len(plan.groups) == 1:
        return [x]
    order = np.concatenate([group.heads for group in plan.groups])
    if not np.array_equal(order, np.arange(len(order))):
        x = ops.take(x, order, axis=1)
    bounds = np.cumsum([len(group.heads) for group in plan.groups])[:-1]
    return ops.split(x, [int(b) for b in bounds], axis=1)


def _restore_head_order(per_group, plan):
    if len(per_group) == 1:
        return per_group[0]
    return ops.take(ops.concatenate(per_group, axis=1), plan.head_order, axis=1)


def _group_attention(q, k, v, group: HeadGroup, return_probs: bool):
    heads = len(group.heads)
    num_groups, ranks, per_cell = group.shape
    width = group.keys.shape[-1]
    depth, value_depth = q.shape[-1], v.shape[-1]
    num_keys = k.shape[2]
    rows = (-1, heads, num_groups, ranks * per_cell)  # + (last axis,): one matmul per group
    cells = (-1, heads, num_groups, ranks, per_cell)  # + (last axis,): the mask's layout
    q, k = ops.cast(q, "float32"), ops.cast(k, "float32")

    slots = ops.reshape(ops.take(q, group.query_slots, axis=2), (*rows, depth))
    group_keys = ops.take(ops.reshape(k, (-1, heads * num_keys, depth)), group.keys, axis=1)
    logits = ops.matmul(slots, ops.swapaxes(group_keys, -1, -2))  # [B, h, G, Rg * m, L]
    # Disallowed positions get a large negative logit, so their probability is exactly 0.
    logits = ops.reshape(logits, (*cells, width)) + group.bias
    if group.own_keys is None:
        probs = ops.reshape(ops.softmax(ops.reshape(logits, (-1, width)), axis=-1), (*rows, width))
        own_probs = None
    else:
        # The softmax runs over the group's keys and each query's own key, kept apart (no
        # concatenated copy of the logits).
        own_keys = ops.expand_dims(ops.take(k, group.own_keys, axis=2), 4)  # [B,h,G,Rg,1,d]
        own_logits = ops.sum(ops.reshape(slots, (*cells, depth)) * own_keys, axis=-1)
        own_logits = own_logits + group.own_bias  # [B, h, G, Rg, m]
        # The shift cancels out of the softmax, so it needs no gradient.
        top = ops.stop_gradient(ops.maximum(ops.max(logits, axis=-1), own_logits))
        exp = ops.exp(logits - ops.expand_dims(top, -1))
        own_exp = ops.exp(own_logits - top)
        total = ops.sum(exp, axis=-1) + own_exp
        probs = ops.reshape(exp / ops.expand_dims(total, -1), (*rows, width))
        own_probs = ops.expand_dims(own_exp / total, -1)  # [B, h, G, Rg, m, 1]
    probs = ops.cast(probs, v.dtype)

    group_values = ops.take(
        ops.reshape(v, (-1, heads * num_keys, value_depth)), group.keys, axis=1
    )  # [B, h, G, L, dv]
    out = ops.matmul(probs, group_values)  # [B, h, G, Rg * m, dv]
    if own_probs is not None:
        own_probs = ops.cast(own_probs, v.dtype)
        own_values = ops.expand_dims(ops.take(v, group.own_keys, axis=2), 4)
        out = out + ops.reshape(own_probs * own_values, (*rows, value_depth))
    out = ops.reshape(out, (-1, heads, num_groups * ranks * per_cell, value_depth))
    out = ops.take(out, group.query_position, axis=2)  # [B, h, nq, dv]
    if not return_probs:
        return out, None
    probs = ops.reshape(probs, (*cells, width))
    if own_probs is not None:
        probs = ops.concatenate([probs, own_probs], axis=-1)
    return out, _scatter_probs(probs, group, q.shape[2], num_keys)


def _scatter_probs(probs, group: HeadGroup, num_queries: int, num_keys: int):
    """Group probabilities -> dense `[B, h, nq, nk]` (only when asked for)."""
    targets, sources = group.entries
    heads = len(group.heads)
    values = ops.take(ops.reshape(probs, (-1, int(np.prod(probs.shape[1:])))), sources, axis=1)
    dense = ops.scatter(
        ops.convert_to_tensor(targets[:, None]),
        ops.transpose(values),  # [entries, B]
        (heads * num_queries * num_keys, ops.shape(probs)[0]),
    )
    return ops.reshape(ops.transpose(dense), (-1, heads, num_queries, num_keys))
