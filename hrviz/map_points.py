"""What a 2-d map of embeddings shows for each point (the Embeddings page's data, no drawing).

- :func:`sample_nodes`: a seeded sample of at most N nodes;
- :func:`top_level`: the ancestor at a given depth, for colouring by subtree;
- :func:`query_recall`: recall@auto of each query;
- :func:`map_frame`: one data frame with coordinates and node attributes, ready for
  :func:`hrviz.charts.query.embedding_chart`.

The coordinates come from :mod:`hrviz.projection` (PCA or UMAP), which re-exports these.
Nothing here imports Streamlit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .errors import InputError
from .evaluate import pair_ranks

if TYPE_CHECKING:  # pragma: no cover
    from .closure import Closure
    from .hierarchy import Hierarchy


def sample_nodes(n: int, max_points: int | None, seed: int = 0) -> np.ndarray:
    """All ids 0..n-1, or a seeded sample of ``max_points`` of them, sorted."""
    if max_points is None or n <= max_points:
        return np.arange(n, dtype=np.int64)
    if max_points < 1:
        raise InputError(f"the sample size must be >= 1, got {max_points}")
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=int(max_points), replace=False)).astype(np.int64)


def top_level(h: "Hierarchy", level: int = 1) -> np.ndarray:
    """For every node, its ancestor (or itself) at depth ``level``; -1 for nodes above it.

    Depth is the longest path to a root, so every node at least ``level`` deep has such an
    ancestor. In a DAG with several, the nearest one wins (then the smallest id).
    """
    closure = h.closure()
    mask = h.depth[closure.doc] == level
    q, a = closure.query[mask], closure.doc[mask]  # grouped by query, nearest first
    out = np.full(h.n, -1, dtype=np.int64)
    if len(q):
        first = np.concatenate(([True], q[1:] != q[:-1]))
        out[q[first]] = a[first]
    return out


def query_recall(q_vecs: np.ndarray, d_vecs: np.ndarray, closure: "Closure",
                 queries: np.ndarray) -> np.ndarray:
    """recall@auto of each query in ``queries``: the share of its relevant documents (itself and
    its ancestors within the closure's cap) ranked within the top |S(q)|, against all documents."""
    queries = np.asarray(queries, dtype=np.int64)
    if not len(queries):
        return np.zeros(0)
    # 512 queries at a time: a (512 x n) score block stays ~170 MB for WordNet's 82k documents
    pidx, rank, _ = pair_ranks(q_vecs, d_vecs, closure, queries, chunk=512)
    qid = closure.query[pidx].astype(np.int64)
    sizes = np.diff(closure.ptr)
    hit = rank <= sizes[qid]
    pos_of = np.zeros(int(queries.max()) + 1, dtype=np.int64)
    pos_of[queries] = np.arange(len(queries))
    pos = pos_of[qid]
    hits = np.bincount(pos, weights=hit, minlength=len(queries))
    pairs = np.bincount(pos, minlength=len(queries))
    return np.divide(hits, pairs, out=np.zeros(len(queries)), where=pairs > 0)


def map_frame(h: "Hierarchy", coords: np.ndarray, nodes: np.ndarray, sides: list[str], *,
              recall: np.ndarray | None = None, level: int = 1, max_groups: int = 10) -> pd.DataFrame:
    """One row per point of a map: x, y, node (id), name, label, side (query/doc), depth,
    subtree (label of the ancestor at depth ``level``; the ``max_groups`` - 1 largest by name,
    the rest ``other``) and recall (of the node as a query; NaN when not given).

    ``coords`` stacks the points side by side: for ``sides=["query", "doc"]`` the first
    ``len(nodes)`` rows are the query vectors of ``nodes``, the next the document vectors.
    """
    nodes = np.asarray(nodes, dtype=np.int64)
    if len(coords) != len(nodes) * len(sides):
        raise InputError(f"{len(coords)} points for {len(nodes)} nodes x {len(sides)} sides")
    top = top_level(h, level)[nodes]
    labels = np.array([h.label(int(t)) if t >= 0 else f"(above depth {level})" for t in top], dtype=object)
    groups, counts = np.unique(labels, return_counts=True)
    keep = set(groups[np.argsort(-counts, kind="stable")][: max(1, max_groups - 1)].tolist())
    if len(groups) > max_groups:
        labels = np.where(np.isin(labels, list(keep)), labels, "other")
    names = [h.names[int(i)] for i in nodes]
    node_labels = [h.label(int(i)) for i in nodes]
    rec = np.full(len(nodes), np.nan) if recall is None else np.asarray(recall, dtype=float)
    frames = [pd.DataFrame({
        "node": nodes, "name": names, "label": node_labels, "side": side,
        "depth": h.depth[nodes].astype(int), "subtree": labels, "recall": rec,
    }) for side in sides]
    out = pd.concat(frames, ignore_index=True)
    out.insert(0, "y", np.asarray(coords[:, 1], dtype=float))
    out.insert(0, "x", np.asarray(coords[:, 0], dtype=float))
    return out
