"""Sparse-row helpers: the vectorised CSR walks that the hierarchy, the evaluation, the
geometry and the training loss share.

A CSR ("compressed sparse row") layout stores the rows of a sparse relation in two arrays:
``ptr`` of length n + 1 and a value array (or several parallel ones), where row i is the
slice ``values[ptr[i]:ptr[i + 1]]``. The closure (:class:`hrviz.closure.Closure`) keeps
the relevant documents of query q this way, the hierarchy its parents and children.

- :func:`group_rows` builds a CSR from (src, dst) pairs: row i lists every dst with src == i.
- :func:`expand_rows` gathers several rows at once: for a list of rows it returns, for every
  entry of those rows, its ``owner`` (the position of its row in the list) and ``at`` (its
  index into the value arrays). With counts c_r = ptr[r + 1] - ptr[r], the entries of the
  j-th listed row are ``ptr[rows[j]] + 0 .. c_{rows[j]} - 1``: two ``np.repeat`` and one
  ``arange``, no Python loop.
- :func:`at_or_above` counts ties against a member of a group: sorted by group, then score
  descending, member i has every member of its group up to the end of its run of equal
  scores at or above it. That is the project's pessimistic tie convention (docs/science-notes.md,
  Definitions: ties count against the pair).
- :func:`sorted_unique`: the sorted distinct values of an array, by sorting (faster than
  ``np.unique`` on the integer keys these walks build).
"""

from __future__ import annotations

import numpy as np


def group_rows(src: np.ndarray, dst: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """CSR (ptr, idx) of ``n`` rows: row i lists dst[j] for all j with src[j] == i, ascending."""
    order = np.lexsort((dst, src))
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=ptr[1:])
    return ptr, dst[order].astype(np.int32)


def sorted_unique(x: np.ndarray) -> np.ndarray:
    """Sort-based unique (numpy's hash-based np.unique is several times slower here)."""
    x = np.sort(x)
    if len(x) < 2:
        return x
    return x[np.concatenate(([True], x[1:] != x[:-1]))]


def expand_rows(ptr: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(owner, at) for every entry of the CSR rows ``rows`` (in order, row by row).

    ``owner[e]`` is the position in ``rows`` of entry e's row and ``at[e]`` its index into
    the CSR's value arrays (so ``idx[at]`` are the values, ``distance[at]`` a parallel array).
    """
    starts = ptr[rows]
    counts = ptr[rows + 1] - starts
    owner = np.repeat(np.arange(len(rows)), counts)
    offsets = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    return owner, np.repeat(starts, counts) + offsets


def at_or_above(group: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Members of the same group scoring >= each member, itself and its ties included.

    Returns ``(order, count, group_start)``: ``order`` sorts the members by group, then score
    descending; ``count[i]`` belongs to the member ``order[i]``; ``group_start[i]`` is the
    sorted position where member ``order[i]``'s group begins (handy for positions inside a group).
    """
    order = np.lexsort((-score, group))
    g, s = group[order], score[order]
    if not len(g):
        return order, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    new_group = np.r_[True, g[1:] != g[:-1]]
    run_start = new_group | np.r_[True, s[1:] != s[:-1]]
    run_last = np.r_[np.flatnonzero(run_start)[1:], len(g)] - 1
    run_id = np.cumsum(run_start) - 1
    starts = np.flatnonzero(new_group)
    group_start = np.repeat(starts, np.diff(np.r_[starts, len(g)]))
    return order, run_last[run_id] - group_start + 1, group_start
