"""The Query inspector (pages/4_query.py) and Embeddings (pages/5_embeddings.py) pages, headless
with Streamlit's AppTest, on the shared test store of the demo runs (``app_env``)."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from hrviz import projection
from hrviz.evaluate import query_report
from hrviz.experiment import load_run_model
from hrviz.models.dual_encoder import DualEncoder
from hrviz.sources import load_source
from hrviz.store import Store
from tests.helpers import APP, page_path, standalone

QUERY = page_path("4_query.py")
EMBEDDINGS = page_path("5_embeddings.py")


def page(path: str, **session) -> AppTest:
    return standalone(path, **session)


def spec(at: AppTest, i: int = 0) -> dict:
    return json.loads(at.get("vega_lite_chart")[i].proto.spec)


def wait_for(predicate, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest.fixture
def demo(app_env):
    """(store, standard run id, its hierarchy) of the shared test store."""
    from hrviz_app.resources import get_store  # the app's own Store on that file

    store = get_store()
    runs = store.runs(status="finished")
    rid = int(runs[(runs["name"] == "demo") & (runs["recipe"] == "standard")]["run_id"].iloc[-1])
    return store, rid, load_source("tree:H=4,W=5")


# ----------------------------------------------------------------------------- Query inspector


def test_query_page_lists_every_ancestor_with_its_real_rank(demo):
    store, rid, h = demo
    at = page(QUERY, run_id=rid).run()
    assert not at.exception, at.exception
    assert at.selectbox(key="q_run").value == rid  # the active run by default
    node = h.id_of("r.1.2.3")  # a leaf: itself + 3 ancestors
    at.text_input(key="q_search").set_value("r.1.2").run()
    assert at.selectbox(key="q_node").options[0].startswith("r.1.2 ")  # exact name first
    at.selectbox(key="q_node").set_value(node).run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    docs, dist = h.closure().of(node)
    assert len(table) == len(docs) == 4
    assert sorted(table["name"]) == sorted(h.names[int(d)] for d in docs)
    assert sorted(table["distance"]) == sorted(dist.tolist())
    # ranks and hits are those of the stored model, recomputed here
    model, _ = load_run_model(store, rid)
    _, anc = query_report(model.query_vectors(), model.doc_vectors(), h.closure(), node)
    want = {h.names[int(d)]: (int(r), bool(hit)) for d, r, hit in zip(anc["doc"], anc["rank"], anc["hit"])}
    got = {n: (int(r), hit.startswith("✓")) for n, r, hit in zip(table["name"], table["rank"], table["hit"])}
    assert got == want
    m = {x.label: x.value for x in at.metric}
    assert m["Relevant documents"] == "4"
    assert m["Found in the top |S(q)|"] == f"{sum(v[1] for v in want.values())} of 4"
    # top-k list follows the slider; the chart marks relevant documents
    assert len(at.dataframe[1].value) == 20
    at.slider(key="q_k").set_value(7).run()
    top = at.dataframe[1].value
    assert len(top) == 7 and list(top["rank"]) == list(range(1, 8))
    assert top["relevant"].tolist() == [n in want for n in top["name"]]
    layers = spec(at)["layer"]
    assert any(layer["encoding"].get("color", {}).get("field") == "kind" for layer in layers)
    # the path to the root, and the URL follows the choice
    assert any(" → " in md.value and "r.1.2.3" in md.value and md.value.rstrip().endswith("r")
               for md in at.markdown)
    assert at.query_params["run"] == [str(rid)] or at.query_params["run"] == str(rid)
    assert "r.1.2.3" in str(at.query_params["node"])


def test_query_deep_link_opens_that_query(demo):
    store, rid, h = demo
    other = int(store.runs(status="finished")["run_id"].iloc[0])
    at = page(QUERY, run_id=other)
    at.query_params["run"] = str(rid)
    at.query_params["node"] = "r.3.0.2"
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="q_run").value == rid
    assert at.selectbox(key="q_node").value == h.id_of("r.3.0.2")
    assert at.text_input(key="q_search").value == "r.3.0.2"
    assert len(at.dataframe[0].value) == 4  # itself + 3 ancestors
    assert any("r.3.0.2" in s.value for s in at.subheader)
    assert any(f"/query?run={rid}&node=r.3.0.2" in c.value for c in at.caption)
    # choosing another node afterwards is not undone by the (now older) URL
    at.text_input(key="q_search").set_value("r.3.0").run()
    at.selectbox(key="q_node").set_value(h.id_of("r.3.0")).run()
    assert at.selectbox(key="q_node").value == h.id_of("r.3.0")
    assert len(at.dataframe[0].value) == 3
    # unknown node and run: said in words, the page still works
    bad = page(QUERY)
    bad.query_params["run"] = "99999"
    bad.query_params["node"] = "no.such.node"
    bad.run()
    assert not bad.exception, bad.exception
    warnings = " ".join(w.value for w in bad.warning)
    assert "#99999" in warnings and "no.such.node" in warnings


def test_pages_refuse_a_model_of_another_hierarchy(tmp_path, monkeypatch):
    db = tmp_path / "mismatch.duckdb"
    trained_on, claimed = load_source("tree:H=3,W=3"), load_source("tree:H=3,W=2")
    path = DualEncoder(trained_on.n, 3, seed=0).save(tmp_path / "m.safetensors", hierarchy_hash=trained_on.hash,
                                                     source="tree:H=3,W=3")
    with Store(db) as store:
        rid = store.create_run(source="tree:H=3,W=2", hierarchy_hash=claimed.hash, recipe="standard",
                               dim=3, seed=0, params={})
        store.set_model_path(rid, str(path))
        store.finish_run(rid, status="finished", summary={"overall": 0.5})
    monkeypatch.setenv("HRVIZ_DB", str(db))
    for path_ in (QUERY, EMBEDDINGS):
        at = page(path_, run_id=rid).run()
        assert not at.exception, at.exception
        errors = [e.value for e in at.error]
        assert len(errors) == 1 and f"run #{rid}" in errors[0] and "another hierarchy" in errors[0], errors
        assert not at.get("vega_lite_chart")


# ----------------------------------------------------------------------------- Embeddings


def test_embeddings_pca_and_colour_by(demo):
    store, rid, h = demo
    at = page(EMBEDDINGS, run_id=rid).run()
    assert not at.exception, at.exception
    assert at.radio(key="e_method").value == "PCA"
    s = spec(at)
    assert s["encoding"]["color"]["field"] == "depth"
    assert s["params"][0]["name"] == "pick"
    assert {t["field"] for t in s["encoding"]["tooltip"]} >= {"label", "name"}
    assert any("PCA of 156 points" in c.value for c in at.caption)
    assert not at.info  # 156 nodes: no sample

    at.selectbox(key="e_color").set_value("subtree").run()
    assert not at.exception, at.exception
    assert spec(at)["encoding"]["color"]["field"] == "subtree"
    at.slider(key="e_level").set_value(2).run()
    assert not at.exception
    at.selectbox(key="e_color").set_value("recall@auto").run()
    assert not at.exception, at.exception
    s = spec(at)
    assert s["encoding"]["color"]["field"] == "recall"
    assert "recall" in {t["field"] for t in s["encoding"]["tooltip"]}

    at.radio(key="e_side").set_value("both").run()
    at.number_input(key="e_max_points").set_value(200).run()
    assert not at.exception, at.exception
    assert any("sample of 100" in i.value and "156" in i.value for i in at.info)
    assert any("PCA of 200 points" in c.value for c in at.caption)
    assert spec(at)["encoding"]["shape"]["field"] == "side"


def test_embeddings_umap_runs_in_the_background_then_comes_from_the_cache(demo, app_env, monkeypatch):
    store, rid, h = demo
    release, calls = threading.Event(), []

    def slow_fit(x, params, progress=None):  # stands in for the real UMAP: waits for the test
        calls.append(dict(params))
        progress(0.4, "layout: epoch 2 of 5")
        release.wait(20)
        return np.asarray(x[:, :2], dtype=np.float32)

    monkeypatch.setattr(projection, "_fit_umap", slow_fit)
    at = page(EMBEDDINGS, run_id=rid).run()
    at.radio(key="e_method").set_value("UMAP").run()
    at.slider(key="e_nn").set_value(7).run()
    assert not at.exception, at.exception
    assert any("not computed yet" in c.value for c in at.caption)
    at.button(key="e_umap_go").click().run()
    assert not at.exception, at.exception
    wait_for(lambda: calls)
    at.run()
    bars = at.get("progress")
    assert bars and "epoch 2 of 5" in bars[0].proto.text
    assert not [b for b in at.button if b.key == "e_umap_go"]  # running: no second start
    assert spec(at)  # the PCA map stays meanwhile
    release.set()
    cache = app_env.parent / "cache" / "umap"
    wait_for(lambda: list(cache.glob("umap-*.json")))
    at.run()
    assert not at.exception, at.exception
    assert any("read from the cache" in c.value and "n_neighbors=7" in c.value for c in at.caption)
    assert "UMAP" in str(spec(at)["title"])
    metas = [json.loads(p.read_text()) for p in cache.glob("umap-*.json")]
    assert any(m["params"]["n_neighbors"] == 7 and m["shape"] == [156, 3] for m in metas)
    # other parameters: not computed yet, the button is back
    at.slider(key="e_min_dist").set_value(0.5).run()
    assert [b for b in at.button if b.key == "e_umap_go"]
    assert len(calls) == 1


def test_embeddings_chosen_point_opens_the_query_inspector(demo):
    store, rid, h = demo
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, at.exception
    at.switch_page("pages/5_embeddings.py").run()
    at.selectbox(key="e_run").set_value(rid).run()
    at.session_state["e_chart"] = {"selection": {"pick": [{"name": "r.2.1"}]}}  # a click on the map
    at.run()
    assert not at.exception, at.exception
    assert any("Selected" in md.value and "r.2.1" in md.value for md in at.markdown)
    at.button(key="e_open").click().run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Query inspector"
    assert at.selectbox(key="q_run").value == rid
    assert at.selectbox(key="q_node").value == h.id_of("r.2.1")


def test_pages_on_a_wordnet_run_show_glosses_and_sample(tmp_path, monkeypatch):
    """A (random, untrained) model on a WordNet subtree: labels, glosses, a sampled map."""
    source = "wordnet:carnivore.n.01"
    h = load_source(source)
    path = DualEncoder(h.n, 8, seed=0).save(tmp_path / "wn.safetensors", hierarchy_hash=h.hash, source=source)
    db = tmp_path / "wn.duckdb"
    with Store(db) as store:
        rid = store.create_run(source=source, hierarchy_hash=h.hash, recipe="standard", dim=8, seed=0, params={})
        store.set_model_path(rid, str(path))
        store.finish_run(rid, status="finished", summary={"overall": 0.1})
    monkeypatch.setenv("HRVIZ_DB", str(db))
    at = page(QUERY, run_id=rid)
    at.query_params["node"] = "dog.n.01"
    at.run()
    assert not at.exception, at.exception
    dog = h.id_of("dog.n.01")
    assert at.selectbox(key="q_node").value == dog
    assert any(h.descriptions[dog] in md.value for md in at.markdown)  # the gloss of the query
    table = at.dataframe[0].value
    assert len(table) == len(h.closure().of(dog)[0])
    assert "gloss" in table and h.descriptions[h.id_of("carnivore.n.01")] in set(table["gloss"])
    assert any(" → " in md.value and md.value.rstrip().endswith("carnivore") for md in at.markdown)
    at.text_input(key="q_search").set_value("wolf").run()
    opts = at.selectbox(key="q_node").options
    assert opts and all("wolf" in o.lower() for o in opts)

    emb = page(EMBEDDINGS, run_id=rid)
    emb.run()
    emb.number_input(key="e_max_points").set_value(300).run()
    assert not emb.exception, emb.exception
    assert any("sample of 300" in i.value and f"{h.n:,}" in i.value for i in emb.info)
    emb.selectbox(key="e_color").set_value("subtree").run()
    assert not emb.exception, emb.exception


# ----------------------------------------------------------------------------- a real browser

IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


@pytest.mark.browser
def test_browser_deep_link_and_a_clicked_point_open_the_query(page, streamlit_server):
    """What AppTest cannot do: the URL of a real server, and a real click on the Vega map."""
    base = streamlit_server["url"]
    page.goto(f"{base}/query?run={streamlit_server['demo_standard']}&node=r.1.2.3")
    page.wait_for_selector(IDLE, timeout=60_000)
    page.get_by_text("r.1.2.3 (depth 3)").first.wait_for(timeout=30_000)
    assert page.locator('[data-testid="stException"]').count() == 0
    metric = page.locator('[data-testid="stMetric"]').filter(has_text="Relevant documents")
    assert metric.locator('[data-testid="stMetricValue"]').inner_text().strip() == "4"

    page.goto(f"{base}/embeddings")
    page.wait_for_selector(IDLE, timeout=60_000)
    page.wait_for_selector('[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg',
                           timeout=30_000)
    page.wait_for_timeout(800)
    box = page.locator('[data-testid="stVegaLiteChart"]').first.bounding_box()
    tip = page.locator("#vg-tooltip-element.visible")
    name = None
    for fy in np.linspace(0.15, 0.9, 16):  # hover until a point shows its tooltip
        for fx in np.linspace(0.05, 0.85, 60):
            x, y = box["x"] + fx * box["width"], box["y"] + fy * box["height"]
            page.mouse.move(x, y)
            if tip.count():
                lines = [t.strip() for t in tip.inner_text().splitlines() if t.strip()]
                name = lines[lines.index("name") + 1]
                page.mouse.click(x, y)
                break
        if name:
            break
    assert name, "no point found under the mouse"
    page.get_by_text("Selected:").wait_for(timeout=30_000)
    page.get_by_role("button", name="in the Query inspector").click()
    page.wait_for_url(f"**/query?*node={name}*", timeout=30_000)
    page.wait_for_selector(IDLE, timeout=60_000)
    page.get_by_text(f"{name} (depth").first.wait_for(timeout=30_000)
    assert page.locator('[data-testid="stException"]').count() == 0


def test_job_registry_cancels_a_umap_job(monkeypatch, tmp_path):
    from hrviz.jobs import Jobs

    started = threading.Event()

    def endless_fit(x, params, progress=None):  # reports progress until the job is stopped
        started.set()
        for epoch in range(10_000):
            progress(epoch / 10_000, f"epoch {epoch}")
            time.sleep(0.01)
        return np.asarray(x[:, :2], dtype=np.float32)

    monkeypatch.setattr(projection, "_fit_umap", endless_fit)
    jobs = Jobs()
    x = np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32)
    job = jobs.start_umap(x, cache_dir=tmp_path)
    assert started.wait(10) and job.status == "running"
    assert jobs.start_umap(x, cache_dir=tmp_path) is job  # the same map starts once
    assert jobs.cancel("umap", job.key)
    assert job.wait(10)
    assert job.status == "stopped" and job.result is None
    assert not list(tmp_path.glob("umap-*"))  # a stopped map is not cached
    assert jobs.start_umap(x, cache_dir=tmp_path) is not job  # a stopped one starts again
    jobs.cancel("umap", job.key)
