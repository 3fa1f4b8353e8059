"""The geometry of hierarchical retrieval: the construction of Theorem 3.1 and its margin.

Theorem 3.1 of You et al. (NeurIPS 2025, science.md section 3): if every query has at most
s relevant documents among m, there are embeddings in d = O(max(s log m, log m / eps^2))
dimensions and ONE global threshold r such that every relevant pair scores >= r + eps and
every irrelevant pair <= r - eps. The proof is a construction (Algorithm 1):

    g_j ~ N(0, I_d) for every document j,       x_j = g_j / |g_j|
    q_i = sum_{j in S(q_i)} g_j / |sum_{j in S(q_i)} g_j|

where S(q) is q itself plus its ancestors (optionally only those within ``max_distance``).
Random Gaussian vectors are nearly orthogonal, so a relevant score is about 1/sqrt(|S(q)|)
and an irrelevant one about 0 +- 1/sqrt(d). For a perfect tree (s = H + 1, m ~ W^H) this
gives d = O(H^2 log W).

What this module measures, for a given hierarchy, d and seed:

- ``margin``: the global margin under one threshold, min over relevant pairs of the score
  minus max over irrelevant pairs of the score, over all queries. ``separated`` = margin > 0.
- ``query_margin``: per query, its smallest relevant score minus its largest irrelevant one;
  ``query_separated`` is the fraction of queries whose margin is > 0 (a per-query threshold).
- ``recall``: recall@auto (k = |S(q)| for each query), pooled over all relevant pairs
  (science.md section 7). Ties count against the pair, as in :mod:`hrviz.evaluate`.

Scores are computed in chunks of queries (one matrix product per chunk, relevant pairs masked
through the closure CSR), so memory is O(chunk x documents), never O(queries x documents).
Hierarchies larger than ``max_exact`` nodes are evaluated on a seeded sample of queries against
ALL documents; the report's ``sampled_queries`` says how many (None when every query was used).

:func:`min_dim` searches the smallest d at which the construction separates in at least 90%
of a number of seeded trials; :func:`learned_min_dim` does the same for a trained dual encoder
(recall@auto = 1.0). :func:`fit_slopes` fits the paper's two slopes.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from ..errors import InputError
from ..hierarchy import Closure, Hierarchy

# The paper's empirical slopes of the smallest working d (science.md section 3).
PAPER_SLOPE_H = 2.29  # log d against log H (W fixed); theory: 2
PAPER_SLOPE_LOGW = 16.5  # d against log W (H = 4); theory: H^2 = 16

MAX_EXACT = 20_000  # evaluate every query up to this many nodes, sample above
SAMPLE_QUERIES = 2_000  # how many queries a sampled evaluation uses
CHUNK_ELEMENTS = 16_000_000  # scores per chunk (64 MB of float32)
MAX_CHUNK = 2_048  # at most this many queries per chunk


# ----------------------------------------------------------------------------- construction
@dataclass(frozen=True)
class Construction:
    """Vectors of Algorithm 1. ``queries`` are row i of ``query_vectors`` (all nodes by default)."""

    query_vectors: np.ndarray  # (len(queries), d) float32, unit norm
    doc_vectors: np.ndarray  # (n, d) float32, unit norm
    queries: np.ndarray  # (len(queries),) int64 node ids
    dim: int
    seed: int
    max_distance: int | None


def gaussian_vectors(n: int, dim: int, seed: int) -> np.ndarray:
    """The raw g_j, (n, dim) float32, seeded.

    Drawn as a (dim, n) block and transposed, so with the same seed the vectors at d are the
    first d coordinates of those at d + 1: a search over d then compares nested draws, which
    makes separation far more regular in d than independent draws would.
    """
    if dim < 1:
        raise InputError(f"dimension must be >= 1, got {dim}", hint="e.g. --dim 64")
    rng = np.random.default_rng(seed)
    return rng.standard_normal((dim, n), dtype=np.float32).T  # a Fortran-order view: no copy


def _normalise(v: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(v, axis=1, keepdims=True)
    np.maximum(norm, np.finfo(np.float32).tiny, out=norm)
    return (v / norm).astype(np.float32, copy=False)


def relevance_matrix(closure: Closure, n: int, queries: np.ndarray | None = None) -> sp.csr_matrix:
    """Sparse 0/1 matrix, row i = the relevant set S(query i) (CSR straight from the closure)."""
    a = sp.csr_matrix((np.ones(closure.n_pairs, dtype=np.float32), closure.doc, closure.ptr), shape=(n, n))
    return a if queries is None else a[queries]


def construct(
    h: Hierarchy,
    dim: int,
    *,
    seed: int = 0,
    max_distance: int | None = None,
    queries: np.ndarray | None = None,
) -> Construction:
    """Algorithm 1 for hierarchy ``h`` in ``dim`` dimensions (see the module docstring).

    ``queries`` restricts the query vectors to those node ids (documents are always all nodes).
    The query sums are one sparse-by-dense product (relevance matrix @ G): no Python loop.
    """
    closure = h.closure(max_distance)
    g = gaussian_vectors(h.n, dim, seed)
    qids = np.arange(h.n, dtype=np.int64) if queries is None else np.asarray(queries, dtype=np.int64)
    sums = np.asarray(relevance_matrix(closure, h.n, qids) @ g, dtype=np.float32)
    return Construction(_normalise(sums), _normalise(g), qids, dim, seed, max_distance)


# ----------------------------------------------------------------------------- evaluation
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
    import pandas as pd

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


def _rows(closure: Closure, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(position in ids, doc, distance) of every relevant pair of the queries ``ids``, grouped by position."""
    starts = closure.ptr[ids]
    counts = closure.ptr[ids + 1] - starts
    owner = np.repeat(np.arange(len(ids)), counts)
    offsets = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    at = np.repeat(starts, counts) + offsets
    return owner, closure.doc[at].astype(np.int64), closure.distance[at]


def chunk_size(n_docs: int, chunk: int | None = None) -> int:
    """Queries per chunk: at most MAX_CHUNK and at most CHUNK_ELEMENTS scores."""
    if chunk is not None:
        return max(1, int(chunk))
    return int(max(1, min(MAX_CHUNK, CHUNK_ELEMENTS // max(n_docs, 1))))


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
    :func:`min_dim`; per-query numbers then cover the chunks seen so far.
    """
    if stop not in (None, "global", "query"):
        raise InputError(f"unknown stop rule {stop!r}", hint="use None, global or query")
    t0 = time.perf_counter()
    q = np.asarray(query_vectors, dtype=np.float32)
    x = np.asarray(doc_vectors, dtype=np.float32)
    n_docs = len(x)
    qids = np.arange(len(q), dtype=np.int64) if queries is None else np.asarray(queries, dtype=np.int64)
    if len(qids) != len(q):
        raise InputError(f"{len(q)} query vectors for {len(qids)} query ids")
    if q.shape[1] != x.shape[1]:
        raise InputError(f"query dimension {q.shape[1]} != document dimension {x.shape[1]}")
    sizes = np.diff(closure.ptr)[qids]
    step = chunk_size(n_docs, chunk)

    if bins:
        if hist_range is None:
            bound = float(np.linalg.norm(q, axis=1).max() * np.linalg.norm(x, axis=1).max()) * 1.0001
            hist_range = (-bound, bound)
        lo, hi = hist_range
        scale = bins / (hi - lo)
        hist_irr = np.zeros(bins, dtype=np.int64)
        hist_rel = np.zeros(bins, dtype=np.int64)

        def to_bins(v: np.ndarray) -> np.ndarray:
            """Bin indices, computed in place in v (float32 math, clipped into the range)."""
            v -= lo
            v *= scale
            np.clip(v, 0, bins - 0.5, out=v)
            return v.astype(np.int32).ravel()

    qmin_rel = np.full(len(qids), np.inf, dtype=np.float64)
    qmax_irr = np.full(len(qids), -np.inf, dtype=np.float64)
    min_rel, max_irr = np.inf, -np.inf
    hit_by_dist = np.zeros(0, dtype=np.int64)
    pairs_by_dist = np.zeros(0, dtype=np.int64)
    done = 0
    early = False
    for start in range(0, len(qids), step):
        ids = qids[start: start + step]
        k = sizes[start: start + step]
        s = q[start: start + step] @ x.T  # (c, n_docs)
        owner, docs, dist = _rows(closure, ids)
        rel = s[owner, docs]
        group_start = np.concatenate(([0], np.cumsum(k)[:-1]))
        qmin_rel[start: start + len(ids)] = np.minimum.reduceat(rel, group_start)
        s[owner, docs] = -np.inf  # only irrelevant scores remain
        row_max = s.max(axis=1)
        qmax_irr[start: start + len(ids)] = row_max
        min_rel = min(min_rel, float(rel.min()))
        max_irr = max(max_irr, float(row_max.max()))
        done = start + len(ids)
        if recall:
            # rel is in the top-k (k = |S(q)|) iff fewer than k OTHER documents score >= it
            # (ties count against the pair, as in hrviz.evaluate). Split the count into
            # irrelevant and relevant documents; only the k largest irrelevant scores can
            # matter, so a partition suffices.
            kmax = int(k.max())
            s.partition(n_docs - kmax, axis=1)  # in place: s is not needed after this
            top_irr = s[:, n_docs - kmax:]
            irr_above = (top_irr[owner] >= rel[:, None]).sum(axis=1)
            hit = _relevant_at_or_above(owner, rel, group_start) + irr_above < k[owner]
            width = int(dist.max()) + 1
            if width > len(pairs_by_dist):
                hit_by_dist = np.pad(hit_by_dist, (0, width - len(hit_by_dist)))
                pairs_by_dist = np.pad(pairs_by_dist, (0, width - len(pairs_by_dist)))
            hit_by_dist[:width] += np.bincount(dist, weights=hit, minlength=width).astype(np.int64)
            pairs_by_dist[:width] += np.bincount(dist, minlength=width)
        if bins:  # last use of s: it is overwritten by its bin indices (relevant -inf land in bin 0)
            hist_rel += np.bincount(to_bins(rel.copy()), minlength=bins)
            hist_irr += np.bincount(to_bins(s), minlength=bins)
            hist_irr[0] -= len(rel)
        if done < len(qids) and (
            (stop == "global" and max_irr >= min_rel)
            or (stop == "query" and bool((qmin_rel[start:done] <= qmax_irr[start:done]).any()))
        ):
            early = True
            break

    qmargin = (qmin_rel - qmax_irr)[:done]
    margin = min_rel - max_irr if math.isfinite(max_irr) else math.inf
    separated = bool(margin > 0)
    threshold = _best_threshold(min_rel, max_irr, hist_irr, hist_rel, lo, hi) if bins else (
        (min_rel + max_irr) / 2 if math.isfinite(max_irr) else min_rel)
    histogram = None
    if bins:
        histogram = {"edges": np.linspace(lo, hi, bins + 1), "relevant": hist_rel, "irrelevant": hist_irr}
    n_pairs = int(sizes[:done].sum())
    return MarginReport(
        margin=float(margin),
        min_relevant=float(min_rel),
        max_irrelevant=float(max_irr),
        separated=separated,
        threshold=float(threshold),
        query_margin=qmargin,
        query_separated=float(np.mean(qmargin > 0)) if done else math.nan,
        recall=float(hit_by_dist.sum() / pairs_by_dist.sum()) if recall and pairs_by_dist.sum() else math.nan,
        recall_by_distance={int(t): float(hit_by_dist[t] / c) for t, c in enumerate(pairs_by_dist) if c},
        queries=done,
        docs=n_docs,
        pairs=n_pairs,
        sampled_queries=len(qids) if sampled else None,
        early_exit=early,
        histogram=histogram,
        seconds=time.perf_counter() - t0,
    )


def _relevant_at_or_above(owner: np.ndarray, rel: np.ndarray, group_start: np.ndarray) -> np.ndarray:
    """For each relevant pair, how many OTHER relevant docs of the same query score >= it.

    Sort each query's scores in decreasing order; a pair then has every element of its group up
    to the end of its run of equal scores at or above it (itself excluded).
    """
    order = np.lexsort((-rel, owner))
    o, r = owner[order], rel[order]
    last = np.concatenate(((o[1:] != o[:-1]) | (r[1:] != r[:-1]), [True]))
    run_end = np.flatnonzero(last)
    run_id = np.cumsum(np.concatenate(([0], last[:-1])))
    out = np.empty(len(rel), dtype=np.int64)
    out[order] = run_end[run_id] - group_start[o]
    return out


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


# ----------------------------------------------------------------------------- smallest d
CRITERIA = ("global", "query")


def _check_criterion(criterion: str) -> None:
    if criterion not in CRITERIA:
        raise InputError(f"unknown criterion {criterion!r}", hint="use global or query")

@dataclass
class MinDimResult:
    """Outcome of a smallest-d search. ``tested`` maps each d tried to whether it passed."""

    min_dim: int
    tested: dict[int, bool]
    trials: int
    seed: int
    criterion: str
    seconds: float
    details: dict = field(default_factory=dict)

    def summary(self) -> dict:
        return {
            "min_dim": self.min_dim,
            "trials": self.trials,
            "seed": self.seed,
            "criterion": self.criterion,
            "tested": {str(d): ok for d, ok in sorted(self.tested.items())},
            "seconds": round(self.seconds, 3),
            **self.details,
        }


def search_min_dim(passes, *, start: int = 1, max_dim: int = 8192) -> tuple[int, dict[int, bool]]:
    """Smallest d with ``passes(d)``: doubling from ``start``, then bisection.

    Doubling finds a failing lo and a passing hi = 2 lo; bisection narrows (lo, hi] down to
    hi = lo + 1. This is exact when ``passes`` is monotone in d. Separation of the construction
    is monotone only in expectation (the margin's noise shrinks like 1/sqrt(d)); for any fixed
    seeds the result is a boundary that was actually observed: passes(min_dim) is True and
    passes(min_dim - 1) is False (unless min_dim == start).
    """
    if start < 1 or max_dim < start:
        raise InputError(f"bad search range start={start}, max_dim={max_dim}", hint="need 1 <= start <= max_dim")
    tested: dict[int, bool] = {}

    def test(d: int) -> bool:
        if d not in tested:
            tested[d] = bool(passes(d))
        return tested[d]

    lo, hi = start - 1, start
    while not test(hi):
        if hi >= max_dim:
            raise InputError(f"no dimension up to {max_dim} works", hint="raise --max-dim")
        lo, hi = hi, min(2 * hi, max_dim)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if test(mid):
            hi = mid
        else:
            lo = mid
    return hi, tested


def separation_passes(
    h: Hierarchy,
    dim: int,
    *,
    trials: int = 10,
    seed: int = 0,
    max_distance: int | None = None,
    success: float = 0.9,
    max_exact: int = MAX_EXACT,
    sample: int = SAMPLE_QUERIES,
    criterion: str = "global",
) -> bool:
    """True when the construction separates for >= ``success`` of the seeds seed..seed+trials-1.

    ``criterion="global"``: one threshold for all pairs (global margin > 0), Theorem 3.1's claim.
    ``criterion="query"``: every query separated on its own (per-query margin > 0, which is
    recall@auto = 1.0), the weaker property retrieval needs. Stops as soon as the outcome is decided.
    """
    _check_criterion(criterion)
    need = math.ceil(success * trials - 1e-9)
    ok = bad = 0
    for s in range(seed, seed + trials):
        rep = evaluate_construction(h, dim, seed=s, max_distance=max_distance, max_exact=max_exact,
                                    sample=sample, recall=False, stop=criterion)
        good = rep.separated if criterion == "global" else bool(rep.query_separated == 1.0 and not rep.early_exit)
        ok += good
        bad += not good
        if ok >= need:
            return True
        if bad > trials - need:
            return False
    return ok >= need


def min_dim(
    h: Hierarchy,
    *,
    trials: int = 10,
    seed: int = 0,
    max_distance: int | None = None,
    success: float = 0.9,
    start: int = 1,
    max_dim: int = 8192,
    max_exact: int = MAX_EXACT,
    sample: int = SAMPLE_QUERIES,
    criterion: str = "global",
) -> MinDimResult:
    """Smallest d at which the construction separates in >= 90% (``success``) of ``trials``
    seeded trials (seeds seed..seed+trials-1), by doubling then bisection (:func:`search_min_dim`).
    ``criterion``: "global" (one threshold, the default) or "query" (see :func:`separation_passes`)."""
    _check_criterion(criterion)
    if trials < 1:
        raise InputError(f"trials must be >= 1, got {trials}", hint="e.g. --trials 10")
    if not 0 < success <= 1:
        raise InputError(f"success must be in (0, 1], got {success}")
    t0 = time.perf_counter()
    d, tested = search_min_dim(
        lambda dim: separation_passes(h, dim, trials=trials, seed=seed, max_distance=max_distance,
                                      success=success, max_exact=max_exact, sample=sample,
                                      criterion=criterion),
        start=start, max_dim=max_dim)
    what = "global margin > 0" if criterion == "global" else "every query separated"
    return MinDimResult(d, tested, trials, seed, f"{what} in >= {success:.0%} of trials",
                        time.perf_counter() - t0, {"sampled_queries": sample if h.n > max_exact else None})


def learned_min_dim(
    h: Hierarchy,
    *,
    recipe: str = "pretrain-finetune",
    seed: int = 0,
    trials: int = 1,
    max_distance: int | None = None,
    target: float = 1.0,
    start: int = 1,
    max_dim: int = 256,
    config: dict | None = None,
    on_fit=None,
) -> MinDimResult:
    """Smallest d at which a TRAINED dual encoder reaches recall@auto >= ``target`` (default 1.0).

    Each d trains ``trials`` models (seeds seed..seed+trials-1) with ``hrviz.training.fit`` and
    passes when all of them reach the target (with one trial: that one). The same doubling and
    bisection as :func:`min_dim`; training is not monotone in d either, so the result is an
    observed boundary (passes at min_dim, fails at min_dim - 1). ``config`` adds TrainConfig
    fields; ``on_fit(dim, seed, overall)`` is called after every fit (progress).
    """
    from ..evaluate import evaluate
    from ..training import TrainConfig, fit

    if trials < 1:
        raise InputError(f"trials must be >= 1, got {trials}", hint="e.g. --trials 1")
    t0 = time.perf_counter()
    recalls: dict[int, list[float]] = {}
    closure = h.closure(max_distance)
    extra = dict(config or {})
    if max_distance is not None:
        extra.setdefault("max_distance", max_distance)

    def passes(dim: int) -> bool:
        got = recalls.setdefault(dim, [])
        for s in range(seed, seed + trials):
            result = fit(h, TrainConfig(dim=dim, recipe=recipe, seed=s, **extra))
            ev = evaluate(result.model.query_vectors(), result.model.doc_vectors(), closure)
            got.append(float(ev.overall))
            if on_fit is not None:
                on_fit(dim, s, float(ev.overall))
            if ev.overall < target - 1e-9:
                return False
        return True

    import torch

    threads = torch.get_num_threads()  # fit() may set it from config: leave the process as it was
    try:
        d, tested = search_min_dim(passes, start=start, max_dim=max_dim)
    finally:
        torch.set_num_threads(threads)
    return MinDimResult(d, tested, trials, seed, f"recall@auto >= {target:g} ({recipe})",
                        time.perf_counter() - t0,
                        {"recipe": recipe, "recall": {str(k): v for k, v in sorted(recalls.items())}})


def predicted_min_dim(h: Hierarchy, max_distance: int | None = None) -> float:
    """A back-of-envelope d for the construction with explicit constants (not the theorem's O()).

    With s = the largest |S(q)|, a relevant score is about 1/sqrt(s) + N(0, (s-1)/(s d)) and an
    irrelevant one about N(0, 1/d). One threshold works when the lowest relevant score beats the
    highest irrelevant one; with Gaussian maxima sqrt(2 ln N) over N pairs that is

        d ~ s * (sqrt(2 ln N_irrelevant) + sqrt((s-1)/s * 2 ln N_relevant))^2

    For a perfect tree ln N_irrelevant ~ 2 H ln W, so d ~ 4 H (H+1) ln W + lower-order terms:
    the O(H^2 log W) of the theorem with a constant of about 4 and an additive part.
    """
    c = h.closure(max_distance)
    s = int(c.sizes().max())
    n_rel = c.n_pairs
    n_irr = max(h.n * h.n - n_rel, 1)
    z_irr = math.sqrt(2 * math.log(max(n_irr, 2)))
    z_rel = math.sqrt((s - 1) / s * 2 * math.log(max(n_rel, 2)))
    return s * (z_irr + z_rel) ** 2


# ----------------------------------------------------------------------------- fits
def fit_line(x, y) -> tuple[float, float]:
    """Least-squares (slope, intercept) of y against x."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if len(x) < 2 or np.ptp(x) == 0:
        return math.nan, math.nan
    slope, intercept = np.polyfit(x, y, 1)
    return float(slope), float(intercept)


def slope_log_h(heights, dims) -> float:
    """Slope of log d against log H (theory 2, the paper measured 2.29)."""
    return fit_line(np.log(heights), np.log(dims))[0]


def slope_log_w(widths, dims) -> float:
    """Slope of d against ln W at fixed H (theory H^2, the paper measured 16.5 at H = 4)."""
    return fit_line(np.log(widths), dims)[0]


def theory_scale(heights, widths, dims) -> float:
    """c of the least-squares fit d ~ c * H^2 * ln W (the O(H^2 log W) shape, scaled)."""
    t = np.asarray(heights, dtype=float) ** 2 * np.log(np.asarray(widths, dtype=float))
    d = np.asarray(dims, dtype=float)
    return float((t * d).sum() / (t * t).sum())


def theory_curve(heights, widths, c: float) -> np.ndarray:
    """c * H^2 * ln W for each (H, W)."""
    return c * np.asarray(heights, dtype=float) ** 2 * np.log(np.asarray(widths, dtype=float))


# ----------------------------------------------------------------------------- the dimension study
STUDY_COLUMNS = ["study", "source", "H", "W", "nodes", "method", "group", "seed", "trials", "min_dim", "seconds"]


def study(
    *,
    heights=(2, 3, 4, 5),
    width_fixed: int = 2,
    widths=(2, 3, 4, 5),
    height_fixed: int = 4,
    dags: tuple[str, ...] = (),
    trials: int = 5,
    groups: int = 1,
    seed: int = 0,
    criteria: tuple[str, ...] = ("global",),
    on_row=None,
) -> list[dict]:
    """Smallest working d of the construction for a grid of hierarchies.

    Study "H": perfect trees with W = ``width_fixed`` and H in ``heights``; study "W": H =
    ``height_fixed`` and W in ``widths``; study "dag": the SOURCE strings in ``dags``. Each
    point is searched ``groups`` times with disjoint seeds (group g uses seed + 1000 g ..
    + trials - 1), so a slope can be fitted per group and its spread reported. One row per
    (hierarchy, criterion, group), columns :data:`STUDY_COLUMNS`; ``on_row(row)`` is called as
    each row is done.
    """
    from ..sources import load_source, perfect_tree

    plan: list[tuple[str, Hierarchy, int | None, int | None]] = []
    plan += [("H", perfect_tree(H, width_fixed), H, width_fixed) for H in heights]
    plan += [("W", perfect_tree(height_fixed, W), height_fixed, W) for W in widths]
    plan += [("dag", load_source(spec), None, None) for spec in dags]
    rows = []
    for kind, h, H, W in plan:
        for criterion in criteria:
            for g in range(groups):
                s = seed + 1000 * g
                res = min_dim(h, trials=trials, seed=s, criterion=criterion)
                row = {"study": kind, "source": h.source, "H": H, "W": W, "nodes": h.n,
                       "method": f"construction-{criterion}", "group": g, "seed": s, "trials": trials,
                       "min_dim": res.min_dim, "seconds": round(res.seconds, 3)}
                rows.append(row)
                if on_row is not None:
                    on_row(row)
    return rows


def fit_study(frame, *, boot: int = 1000, seed: int = 0) -> list[dict]:
    """The paper's two slopes from study rows (a pandas frame with :data:`STUDY_COLUMNS`).

    For each method: study "H" gives the slope of log d against log H, study "W" the slope of d
    against ln W. ``slope`` fits the mean over groups; ``group_mean``/``group_std``/``group_min``/
    ``group_max`` summarise one fit per seed group; ``ci_lo``/``ci_hi`` is a 95% bootstrap over
    groups (resampled with replacement, ``boot`` times, seeded). ``scale`` is c of the
    least-squares d ~ c * H^2 * ln W on the group means. Rows with min_dim <= 0 are ignored.
    """
    out = []
    frame = frame[frame["min_dim"] > 0]  # -1 marks a search that found no d
    for (kind, method), part in frame.groupby(["study", "method"], sort=True):
        if kind not in ("H", "W"):
            continue
        x = "H" if kind == "H" else "W"
        fit = slope_log_h if kind == "H" else slope_log_w
        wide = part.pivot_table(index="group", columns=x, values="min_dim", aggfunc="mean").dropna(axis=1)
        if wide.shape[1] < 2:
            continue
        xs = wide.columns.to_numpy(dtype=float)
        per_group = np.array([fit(xs, row) for row in wide.to_numpy(dtype=float)])
        mean_curve = wide.to_numpy(dtype=float).mean(axis=0)
        rng = np.random.default_rng(seed)
        picks = rng.integers(0, len(wide), size=(boot, len(wide)))
        boots = np.array([fit(xs, wide.to_numpy(dtype=float)[p].mean(axis=0)) for p in picks])
        fixed = part["W" if kind == "H" else "H"].iloc[0]
        hs = xs if kind == "H" else np.full(len(xs), fixed)
        ws = xs if kind == "W" else np.full(len(xs), fixed)
        out.append({
            "study": kind, "method": method, "fixed": int(fixed), "x": [int(v) for v in xs],
            "min_dim_mean": [float(v) for v in mean_curve],
            "slope": fit(xs, mean_curve),
            "groups": int(len(wide)),
            "group_mean": float(per_group.mean()), "group_std": float(per_group.std(ddof=1)) if len(wide) > 1 else math.nan,
            "group_min": float(per_group.min()), "group_max": float(per_group.max()),
            "ci_lo": float(np.percentile(boots, 2.5)), "ci_hi": float(np.percentile(boots, 97.5)),
            "scale": theory_scale(hs, ws, mean_curve),
            "paper": PAPER_SLOPE_H if kind == "H" else PAPER_SLOPE_LOGW,
            "theory": 2.0 if kind == "H" else float(fixed) ** 2,
        })
    return out
