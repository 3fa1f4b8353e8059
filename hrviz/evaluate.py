"""Exact retrieval evaluation: recall@k by distance, overall and min recall, mean rank, MAP.

Definitions (docs/science-notes.md, Definitions; one convention for the whole project):

- rank of a relevant pair (q, a): 1 + the number of *other* documents y with
  s(q, y) >= s(q, a). Ties count against the pair (pessimistic), so a degenerate
  model whose scores are all equal gets no credit.
- recall@k at distance t: among evaluation pairs at distance t, the fraction with
  rank <= k. ``k="auto"`` uses k = |S(q)| (itself plus ancestors within the cap): a
  perfect embedding scores 1.0 everywhere. Overall recall pools all pairs; min recall
  is the minimum over distances that have pairs.
- mean rank (Nickel & Kiela 2017): for each ancestor pair (distance >= 1), the rank of
  the ancestor among the documents *not* relevant to q, plus one; averaged over pairs.
- MAP: for each query with at least one ancestor, average precision of its ancestors
  in the ranking of all documents except the query itself; averaged over those queries.

Everything is exact: scores of a chunk of queries against *all* documents (one matrix
product), then each relevant pair's rank counted over its whole row
(:mod:`hrviz.rank_count`), at the same cost whatever the model's quality.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .closure import Closure
from .rank_count import count_at_or_above
from .sparse import at_or_above, expand_rows


@dataclass
class Evaluation:
    """Result of :func:`evaluate`. Recall values are fractions in [0, 1]."""

    k: str
    hits: dict[int, int]
    pairs: dict[int, int]
    n_queries: int
    mean_rank: float | None = None
    map: float | None = None
    seconds: float = 0.0
    recall_by_distance: dict[int, float] = field(init=False)
    overall: float = field(init=False)
    min: float = field(init=False)

    def __post_init__(self):
        self.recall_by_distance = {t: self.hits[t] / self.pairs[t] for t in sorted(self.pairs) if self.pairs[t]}
        total = sum(self.pairs.values())
        self.overall = sum(self.hits.values()) / total if total else float("nan")
        self.min = min(self.recall_by_distance.values()) if self.recall_by_distance else float("nan")

    @property
    def metric(self) -> str:
        return f"recall@{self.k}"

    def summary(self) -> dict:
        return {
            "metric": self.metric,
            "recall_by_distance": {str(t): r for t, r in self.recall_by_distance.items()},
            "overall": self.overall,
            "min": self.min,
            "mean_rank": self.mean_rank,
            "map": self.map,
        }


def pair_ranks(q_vecs: np.ndarray, d_vecs: np.ndarray, closure: Closure, queries: np.ndarray | None = None,
               *, chunk: int = 2048):
    """Rank (see module docstring) and score of every relevant pair of ``queries``.

    Returns (pair index into the closure, rank, score) as numpy arrays. Every rank is an exact
    count over the whole row (:func:`hrviz.rank_count.count_at_or_above`): one matrix product
    per chunk of queries, then one cached pass over each row per relevant pair.
    """
    import torch  # here: what only reads results (charts, most pages) loads without torch

    queries = np.arange(len(closure.ptr) - 1) if queries is None else np.asarray(queries)
    Q = torch.from_numpy(np.ascontiguousarray(q_vecs, dtype=np.float32))
    D = torch.from_numpy(np.ascontiguousarray(d_vecs, dtype=np.float32))
    sizes = np.diff(closure.ptr)
    threads = torch.get_num_threads()
    out_idx, out_rank, out_score = [], [], []
    for lo in range(0, len(queries), chunk):
        qs = queries[lo: lo + chunk]
        owner, pidx = expand_rows(closure.ptr, qs)
        S = (Q[torch.from_numpy(qs)] @ D.T).numpy()                                   # (c, n)
        s = S[owner, closure.doc[pidx]]                                                # (pairs,)
        row_ptr = np.zeros(len(qs) + 1, dtype=np.int64)
        np.cumsum(sizes[qs], out=row_ptr[1:])
        out_idx.append(pidx)
        out_rank.append(count_at_or_above(S, row_ptr, s, threads=threads))
        out_score.append(s)
    if not out_idx:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    return np.concatenate(out_idx), np.concatenate(out_rank), np.concatenate(out_score)


def evaluate(q_vecs: np.ndarray, d_vecs: np.ndarray, closure: Closure, *, k: str | int = "auto",
             queries: np.ndarray | None = None, pair_mask: np.ndarray | None = None,
             ranks: bool = True, chunk: int = 2048) -> Evaluation:
    """Recall@k by distance (and, with ``ranks``, mean rank and MAP) for ``queries`` (default all).

    ``pair_mask`` (bool over closure pairs) restricts which pairs are *counted* (e.g. the
    held-out pairs in generalisation mode); every relevant pair still counts as relevant
    when ranking.
    """
    t0 = time.perf_counter()
    pidx, rank, score = pair_ranks(q_vecs, d_vecs, closure, queries, chunk=chunk)
    qid = closure.query[pidx]
    dist = closure.distance[pidx]
    sizes = np.diff(closure.ptr)
    kq = sizes[qid] if k == "auto" else np.full(len(pidx), int(k))
    hit = rank <= kq
    count = np.ones(len(pidx), dtype=bool) if pair_mask is None else pair_mask[pidx]
    tmax = int(dist.max()) + 1 if len(dist) else 0
    hits = np.bincount(dist[count], weights=hit[count], minlength=tmax)
    pairs = np.bincount(dist[count], minlength=tmax)
    ev = Evaluation(
        k=str(k),
        hits={t: int(hits[t]) for t in range(tmax) if pairs[t]},
        pairs={t: int(pairs[t]) for t in range(tmax) if pairs[t]},
        n_queries=int(len(np.unique(qid))),
    )
    if ranks and len(pidx):
        ev.mean_rank, ev.map = rank_metrics(qid, dist, rank, score, count)
    ev.seconds = time.perf_counter() - t0
    return ev


def rank_metrics(qid, dist, rank, score, count=None) -> tuple[float | None, float | None]:
    """Mean rank among irrelevant documents and MAP over ancestors (module docstring).

    Every relevant pair takes part in the ranking; only pairs with ``count`` are averaged.
    """
    # relevant documents of the query scoring >= this one, itself and ties included (ties count
    # against the pair, as in `rank`), with the pairs in that sorted order
    order, within, _ = at_or_above(qid, score)
    q, r, t, s = qid[order], rank[order], dist[order], score[order]
    counted = np.ones(len(q), dtype=bool) if count is None else count[order]
    self_score = np.full(int(q.max()) + 1, -np.inf)
    self_score[q[t == 0]] = s[t == 0]
    anc = (t > 0) & counted
    if not anc.any():
        return None, None
    # irrelevant documents at or above the pair = rank - relevant ones at or above it
    mean_rank = float(np.mean(r[anc] - within[anc] + 1))
    # MAP: drop the query itself from the candidates (and from the relevant list)
    above = (self_score[q] >= s).astype(np.int64)
    prec = (within - above)[anc] / (r - above)[anc]
    per_q = np.bincount(q[anc], weights=prec)
    n_q = np.bincount(q[anc])
    has = n_q > 0
    return mean_rank, float(np.mean(per_q[has] / n_q[has]))


def query_report(q_vecs: np.ndarray, d_vecs: np.ndarray, closure: Closure, query: int, k: int = 20):
    """What the query inspector shows for one query.

    Returns ``(top, ancestors)``: ``top`` has the k best documents (rank, doc, score,
    relevant, distance); ``ancestors`` has every relevant document (doc, distance, rank,
    score, hit), where hit means rank <= |S(q)| (recall@auto).
    """
    import torch

    s = torch.from_numpy(d_vecs.astype(np.float32, copy=False)) @ torch.from_numpy(q_vecs[query].astype(np.float32))
    s = s.numpy()
    docs, dist = closure.of(query)
    rel = dict(zip(docs.tolist(), dist.tolist()))
    k = min(k, len(s))
    top = np.argsort(-s, kind="stable")[:k]
    top_df = pd.DataFrame({
        "rank": np.arange(1, k + 1),
        "doc": top,
        "score": s[top],
        "relevant": [int(t) in rel for t in top],
        "distance": pd.array([rel.get(int(t)) for t in top], dtype="Int64"),
    })
    rank = np.array([int((s >= s[a]).sum()) for a in docs])
    anc_df = pd.DataFrame({"doc": docs, "distance": dist, "rank": rank, "score": s[docs],
                           "hit": rank <= len(docs)})
    return top_df, anc_df
