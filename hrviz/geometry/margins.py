"""Margins and recall of query/document vectors on a hierarchy's closure.

For query vectors q_i, document vectors x_j and scores s(i, j) = q_i . x_j:

- ``margin`` (global, one threshold): min over relevant pairs of s minus max over irrelevant
  pairs of s, over all queries; ``separated`` = margin > 0. ``threshold`` is the midpoint of
  the gap when there is one, else the histogram edge of least balanced error.
- ``query_margin`` (per query): its smallest relevant score minus its largest irrelevant one;
  ``query_separated`` is the fraction of queries whose margin is > 0 (a per-query threshold).
- ``recall``: recall@auto (k = |S(q)| for each query), pooled over all relevant pairs
  (docs/science-notes.md, Definitions). A relevant pair is a hit when fewer than k OTHER documents score
  >= it: ties count against the pair, as in :mod:`hrviz.evaluate`.

Scores are computed in chunks of queries (one matrix product per chunk, relevant pairs masked
through the closure CSR), so memory is O(chunk x documents), never O(queries x documents).
Hierarchies larger than ``max_exact`` nodes are evaluated on a seeded sample of queries against
ALL documents; the report's ``sampled_queries`` says how many (None when every query was used).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import InputError
from ..closure import Closure
from ..hierarchy import Hierarchy
from ..sparse import at_or_above, expand_rows
from .construction import construct

MAX_EXACT = 20_000  # evaluate every query up to this many nodes, sample above
SAMPLE_QUERIES = 2_000  # how many queries a sampled evaluation uses
CHUNK_ELEMENTS = 16_000_000  # scores per chunk (64 MB of float32)
MAX_CHUNK = 2_048  # at most this many queries per chunk


@dataclass
class MarginReport:
    """Margins and recall of one set of query/document vectors on a hierarchy's closure."""

    margin: float  # global: min relevant score - max irrelevant score (inf when nothing is irrelevant)
    min_relevant: float
    max_irrelevant: float
    separated: bool  # margin > 0: one threshold separates every relevant from every irrelevant pair
    threshold: float  # the best single threshold (midpoint when separated, else balanced-error optimum)
    query_margin: np.ndarray  # per evaluated query
    query_separated: float  # fraction of evaluated queries with margin > 0
    recall: float  # recall@auto pooled over relevant pairs (nan when recall was skipped)
    recall_by_distance: dict[int, float]
    queries: int  # evaluated queries
    docs: int
    pairs: int  # evaluated relevant pairs
    sampled_queries: int | None  # number of sampled queries, None when all were evaluated
    early_exit: bool = False  # stopped once separation had failed (margin is then an upper bound)
    histogram: dict | None = None  # {"edges", "relevant", "irrelevant"} counts of scores
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)

    def summary(self) -> dict:
        """JSON-ready numbers (inf/nan become None)."""

        def num(x: float):
            return None if not math.isfinite(x) else round(float(x), 6)

        qm = self.query_margin[np.isfinite(self.query_margin)]
        return {
            "margin": num(self.margin),
            "separated": bool(self.separated),
            "query_separated": num(self.query_separated),
            "recall": num(self.recall),
            "recall_by_distance": {str(k): round(v, 6) for k, v in sorted(self.recall_by_distance.items())},
            "threshold": num(self.threshold),
            "min_relevant": num(self.min_relevant),
            "max_irrelevant": num(self.max_irrelevant),
            "mean_query_margin": num(float(qm.mean())) if len(qm) else None,
            "queries": self.queries,
            "docs": self.docs,
            "pairs": self.pairs,
            "sampled_queries": self.sampled_queries,
            "seconds": round(self.seconds, 4),
        }


def histogram_frame(report: MarginReport):
    """The report's score histogram as a tidy frame: lo, hi, kind (relevant/irrelevant), count,
    share (fraction of that kind's pairs in the bin, so both kinds are visible on one axis)."""
    hist = report.histogram
    if hist is None:
        raise ValueError("the report has no histogram: evaluate with bins=...")
    edges = np.asarray(hist["edges"], dtype=float)
    frames = []
    for kind in ("relevant", "irrelevant"):
        counts = np.asarray(hist[kind], dtype=np.int64)
        frames.append(pd.DataFrame({
            "lo": edges[:-1], "hi": edges[1:], "kind": kind, "count": counts,
            "share": counts / max(int(counts.sum()), 1),
        }))
    return pd.concat(frames, ignore_index=True)


def chunk_size(n_docs: int, chunk: int | None = None) -> int:
    """Queries per chunk: at most MAX_CHUNK and at most CHUNK_ELEMENTS scores."""
    if chunk is not None:
        return max(1, int(chunk))
    return int(max(1, min(MAX_CHUNK, CHUNK_ELEMENTS // max(n_docs, 1))))



class _Histogram:
    """Counts of relevant and irrelevant scores in ``bins`` equal bins over [lo, hi]."""

    def __init__(self, bins: int, lo: float, hi: float):
        self.bins, self.lo, self.hi = bins, lo, hi
        self.scale = bins / (hi - lo)
        self.relevant = np.zeros(bins, dtype=np.int64)
        self.irrelevant = np.zeros(bins, dtype=np.int64)

    @classmethod
    def over(cls, q: np.ndarray, x: np.ndarray, bins: int, hist_range: tuple[float, float] | None):
        """A histogram over ``hist_range``; default +-max|q|*max|x|, which bounds every score."""
        if hist_range is None:
            bound = float(np.linalg.norm(q, axis=1).max() * np.linalg.norm(x, axis=1).max()) * 1.0001
            hist_range = (-bound, bound)
        return cls(bins, *hist_range)

    def _to_bins(self, v: np.ndarray) -> np.ndarray:
        """Bin indices, computed in place in v (float32 math, clipped into the range)."""
        v -= self.lo
        v *= self.scale
        np.clip(v, 0, self.bins - 0.5, out=v)
        return v.astype(np.int32).ravel()

    def add(self, rel: np.ndarray, s: np.ndarray) -> None:
        """Count a chunk: ``rel`` its relevant scores, ``s`` its score matrix with the relevant
        entries at -inf. ``s`` is overwritten by its bin indices (its last use); the -inf
        entries land in bin 0 and are taken out again."""
        self.relevant += np.bincount(self._to_bins(rel.copy()), minlength=self.bins)
        self.irrelevant += np.bincount(self._to_bins(s), minlength=self.bins)
        self.irrelevant[0] -= len(rel)

    def threshold(self, min_rel: float, max_irr: float) -> float:
        return _best_threshold(min_rel, max_irr, self.irrelevant, self.relevant, self.lo, self.hi)

    def as_dict(self) -> dict:
        return {"edges": np.linspace(self.lo, self.hi, self.bins + 1),
                "relevant": self.relevant, "irrelevant": self.irrelevant}


class _RecallByDistance:
    """Hits and relevant pairs of recall@auto, by distance, summed over chunks."""

    def __init__(self):
        self.hits = np.zeros(0, dtype=np.int64)
        self.pairs = np.zeros(0, dtype=np.int64)

    def add(self, s: np.ndarray, rel: np.ndarray, owner: np.ndarray, dist: np.ndarray, k: np.ndarray) -> None:
        """Count a chunk. ``s`` has its relevant entries at -inf and is partitioned in place.

        rel is in the top-k (k = |S(q)|) iff fewer than k OTHER documents score >= it. Split
        the count into irrelevant and relevant documents; only the k largest irrelevant scores
        can matter, so a partition suffices.
        """
        n_docs = s.shape[1]
        kmax = int(k.max())
        s.partition(n_docs - kmax, axis=1)
        top_irr = s[:, n_docs - kmax:]
        irr_above = (top_irr[owner] >= rel[:, None]).sum(axis=1)
        hit = _relevant_at_or_above(owner, rel) + irr_above < k[owner]
        width = int(dist.max()) + 1
        if width > len(self.pairs):
            self.hits = np.pad(self.hits, (0, width - len(self.hits)))
            self.pairs = np.pad(self.pairs, (0, width - len(self.pairs)))
        self.hits[:width] += np.bincount(dist, weights=hit, minlength=width).astype(np.int64)
        self.pairs[:width] += np.bincount(dist, minlength=width)

    def recall(self) -> float:
        return float(self.hits.sum() / self.pairs.sum()) if self.pairs.sum() else math.nan

    def by_distance(self) -> dict[int, float]:
        return {int(t): float(self.hits[t] / c) for t, c in enumerate(self.pairs) if c}


def _relevant_at_or_above(owner: np.ndarray, rel: np.ndarray) -> np.ndarray:
    """For each relevant pair, how many OTHER relevant docs of the same query score >= it."""
    order, count, _ = at_or_above(owner, rel)
    out = np.empty(len(rel), dtype=np.int64)
    out[order] = count - 1
    return out


@dataclass
class _Extremes:
    """Per-query and global extreme scores over the chunks scanned so far."""

    qmin_rel: np.ndarray  # per query: its smallest relevant score
    qmax_irr: np.ndarray  # per query: its largest irrelevant score
    min_rel: float = math.inf
    max_irr: float = -math.inf
    done: int = 0  # queries scanned

    def add(self, start: int, rel: np.ndarray, group_start: np.ndarray, s: np.ndarray) -> None:
        """A chunk from query ``start``: relevant scores ``rel`` grouped by query (groups begin at
        ``group_start``) and the score matrix ``s`` with its relevant entries at -inf."""
        end = start + len(group_start)
        self.qmin_rel[start:end] = np.minimum.reduceat(rel, group_start)
        self.qmax_irr[start:end] = s.max(axis=1)
        self.min_rel = min(self.min_rel, float(rel.min()))
        self.max_irr = max(self.max_irr, float(self.qmax_irr[start:end].max()))
        self.done = end

    def failed(self, stop: str | None, start: int) -> bool:
        """Whether ``stop``'s separation has failed for good (see :func:`margins`)."""
        if stop == "global":
            return self.max_irr >= self.min_rel
        if stop == "query":
            return bool((self.qmin_rel[start:self.done] <= self.qmax_irr[start:self.done]).any())
        return False


def _check_vectors(query_vectors, doc_vectors, queries) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(q, x, query ids) as float32/int64 arrays, with their shapes checked."""
    q = np.asarray(query_vectors, dtype=np.float32)
    x = np.asarray(doc_vectors, dtype=np.float32)
    qids = np.arange(len(q), dtype=np.int64) if queries is None else np.asarray(queries, dtype=np.int64)
    if len(qids) != len(q):
        raise InputError(f"{len(q)} query vectors for {len(qids)} query ids")
    if q.shape[1] != x.shape[1]:
        raise InputError(f"query dimension {q.shape[1]} != document dimension {x.shape[1]}")
    return q, x, qids


def margins(
    query_vectors: np.ndarray,
    doc_vectors: np.ndarray,
    closure: Closure,
    queries: np.ndarray | None = None,
    *,
    recall: bool = True,
    bins: int | None = None,
    hist_range: tuple[float, float] | None = None,
    stop: str | None = None,
    chunk: int | None = None,
    sampled: bool = False,
) -> MarginReport:
    """Margins (global and per query) and recall@auto of any query/doc vectors on ``closure``.

    Row i of ``query_vectors`` is query ``queries[i]`` (all nodes in order by default); scores
    are dot products against every document. ``bins`` adds a histogram of relevant and
    irrelevant scores over ``hist_range`` (default: +-max|q|*max|x|, which bounds every score).
    ``stop="global"`` stops after the first chunk where the global margin is <= 0 (the margin
    can only shrink as chunks are added, so separation has failed for good); ``stop="query"``
    stops after the first chunk with an unseparated query. These are the fast paths of
    :func:`~hrviz.geometry.search.min_dim`; per-query numbers then cover the chunks seen so far.
    """
    if stop not in (None, "global", "query"):
        raise InputError(f"unknown stop rule {stop!r}", hint="use None, global or query")
    t0 = time.perf_counter()
    q, x, qids = _check_vectors(query_vectors, doc_vectors, queries)
    sizes = np.diff(closure.ptr)[qids]
    step = chunk_size(len(x), chunk)
    hist = _Histogram.over(q, x, bins, hist_range) if bins else None
    counter = _RecallByDistance() if recall else None
    ext = _Extremes(np.full(len(qids), np.inf), np.full(len(qids), -np.inf))
    early = False
    for start in range(0, len(qids), step):
        ids, k = qids[start: start + step], sizes[start: start + step]
        s = q[start: start + step] @ x.T  # (c, n_docs)
        owner, at = expand_rows(closure.ptr, ids)
        docs = closure.doc[at].astype(np.int64)
        rel = s[owner, docs]
        s[owner, docs] = -np.inf  # only irrelevant scores remain
        ext.add(start, rel, np.concatenate(([0], np.cumsum(k)[:-1])), s)
        if counter is not None:
            counter.add(s, rel, owner, closure.distance[at], k)
        if hist is not None:
            hist.add(rel, s)
        if ext.done < len(qids) and ext.failed(stop, start):
            early = True
            break
    return _report(ext, hist, counter, n_docs=len(x), pairs=int(sizes[:ext.done].sum()),
                   sampled_queries=len(qids) if sampled else None, early=early,
                   seconds=time.perf_counter() - t0)


def _report(ext: _Extremes, hist: _Histogram | None, counter: _RecallByDistance | None, *,
            n_docs: int, pairs: int, sampled_queries: int | None, early: bool, seconds: float) -> MarginReport:
    """The :class:`MarginReport` of a finished (or stopped) scan."""
    done = ext.done
    qmargin = (ext.qmin_rel - ext.qmax_irr)[:done]
    min_rel, max_irr = ext.min_rel, ext.max_irr
    margin = min_rel - max_irr if math.isfinite(max_irr) else math.inf
    if hist is not None:
        threshold = hist.threshold(min_rel, max_irr)
    else:
        threshold = (min_rel + max_irr) / 2 if math.isfinite(max_irr) else min_rel
    return MarginReport(
        margin=float(margin),
        min_relevant=float(min_rel),
        max_irrelevant=float(max_irr),
        separated=bool(margin > 0),
        threshold=float(threshold),
        query_margin=qmargin,
        query_separated=float(np.mean(qmargin > 0)) if done else math.nan,
        recall=counter.recall() if counter is not None else math.nan,
        recall_by_distance=counter.by_distance() if counter is not None else {},
        queries=done,
        docs=n_docs,
        pairs=pairs,
        sampled_queries=sampled_queries,
        early_exit=early,
        histogram=hist.as_dict() if hist is not None else None,
        seconds=seconds,
    )


def _best_threshold(min_rel, max_irr, irr_hist, rel_hist, lo, hi) -> float:
    """One threshold for all pairs: the midpoint of the gap when there is one; otherwise the bin
    edge that minimises the balanced error (share of relevant pairs below + share of
    irrelevant pairs above), since irrelevant pairs outnumber relevant ones by far."""
    if not math.isfinite(max_irr):
        return float(min_rel)
    if min_rel > max_irr:
        return (min_rel + max_irr) / 2
    edges = np.linspace(lo, hi, len(rel_hist) + 1)
    below_rel = np.concatenate(([0], np.cumsum(rel_hist))) / max(rel_hist.sum(), 1)
    above_irr = 1 - np.concatenate(([0], np.cumsum(irr_hist))) / max(irr_hist.sum(), 1)
    return float(edges[int(np.argmin(below_rel + above_irr))])


def sample_queries(n: int, *, seed: int = 0, max_exact: int = MAX_EXACT, sample: int = SAMPLE_QUERIES):
    """All node ids when n <= max_exact, else a seeded sorted sample of ``sample`` ids (and True)."""
    if n <= max_exact:
        return np.arange(n, dtype=np.int64), False
    rng = np.random.default_rng([seed, 0x5A3])  # its own stream: independent of the vectors
    return np.sort(rng.choice(n, size=min(sample, n), replace=False)).astype(np.int64), True


def evaluate_construction(
    h: Hierarchy,
    dim: int,
    *,
    seed: int = 0,
    max_distance: int | None = None,
    max_exact: int = MAX_EXACT,
    sample: int = SAMPLE_QUERIES,
    recall: bool = True,
    bins: int | None = None,
    stop: str | None = None,
) -> MarginReport:
    """Build Algorithm 1's vectors for ``h`` and measure them (see :func:`margins`).

    Hierarchies with more than ``max_exact`` nodes are evaluated on ``sample`` seeded queries
    against all documents (``sampled_queries`` in the report).
    """
    t0 = time.perf_counter()
    qids, sampled = sample_queries(h.n, seed=seed, max_exact=max_exact, sample=sample)
    c = construct(h, dim, seed=seed, max_distance=max_distance, queries=qids)
    rep = margins(c.query_vectors, c.doc_vectors, h.closure(max_distance), qids, recall=recall,
                  bins=bins, hist_range=(-1.0, 1.0) if bins else None,
                  stop=stop, sampled=sampled)
    rep.seconds = time.perf_counter() - t0
    return rep
