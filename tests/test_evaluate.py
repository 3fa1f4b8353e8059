"""hrviz.evaluate: recall, mean rank and MAP on a hand-worked example and against brute force;
the query report."""

from __future__ import annotations

import numpy as np
import pytest

from hrviz.evaluate import evaluate, query_report
from hrviz.hierarchy import Hierarchy
from hrviz.sources import perfect_tree, random_dag


def chain_plus_leaf() -> Hierarchy:
    """r <- a <- b, and r <- c (ids r=0, a=1, b=2, c=3)."""
    return Hierarchy.from_names([("a", "r"), ("b", "a"), ("c", "r")], nodes=["r", "a", "b", "c"])


def hand_vectors():
    d = np.array([[3.0], [2.0], [1.0], [2.5]], dtype=np.float32)  # r, a, b, c
    q = np.ones((4, 1), dtype=np.float32)
    return q, d


def test_recall_auto_hand_worked():
    h = chain_plus_leaf()
    q, d = hand_vectors()
    ev = evaluate(q, d, h.closure())
    # q_a: r(3) c(2.5) a(2) -> a misses with k=2; q_b: r c a b -> b misses with k=3
    assert ev.hits == {0: 2, 1: 3, 2: 1}
    assert ev.pairs == {0: 4, 1: 3, 2: 1}
    assert ev.recall_by_distance == {0: 0.5, 1: 1.0, 2: 1.0}
    assert ev.overall == pytest.approx(6 / 8)
    assert ev.min == 0.5
    assert ev.mean_rank == pytest.approx(1.25)  # (a,r)=1 (b,a)=2 (b,r)=1 (c,r)=1
    assert ev.map == pytest.approx((1 + 5 / 6 + 1) / 3)


def test_recall_fixed_k_hand_worked():
    h = chain_plus_leaf()
    q, d = hand_vectors()
    ev = evaluate(q, d, h.closure(), k=1)
    assert ev.recall_by_distance == {0: 0.25, 1: pytest.approx(2 / 3), 2: 1.0}


def test_ties_count_against_the_pair():
    h = perfect_tree(3, 3)
    z = np.zeros((h.n, 4), dtype=np.float32)
    ev = evaluate(z, z, h.closure())
    assert ev.overall == 0.0  # every score equal: no credit
    # every irrelevant document ties with every ancestor: rank among irrelevant = all of them + 1
    c = h.closure()
    sizes = c.sizes()[c.query[c.distance > 0]]
    assert ev.mean_rank == pytest.approx(np.mean(h.n - sizes + 1))
    # each ancestor: precision = |ancestors| / (n - 1) with the query itself removed
    anc = c.sizes() - 1
    assert ev.map == pytest.approx(np.mean(anc[anc > 0] / (h.n - 1)))


def brute_force_eval(q, d, closure, k="auto"):
    n = d.shape[0]
    hits, pairs = {}, {}
    ranks_neg = []
    for i in range(n):
        docs, dist = closure.of(i)
        s = d @ q[i]
        kk = len(docs) if k == "auto" else k
        rel = set(docs.tolist())
        for a, t in zip(docs.tolist(), dist.tolist()):
            rank = 1 + sum(1 for y in range(n) if y != a and s[y] >= s[a])
            hits[t] = hits.get(t, 0) + (rank <= kk)
            pairs[t] = pairs.get(t, 0) + 1
            if t > 0:
                ranks_neg.append(1 + sum(1 for y in range(n) if y not in rel and s[y] >= s[a]))
    return hits, pairs, float(np.mean(ranks_neg))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_evaluate_matches_brute_force_on_random_dags(seed):
    h = random_dag(nodes=60, depth=4, parents=3, p_extra=0.5, seed=seed)
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((h.n, 3)).astype(np.float32)
    d = rng.standard_normal((h.n, 3)).astype(np.float32)
    for cap in (None, 2):
        c = h.closure(cap)
        # a chunk that splits the queries unevenly, threads over blocks of rows
        ev = evaluate(q, d, c, chunk=7)
        hits, pairs, mean_rank = brute_force_eval(q, d, c)
        assert ev.hits == hits and ev.pairs == pairs
        assert ev.mean_rank == pytest.approx(mean_rank)
        assert ev.overall == evaluate(q, d, c).overall  # the chunk never changes the answer
        ev3 = evaluate(q, d, c, k=3, ranks=False)
        assert ev3.hits == brute_force_eval(q, d, c, k=3)[0]


def test_query_report_marks_relevant_and_hits():
    h = chain_plus_leaf()
    q, d = hand_vectors()
    top, anc = query_report(q, d, h.closure(), h.id_of("b"), k=4)
    assert top["doc"].tolist() == [0, 3, 1, 2]
    assert top["relevant"].tolist() == [True, False, True, True]
    assert anc.set_index("doc")["hit"].to_dict() == {2: False, 1: True, 0: True}
    assert anc.set_index("doc")["rank"].to_dict() == {2: 4, 1: 3, 0: 1}
