"""Tests of the construction of Theorem 3.1, its margins, the smallest-d search, the geometry
CLI and the geometry chart builders (hrviz/geometry/, hrviz/cli/geometry.py, hrviz/charts/geometry.py)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from hrviz import geometry
from hrviz.charts.geometry import min_dim_chart, min_dim_points, score_histogram_chart, theory_frame
from hrviz.cli import main
from hrviz.errors import InputError
from hrviz.evaluate import evaluate
from hrviz.hierarchy import Hierarchy
from hrviz.sources import load_source, perfect_tree, random_dag


# ----------------------------------------------------------------------------- brute force
def brute_force(q: np.ndarray, x: np.ndarray, h: Hierarchy, max_distance=None):
    """Every (query, doc) score and relevance, the definitions written out literally."""
    n = h.n
    s = q.astype(np.float64) @ x.astype(np.float64).T
    rel = np.zeros((n, n), dtype=bool)
    for i in range(n):
        for a in h.ancestors(i, max_distance):
            rel[i, a] = True
    qmargin = np.array([s[i, rel[i]].min() - (s[i, ~rel[i]].max() if (~rel[i]).any() else -np.inf)
                        for i in range(n)])
    hits = pairs = 0
    for i in range(n):
        k = rel[i].sum()
        for a in np.flatnonzero(rel[i]):
            others = np.delete(s[i], a)
            hits += int((others >= s[i, a]).sum() < k)  # ties count against the pair
            pairs += 1
    return {"margin": s[rel].min() - s[~rel].max(), "query_margin": qmargin, "recall": hits / pairs,
            "min_relevant": s[rel].min(), "max_irrelevant": s[~rel].max()}


def chain_and_root() -> Hierarchy:
    """b -> a (b's parent is a), and c alone: relevant pairs aa, bb, ba, cc."""
    return Hierarchy.from_names([("b", "a")], nodes=["a", "b", "c"])


def test_hand_checked_margin():
    h = chain_and_root()
    ids = [h.id_of(v) for v in "abc"]
    x = np.zeros((3, 2), np.float32)
    q = np.zeros((3, 2), np.float32)
    x[ids] = [[1, 0], [0.6, 0.8], [0, 1]]
    q[ids] = [[1, 0], [0.8, 0.6], [0, 1]]
    # scores (query row, doc column), in order a, b, c:
    #   a: 1.0   0.6   0       relevant: a          -> margin 1.0 - 0.6 = 0.4
    #   b: 0.8   0.96  0.6     relevant: a, b       -> margin 0.8 - 0.6 = 0.2
    #   c: 0     0.8   1.0     relevant: c          -> margin 1.0 - 0.8 = 0.2
    # global: min relevant 0.8 (b,a) - max irrelevant 0.8 (c,b) = 0 -> not separated
    rep = geometry.margins(q, x, h.closure(), chunk=2)
    assert rep.min_relevant == pytest.approx(0.8)
    assert rep.max_irrelevant == pytest.approx(0.8)
    assert rep.margin == pytest.approx(0.0, abs=1e-6)
    assert not rep.separated
    assert rep.query_margin[ids] == pytest.approx([0.4, 0.2, 0.2], abs=1e-6)
    assert rep.query_separated == 1.0
    assert rep.recall == 1.0 and rep.pairs == 4


@pytest.mark.parametrize("source,dim,max_distance,chunk", [
    ("tree:H=3,W=3", 3, None, 4),
    ("tree:H=4,W=2", 8, 1, 5),
    ("dag:n=60,depth=4,parents=3,p=0.5,seed=2", 6, None, 7),
    ("dag:n=60,depth=4,parents=3,p=0.5,seed=2", 1, 2, 1000),  # d=1: scores are +-1, all ties
])
def test_margins_equal_brute_force(source, dim, max_distance, chunk):
    h = load_source(source)
    c = geometry.construct(h, dim, seed=5, max_distance=max_distance)
    rep = geometry.margins(c.query_vectors, c.doc_vectors, h.closure(max_distance), chunk=chunk, bins=50)
    bf = brute_force(c.query_vectors, c.doc_vectors, h, max_distance)
    assert rep.margin == pytest.approx(bf["margin"], abs=1e-5)
    assert rep.min_relevant == pytest.approx(bf["min_relevant"], abs=1e-5)
    assert rep.max_irrelevant == pytest.approx(bf["max_irrelevant"], abs=1e-5)
    np.testing.assert_allclose(rep.query_margin, bf["query_margin"], atol=1e-5)
    assert rep.query_separated == pytest.approx(np.mean(bf["query_margin"] > 0))
    assert rep.recall == pytest.approx(bf["recall"])
    # and the project's evaluator agrees on recall@auto, distance by distance
    ev = evaluate(c.query_vectors, c.doc_vectors, h.closure(max_distance), ranks=False)
    assert rep.recall == pytest.approx(ev.overall)
    assert rep.recall_by_distance == pytest.approx(ev.recall_by_distance)
    # the histogram holds every pair exactly once
    n_pairs = h.closure(max_distance).n_pairs
    assert rep.histogram["relevant"].sum() == n_pairs
    assert rep.histogram["irrelevant"].sum() == h.n * h.n - n_pairs


def test_construction_is_algorithm_1():
    h = random_dag(40, 3, parents=2, p_extra=0.6, seed=1)
    dim, seed = 7, 3
    c = geometry.construct(h, dim, seed=seed, max_distance=1)
    g = geometry.gaussian_vectors(h.n, dim, seed)
    for i in range(h.n):
        docs = list(h.ancestors(i, 1))  # itself and its parents
        want = g[docs].sum(axis=0)
        np.testing.assert_allclose(c.query_vectors[i], want / np.linalg.norm(want), atol=1e-5)
        np.testing.assert_allclose(c.doc_vectors[i], g[i] / np.linalg.norm(g[i]), atol=1e-5)


def test_same_seed_same_vectors_and_nested_dims():
    h = perfect_tree(4, 3)
    a = geometry.construct(h, 16, seed=4)
    b = geometry.construct(h, 16, seed=4)
    other = geometry.construct(h, 16, seed=5)
    np.testing.assert_array_equal(a.query_vectors, b.query_vectors)
    np.testing.assert_array_equal(a.doc_vectors, b.doc_vectors)
    assert not np.allclose(a.doc_vectors, other.doc_vectors)
    # with one seed, the raw vectors at d are the first d coordinates of those at d + 1
    np.testing.assert_array_equal(geometry.gaussian_vectors(40, 16, 4), geometry.gaussian_vectors(40, 17, 4)[:, :16])


def test_large_dimension_separates_small_does_not():
    h = load_source("tree:H=4,W=3")
    for seed in range(3):
        rep = geometry.evaluate_construction(h, 256, seed=seed)
        assert rep.separated and rep.margin > 0
        assert rep.recall == 1.0 and rep.query_separated == 1.0
        assert 0.0 < rep.threshold < 1.0
        assert rep.max_irrelevant < rep.threshold < rep.min_relevant
    big = load_source("tree:H=4,W=5")
    rep = geometry.evaluate_construction(big, 2, seed=0)
    assert not rep.separated and rep.margin < 0
    assert rep.recall < 0.5 and rep.query_separated < 0.5


def test_max_distance_changes_what_is_relevant():
    h = perfect_tree(5, 2)
    full = geometry.evaluate_construction(h, 64, seed=0)
    capped = geometry.evaluate_construction(h, 64, seed=0, max_distance=1)
    assert full.pairs == h.closure().n_pairs and capped.pairs == h.closure(1).n_pairs < full.pairs
    assert set(capped.recall_by_distance) == {0, 1}
    # fewer relevant documents per query: relevant scores rise (1/sqrt(s)), so the margin grows
    assert capped.min_relevant > full.min_relevant


def test_sampled_queries_match_the_full_evaluation():
    h = load_source("dag:n=400,depth=5,parents=2,seed=3")
    full = geometry.evaluate_construction(h, 32, seed=1, max_exact=10_000)
    part = geometry.evaluate_construction(h, 32, seed=1, max_exact=100, sample=60)
    assert full.sampled_queries is None and full.queries == 400
    assert part.sampled_queries == 60 and part.queries == 60 and part.docs == 400
    qids, sampled = geometry.sample_queries(400, seed=1, max_exact=100, sample=60)
    assert sampled and len(np.unique(qids)) == 60
    np.testing.assert_allclose(part.query_margin, full.query_margin[qids], atol=1e-5)
    assert part.summary()["sampled_queries"] == 60


def test_early_exit_keeps_a_failed_verdict():
    h = perfect_tree(6, 3)  # 364 nodes, chunks of 50
    q = geometry.construct(h, 8, seed=0)
    full = geometry.margins(q.query_vectors, q.doc_vectors, h.closure(), chunk=50)
    quick = geometry.margins(q.query_vectors, q.doc_vectors, h.closure(), chunk=50, stop="global", recall=False)
    assert not full.separated and not quick.separated
    assert quick.early_exit and quick.queries < h.n
    assert quick.margin >= full.margin  # an upper bound of the true margin, still <= 0


# ----------------------------------------------------------------------------- smallest d
def test_search_min_dim_on_a_known_threshold():
    calls = []

    def passes(d):
        calls.append(d)
        return d >= 37

    d, tested = geometry.search_min_dim(passes)
    assert d == 37 and tested[37] and not tested[36]
    assert calls[:7] == [1, 2, 4, 8, 16, 32, 64]  # doubling, then bisection
    assert len(calls) == len(set(calls)) <= 13
    with pytest.raises(InputError):
        geometry.search_min_dim(lambda d: False, max_dim=100)


def test_min_dim_is_an_observed_boundary():
    h = perfect_tree(4, 2)
    res = geometry.min_dim(h, trials=5, seed=0)
    d = res.min_dim
    assert res.tested[d] and not res.tested[d - 1]
    # the same seeds reproduce both verdicts
    assert geometry.separation_passes(h, d, trials=5, seed=0)
    assert not geometry.separation_passes(h, d - 1, trials=5, seed=0)
    # one threshold for all pairs is stronger than one per query: the same seeds at d pass both
    assert geometry.separation_passes(h, d, trials=5, seed=0, criterion="query")
    # a deeper, wider tree needs more dimensions
    assert geometry.min_dim(perfect_tree(5, 3), trials=5, seed=0).min_dim > d
    assert geometry.min_dim(h, trials=5, seed=0).min_dim == d  # deterministic


def test_min_dim_bad_input():
    h = perfect_tree(3, 2)
    with pytest.raises(InputError):
        geometry.min_dim(h, trials=0)
    with pytest.raises(InputError):
        geometry.min_dim(h, criterion="nope")
    with pytest.raises(InputError):
        geometry.min_dim(h, max_dim=4)  # nothing that small works


# ----------------------------------------------------------------------------- fits
def test_fits_recover_known_slopes():
    hs = np.array([2, 3, 4, 5, 6])
    assert geometry.slope_log_h(hs, 3.0 * hs**2) == pytest.approx(2.0)
    ws = np.array([2, 3, 4, 5])
    assert geometry.slope_log_w(ws, 16 * np.log(ws) + 7) == pytest.approx(16.0)
    assert geometry.theory_scale(np.full(4, 4), ws, 5 * 16 * np.log(ws)) == pytest.approx(5.0)
    rows = []
    for g, noise in enumerate([1.0, 1.1, 0.9]):
        rows += [{"study": "H", "H": H, "W": 2, "method": "construction-global", "group": g,
                  "min_dim": noise * 4 * H**2 * math.log(2)} for H in hs]
        rows += [{"study": "W", "H": 4, "W": W, "method": "construction-global", "group": g,
                  "min_dim": noise * 4 * 16 * math.log(W)} for W in ws]
    fits = {f["study"]: f for f in geometry.fit_study(pd.DataFrame(rows), boot=50)}
    assert fits["H"]["slope"] == pytest.approx(2.0) and fits["H"]["group_std"] == pytest.approx(0, abs=1e-9)
    assert fits["H"]["scale"] == pytest.approx(4.0) and fits["H"]["paper"] == 2.29
    assert fits["W"]["slope"] == pytest.approx(64.0)
    assert fits["W"]["group_min"] == pytest.approx(0.9 * 64) and fits["W"]["group_max"] == pytest.approx(1.1 * 64)
    assert fits["W"]["ci_lo"] <= 64.0 <= fits["W"]["ci_hi"] and fits["W"]["theory"] == 16.0


def test_study_rows():
    rows = geometry.study(heights=(2, 3), widths=(2,), height_fixed=2, trials=2, groups=2,
                          dags=("dag:n=30,depth=3,seed=0",))
    frame = pd.DataFrame(rows, columns=geometry.STUDY_COLUMNS)
    assert len(frame) == (2 + 1 + 1) * 2
    assert set(frame["study"]) == {"H", "W", "dag"}
    assert (frame["min_dim"] >= 1).all() and set(frame["seed"]) == {0, 1000}
    # tree:H=3,W=2 is in both studies: same seeds, same answer
    both = frame[(frame["source"] == "tree:H=3,W=2")]
    assert both.groupby("group")["min_dim"].nunique().eq(1).all()


# ----------------------------------------------------------------------------- charts
def test_score_histogram_chart():
    rep = geometry.evaluate_construction(perfect_tree(4, 3), 64, seed=0, bins=40)
    frame = geometry.histogram_frame(rep)
    assert set(frame["kind"]) == {"relevant", "irrelevant"}
    assert frame.groupby("kind")["share"].sum().to_numpy() == pytest.approx([1.0, 1.0])
    spec = score_histogram_chart(frame, rep.threshold).to_dict()
    assert len(spec["layer"]) == 3
    assert spec["layer"][0]["mark"]["type"] == "rect"
    assert spec["layer"][1]["mark"]["type"] == "rule"
    datasets = spec["datasets"].values()
    assert any(d and "threshold" in d[0] and d[0]["threshold"] == pytest.approx(rep.threshold) for d in datasets)
    # no threshold: no rule
    assert len(score_histogram_chart(frame, None).to_dict()["layer"]) == 1


def test_min_dim_chart_draws_points_and_the_scaled_curve():
    rows = [{"study": "H", "H": H, "W": 2, "method": "construction-global", "group": g,
             "min_dim": 10 * H**2 + g} for H in (2, 3, 4) for g in (0, 1)]
    rows += [{"study": "W", "H": 4, "W": W, "method": "learned", "group": 0, "min_dim": 3 * W} for W in (2, 4)]
    frame = pd.DataFrame(rows)
    pts = min_dim_points(frame, "H")
    assert pts["x"].tolist() == [2, 3, 4]
    assert pts["min_dim"].tolist() == [40.5, 90.5, 160.5] and pts["lo"].tolist() == [40, 90, 160]
    curve = theory_frame(pts, "H", 2)
    c = geometry.theory_scale([2, 3, 4], [2, 2, 2], [40.5, 90.5, 160.5])
    assert curve["min_dim"].iloc[-1] == pytest.approx(c * 16 * math.log(2))
    spec = min_dim_chart(frame, "H", log=True).to_dict()
    assert len(spec["layer"]) == 3
    assert spec["layer"][1]["encoding"]["y"]["scale"]["type"] == "log"
    w_spec = min_dim_chart(frame, "W").to_dict()
    assert "H = 4" in w_spec["layer"][0]["encoding"]["x"]["title"]


# ----------------------------------------------------------------------------- CLI
def last_json(capsys) -> dict:
    out = capsys.readouterr().out.strip().splitlines()
    return json.loads(out[-1])


def test_cli_dim_json(capsys):
    assert main(["geometry", "tree:H=4,W=3", "--dim", "256", "--json"]) == 0
    out = last_json(capsys)
    assert {"margin", "separated", "query_separated", "recall", "sampled_queries", "dim", "nodes"} <= set(out)
    assert out["separated"] is True and out["margin"] > 0 and out["recall"] == 1.0
    assert out["query_separated"] == 1.0 and out["sampled_queries"] is None and out["nodes"] == 40
    assert main(["geometry", "tree:H=4,W=5", "--dim", "2", "--seed", "1", "--json"]) == 0
    out = last_json(capsys)
    assert out["separated"] is False and out["margin"] < 0 and out["recall"] < 0.5


def test_cli_text_and_min_dim(capsys):
    assert main(["geometry", "tree:H=3,W=2", "--dim", "32", "--max-distance", "1"]) == 0
    text = capsys.readouterr().out
    assert "margin" in text and "recall" in text and "query_separated" in text
    assert main(["geometry", "tree:H=3,W=2", "--min-dim", "--trials", "4", "--json"]) == 0
    out = last_json(capsys)
    h = perfect_tree(3, 2)
    assert out["min_dim"] >= 2 and out["learned"] is False
    assert out["tested"][str(out["min_dim"])] is True and out["tested"][str(out["min_dim"] - 1)] is False
    assert geometry.separation_passes(h, out["min_dim"], trials=4, seed=0)


@pytest.mark.parametrize("argv", [
    ["geometry", "no-such-source", "--dim", "8"],
    ["geometry", "tree:H=2", "--dim", "8"],
    ["geometry", "tree:H=3,W=2", "--dim", "0"],
    ["geometry", "tree:H=3,W=2", "--min-dim", "--trials", "0"],
    ["geometry", "tree:H=3,W=2", "--dim", "8", "--learned"],
    ["geometry", "tree:H=3,W=2", "--min-dim", "--max-dim", "2"],
])
def test_cli_bad_input_exits_2(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("hrviz geometry:") and "Traceback" not in err


def test_cli_needs_a_mode(capsys):
    with pytest.raises(SystemExit) as e:
        main(["geometry", "tree:H=3,W=2"])
    assert e.value.code == 2


def test_predicted_min_dim_grows_with_height_and_width():
    d = {(H, W): geometry.predicted_min_dim(perfect_tree(H, W)) for H, W in [(2, 2), (4, 2), (4, 5)]}
    assert d[(2, 2)] < d[(4, 2)] < d[(4, 5)]
    # the same order of magnitude as the measured boundary (tree:H=4,W=2 needs ~100)
    assert 50 < geometry.predicted_min_dim(perfect_tree(4, 2)) < 250


# ----------------------------------------------------------------------------- learned
def test_learned_min_dim_is_a_trained_boundary():
    h = perfect_tree(3, 2)
    seen = []
    res = geometry.learned_min_dim(h, config={"steps": 200, "finetune_steps": 30, "threads": 1},
                                   on_fit=lambda d, s, r: seen.append((d, r)))
    d = res.min_dim
    assert res.tested[d] and (d == 1 or not res.tested[d - 1])
    recalls = dict(seen)
    assert recalls[d] == 1.0 and (d == 1 or recalls[d - 1] < 1.0)
    # far fewer dimensions than the construction needs on the same tree
    assert d < geometry.min_dim(h, trials=3, criterion="query").min_dim / 4
