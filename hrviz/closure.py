"""The closure of a hierarchy: every relevant (query, document, distance) pair, grouped by query.

A query's relevant documents are itself (distance 0) and its ancestors, each at the *shortest*
number of parent hops (docs/science-notes.md, Definitions). :class:`Closure` keeps them as CSR rows
(:mod:`hrviz.sparse`); :func:`compute_closure` finds them breadth-first over pairs, a few
vectorised numpy operations per level; :func:`cap_closure` cuts a full closure down to a
distance cap. :meth:`hrviz.hierarchy.Hierarchy.closure` calls these and caches the result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .sparse import expand_rows, sorted_unique


@dataclass(frozen=True)
class Closure:
    """All relevant pairs (query, doc, distance), self pairs included, grouped by query.

    Pairs of query q are ``doc[ptr[q]:ptr[q+1]]`` sorted by distance, then doc id;
    ``query`` repeats the query id for each pair (handy for vectorised code).
    """

    ptr: np.ndarray  # (n + 1,) int64
    query: np.ndarray  # (pairs,) int32
    doc: np.ndarray  # (pairs,) int32
    distance: np.ndarray  # (pairs,) int16
    max_distance: int | None

    @property
    def n_pairs(self) -> int:
        return len(self.doc)

    @property
    def n_ancestor_pairs(self) -> int:
        """Pairs with distance >= 1 (the usual "closure size", self pairs excluded)."""
        return int(np.count_nonzero(self.distance))

    def sizes(self) -> np.ndarray:
        """|S(q)| for every query: the number of relevant documents, itself included."""
        return np.diff(self.ptr)

    def count_by_distance(self) -> dict[int, int]:
        counts = np.bincount(self.distance)
        return {int(d): int(c) for d, c in enumerate(counts) if c}

    def of(self, q: int) -> tuple[np.ndarray, np.ndarray]:
        """(docs, distances) relevant to query q."""
        lo, hi = self.ptr[q], self.ptr[q + 1]
        return self.doc[lo:hi], self.distance[lo:hi]


def compute_closure(parent_ptr: np.ndarray, parent_idx: np.ndarray, is_tree: bool,
                    max_distance: int | None) -> Closure:
    """All pairs up to ``max_distance`` (None: no cap) of the DAG whose parents are the CSR rows
    ``parent_ptr``/``parent_idx``.

    Breadth-first over pairs: level t+1 is the parents of level t's documents, minus pairs
    already found at a smaller distance (only possible in a DAG, so a tree skips the check).
    """
    n = len(parent_ptr) - 1
    fq = np.arange(n, dtype=np.int64)
    fa = fq.copy()
    qs, ds, ts = [fq], [fa], [np.zeros(n, dtype=np.int16)]
    seen = fq * n + fa  # sorted
    t = 0
    while len(fq) and (max_distance is None or t < max_distance):
        t += 1
        owner, at = expand_rows(parent_ptr, fa)
        keys = fq[owner] * n + parent_idx[at]
        if not is_tree:
            keys = sorted_unique(keys)
            pos = np.searchsorted(seen, keys)
            pos[pos == len(seen)] = 0
            keys = keys[seen[pos] != keys]
            # both runs are sorted: a stable sort (timsort) merges them in linear time
            seen = np.concatenate([seen, keys])
            seen.sort(kind="stable")
        fq, fa = keys // n, keys % n
        qs.append(fq)
        ds.append(fa)
        ts.append(np.full(len(fq), t, dtype=np.int16))
    return _pack(n, np.concatenate(qs), np.concatenate(ds), np.concatenate(ts), max_distance)


def cap_closure(full: Closure, max_distance: int) -> Closure:
    """The pairs of ``full`` with distance <= ``max_distance`` (order kept)."""
    keep = full.distance <= max_distance
    return _pack(len(full.ptr) - 1, full.query[keep], full.doc[keep], full.distance[keep], max_distance,
                 ordered=True)


def _pack(n: int, q, a, t, max_distance, ordered: bool = False) -> Closure:
    if not ordered:
        order = np.lexsort((a, t, q))
        q, a, t = q[order], a[order], t[order]
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(q, minlength=n), out=ptr[1:])
    return Closure(ptr, q.astype(np.int32), a.astype(np.int32), t.astype(np.int16), max_distance)
