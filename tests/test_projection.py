"""hrviz.projection: PCA, the UMAP disk cache and background jobs, and what a map shows."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hrviz import map_points, projection
from hrviz.charts.query import embedding_chart, score_by_rank_chart
from hrviz.errors import InputError
from hrviz.evaluate import evaluate, query_report
from hrviz.sources import load_source, random_dag


def fake_umap(calls: list):
    """A stand-in for the real fit: records the call, returns the first two coordinates."""

    def fit(x, params, progress=None):
        calls.append(dict(params))
        if progress:
            progress(0.5, "half way")
        return np.asarray(x[:, :2], dtype=np.float32) * (1 + params["min_dist"])

    return fit


# ----------------------------------------------------------------------------- PCA


def test_pca_matches_numpy_eigen_decomposition():
    rng = np.random.default_rng(0)
    # variances 9, 4, 1, 0.25 along a random rotation: the order is known
    rot, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    x = (rng.standard_normal((500, 4)) * [3.0, 2.0, 1.0, 0.5]) @ rot.T + 7.0
    coords, ratio = projection.pca(x, n_components=3, return_variance=True)
    assert coords.shape == (500, 3) and coords.dtype == np.float32
    xc = x - x.mean(0)
    evals, evecs = np.linalg.eigh(np.cov(xc, rowvar=False, bias=True))
    order = np.argsort(evals)[::-1]
    evals, evecs = evals[order], evecs[:, order]
    # variances of the coordinates are the top eigenvalues, in decreasing order
    var = coords.astype(np.float64).var(axis=0)
    np.testing.assert_allclose(var, evals[:3], rtol=1e-4)
    assert var[0] > var[1] > var[2]
    np.testing.assert_allclose(ratio, evals[:3] / evals.sum(), rtol=1e-6)
    # each axis is the eigenvector projection up to sign, and the sign rule holds
    for j in range(3):
        ref = xc @ evecs[:, j]
        sign = np.sign(ref @ coords[:, j])
        np.testing.assert_allclose(coords[:, j], sign * ref, atol=1e-4)
        v = evecs[:, j] * sign
        assert v[np.argmax(np.abs(v))] > 0
    # uncorrelated axes
    c = np.corrcoef(coords.T)
    assert np.all(np.abs(c[np.triu_indices(3, 1)]) < 1e-4)


def test_pca_is_deterministic_and_handles_small_inputs():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((200, 16)).astype(np.float32)
    a, b = projection.pca(x), projection.pca(x.copy())
    assert np.array_equal(a, b)
    np.testing.assert_allclose(projection.pca(-x), -a, atol=1e-5)  # the sign follows the loadings
    # more components than the rank: zeros beyond it
    one_dim = projection.pca(np.arange(10.0)[:, None], n_components=2)
    assert one_dim.shape == (10, 2) and np.all(one_dim[:, 1] == 0)
    assert np.allclose(np.abs(one_dim[:, 0]), np.abs(np.arange(10.0) - 4.5))
    assert projection.pca(np.ones((1, 3))).shape == (1, 2)
    # fewer points than dimensions (the SVD path): same variances as the eigen-decomposition
    wide = rng.standard_normal((6, 20))
    coords = projection.pca(wide, n_components=3).astype(np.float64)
    evals = np.sort(np.linalg.eigvalsh(np.cov(wide, rowvar=False, bias=True)))[::-1]
    np.testing.assert_allclose(coords.var(axis=0), evals[:3], rtol=1e-4)
    with pytest.raises(InputError):
        projection.pca(np.ones(5))


# ----------------------------------------------------------------------------- UMAP cache


def test_embedding_hash_sees_values_dtype_and_shape():
    x = np.arange(12, dtype=np.float32).reshape(6, 2)
    h = projection.embedding_hash(x)
    assert h == projection.embedding_hash(x.copy()) == projection.embedding_hash(np.asfortranarray(x))
    y = x.copy()
    y[3, 1] += 1e-3
    assert projection.embedding_hash(y) != h
    assert projection.embedding_hash(x.astype(np.float64)) != h
    assert projection.embedding_hash(x.reshape(3, 4)) != h


def test_cache_hit_returns_the_same_array_without_recomputing(tmp_path, monkeypatch):
    calls: list = []
    monkeypatch.setattr(projection, "_fit_umap", fake_umap(calls))
    x = np.random.default_rng(0).standard_normal((50, 8)).astype(np.float32)
    first = projection.umap_project(x, cache_dir=tmp_path, n_neighbors=5)
    assert len(calls) == 1
    again = projection.umap_project(x.copy(), cache_dir=tmp_path, n_neighbors=5)
    assert len(calls) == 1  # read back, not recomputed
    assert np.array_equal(first, again) and again.dtype == np.float32
    # the sidecar records the parameters and the embedding
    metas = list(tmp_path.glob("umap-*.json"))
    assert len(metas) == 1 and len(list(tmp_path.glob("umap-*.npy"))) == 1
    info = json.loads(metas[0].read_text())
    assert info["params"] == {"n_neighbors": 5, "min_dist": 0.1, "metric": "cosine", "seed": 0, "n_epochs": None}
    assert info["embedding_hash"] == projection.embedding_hash(x) and info["shape"] == [50, 8]
    hit = projection.load_cached(x, tmp_path, n_neighbors=5)
    assert hit is not None and np.array_equal(hit[0], first)
    # no cache dir: always computed
    projection.umap_project(x, n_neighbors=5)
    assert len(calls) == 2


def test_cache_key_changes_with_parameters_and_data(tmp_path, monkeypatch):
    calls: list = []
    monkeypatch.setattr(projection, "_fit_umap", fake_umap(calls))
    x = np.random.default_rng(0).standard_normal((40, 4)).astype(np.float32)
    h = projection.embedding_hash(x)
    base = projection.umap_params()
    keys = {projection.cache_key(h, base)}
    for change in [{"n_neighbors": 30}, {"min_dist": 0.5}, {"metric": "euclidean"}, {"seed": 1}, {"n_epochs": 50}]:
        keys.add(projection.cache_key(h, {**base, **change}))
    keys.add(projection.cache_key(projection.embedding_hash(x + 1), base))
    assert len(keys) == 7
    assert projection.cache_key(h, base) == projection.cache_key(h, dict(reversed(list(base.items()))))
    a = projection.umap_project(x, cache_dir=tmp_path, min_dist=0.1)
    b = projection.umap_project(x, cache_dir=tmp_path, min_dist=0.5)
    assert len(calls) == 2 and not np.array_equal(a, b)
    assert len(list(tmp_path.glob("umap-*.npy"))) == 2
    assert projection.load_cached(x, tmp_path, min_dist=0.3) is None
    # a damaged cache file is recomputed, not trusted
    for f in tmp_path.glob("umap-*.npy"):
        f.write_bytes(b"junk")
    projection.umap_project(x, cache_dir=tmp_path, min_dist=0.1)
    assert len(calls) == 3


def test_umap_params_are_checked():
    with pytest.raises(InputError, match="n_neighbors"):
        projection.umap_params(n_neighbors=1)
    with pytest.raises(InputError, match="min_dist"):
        projection.umap_params(min_dist=2)
    with pytest.raises(InputError, match="at least"):
        projection.umap_project(np.zeros((3, 4)))


def test_background_job_reports_done_and_failed(tmp_path, monkeypatch):
    calls: list = []
    monkeypatch.setattr(projection, "_fit_umap", fake_umap(calls))
    jobs = projection.UmapJobs()
    x = np.random.default_rng(2).standard_normal((30, 3)).astype(np.float32)
    job = jobs.start(x, cache_dir=tmp_path, n_neighbors=4)
    assert job.wait(10) and job.status == "done" and job.error is None
    assert job.result.shape == (30, 2) and job.progress == 1.0
    assert jobs.start(x, cache_dir=tmp_path, n_neighbors=4) is job  # the same map: not started again
    assert jobs.get(job.key) is job and len(calls) == 1
    assert projection.load_cached(x, tmp_path, n_neighbors=4) is not None

    def boom(x, params, progress=None):
        raise RuntimeError("no memory left")

    monkeypatch.setattr(projection, "_fit_umap", boom)
    bad = jobs.start(x, cache_dir=tmp_path, n_neighbors=6)
    assert bad.wait(10) and bad.status == "failed" and "no memory left" in bad.error
    assert bad.result is None
    monkeypatch.setattr(projection, "_fit_umap", fake_umap(calls))
    retry = jobs.start(x, cache_dir=tmp_path, n_neighbors=6)  # a failed job is retried
    assert retry is not bad and retry.wait(10) and retry.status == "done"


@pytest.mark.slow
def test_real_umap_separates_two_clusters_and_reports_epochs(tmp_path):
    """The one real UMAP run (numba compiles in a fresh process: tens of seconds)."""
    rng = np.random.default_rng(0)
    centres = np.zeros((2, 8), dtype=np.float32)
    centres[0, 0], centres[1, 1] = 1.0, 1.0
    x = np.vstack([c + 0.05 * rng.standard_normal((150, 8)).astype(np.float32) for c in centres])
    seen: list = []
    coords = projection.umap_project(x, n_neighbors=10, n_epochs=30, seed=0, cache_dir=tmp_path,
                                     progress=lambda f, m: seen.append((f, m)))
    assert coords.shape == (300, 2) and np.isfinite(coords).all()
    a, b = coords[:150], coords[150:]
    gap = np.linalg.norm(a.mean(0) - b.mean(0))
    spread = max(a.std(0).max(), b.std(0).max())
    assert gap > 3 * spread  # the two clusters stay apart
    assert any("epoch" in m for _, m in seen) and seen[-1][0] == 1.0
    # cached: read back identical
    assert np.array_equal(projection.umap_project(x, n_neighbors=10, n_epochs=30, seed=0, cache_dir=tmp_path), coords)


# ----------------------------------------------------------------------------- what a map shows


def test_sample_nodes_is_seeded_and_bounded():
    assert np.array_equal(map_points.sample_nodes(10, 50), np.arange(10))
    a = map_points.sample_nodes(82_115, 5_000, seed=3)
    assert len(a) == 5_000 == len(np.unique(a)) and np.all(np.diff(a) > 0) and a.max() < 82_115
    assert np.array_equal(a, map_points.sample_nodes(82_115, 5_000, seed=3))
    assert not np.array_equal(a, map_points.sample_nodes(82_115, 5_000, seed=4))


def test_top_level_is_the_ancestor_at_that_depth():
    h = load_source("tree:H=4,W=2")
    top = map_points.top_level(h, 1)
    for i in range(h.n):
        if h.depth[i] == 0:
            assert top[i] == -1
        else:
            anc = h.ancestors(i)
            assert h.depth[top[i]] == 1 and top[i] in anc
    assert len(set(top[h.depth >= 1].tolist())) == 2  # W subtrees
    assert np.array_equal(map_points.top_level(h, 3)[h.leaves], h.leaves)  # leaves are their own
    dag = random_dag(nodes=300, depth=5, parents=2, seed=0)
    t2 = map_points.top_level(dag, 2)
    deep = np.flatnonzero(dag.depth >= 2)
    assert np.all(dag.depth[t2[deep]] == 2)
    assert all(int(t2[i]) in dag.ancestors(int(i)) for i in deep[:50])
    assert np.all(t2[dag.depth < 2] == -1)


def test_query_recall_agrees_with_query_report_and_evaluate():
    h = load_source("tree:H=4,W=3")
    rng = np.random.default_rng(0)
    q = rng.standard_normal((h.n, 4)).astype(np.float32)
    d = rng.standard_normal((h.n, 4)).astype(np.float32)
    closure = h.closure()
    nodes = np.array([0, 5, 17, 39])
    rec = map_points.query_recall(q, d, closure, nodes)
    for i, r in zip(nodes, rec):
        _, anc = query_report(q, d, closure, int(i))
        assert r == pytest.approx(anc["hit"].mean())
    # pooled over every query it is the evaluation's overall recall@auto
    allq = map_points.query_recall(q, d, closure, np.arange(h.n))
    sizes = closure.sizes()
    assert (allq * sizes).sum() / sizes.sum() == pytest.approx(evaluate(q, d, closure).overall)
    # the construction of the theorem in a large d gets every pair right
    from hrviz.geometry import construct

    c = construct(h, 256, seed=0)
    assert np.all(map_points.query_recall(c.query_vectors, c.doc_vectors, closure, nodes) == 1.0)


def test_map_frame_and_charts():
    h = load_source("tree:H=4,W=4")
    nodes = map_points.sample_nodes(h.n, 30, seed=0)
    coords = np.arange(len(nodes) * 4, dtype=np.float32).reshape(-1, 2)
    f = map_points.map_frame(h, coords, nodes, ["query", "doc"], recall=np.linspace(0, 1, len(nodes)))
    assert len(f) == 2 * len(nodes)
    assert list(f["side"].unique()) == ["query", "doc"]
    assert np.array_equal(f["x"].to_numpy(), coords[:, 0])
    assert set(f["subtree"]) <= {h.label(int(c)) for c in h.children(0)} | {"(above depth 1)"}
    few = map_points.map_frame(h, coords, nodes, ["query", "doc"], level=2, max_groups=3)
    assert few["subtree"].nunique() <= 3 and "other" in set(few["subtree"])
    with pytest.raises(InputError):
        map_points.map_frame(h, coords[:-2], nodes, ["query", "doc"])
    for color in ("depth", "subtree", "recall@auto"):
        spec = embedding_chart(f, color=color).to_dict()
        assert spec["params"][0]["name"] == "pick"
        assert spec["encoding"]["color"]["field"] == {"depth": "depth", "subtree": "subtree",
                                                       "recall@auto": "recall"}[color]
        assert {t["field"] for t in spec["encoding"]["tooltip"]} >= {"label", "name", "depth"}
    with pytest.raises(ValueError):
        embedding_chart(f, color="colour")


def test_score_by_rank_chart_marks_relevant_documents():
    h = load_source("tree:H=4,W=3")
    rng = np.random.default_rng(0)
    q = rng.standard_normal((h.n, 3)).astype(np.float32)
    top, anc = query_report(q, q, h.closure(), 30, k=15)
    spec = score_by_rank_chart(top, k_auto=len(anc), k=10).to_dict()
    layers = spec["layer"]
    assert len(layers) == 3  # line, dots, rules
    values = next(v for v in spec["datasets"].values() if "kind" in v[0])
    assert {v["kind"] for v in values} <= {"relevant", "other"}
    assert sum(v["kind"] == "relevant" for v in values) == int(top["relevant"].sum())
