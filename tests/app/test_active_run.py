"""Pages follow the active run and hierarchy (issue 26, hrviz_app/active.py), headless with
AppTest across page changes and hierarchy changes within one session. The browser version of the
same walk is in tests/app/test_browser_active.py."""

from __future__ import annotations

import numpy as np
from streamlit.testing.v1 import AppTest

from hrviz import story
from tests.helpers import app_at, texts, upload_projector_vectors
from tests.helpers import upload_hierarchy as upload


def fresh_csv(tag: str) -> bytes:
    """A small hierarchy (two levels below its root) no run of the shared store was trained on."""
    return ("child,parent\n" + "".join(f"{tag}{i},{tag}mid{i % 2}\n" for i in range(6))
            + f"{tag}mid0,{tag}root\n{tag}mid1,{tag}root\n").encode()


def test_home_inspect_opens_its_run_after_the_query_inspector_showed_another(app_env):
    from hrviz_app.resources import get_store

    store = get_store()
    chapters = story.story_runs(store)  # what Home's chapters show
    first, second = (int(chapters[ch.key]["run_id"]) for ch in story.CHAPTERS[:2])
    at = app_at("pages/4_query.py")
    demo = at.session_state["run_id"]  # a new session: the newest finished run on tree:H=4,W=5
    assert demo not in (first, second) and at.selectbox(key="q_run").value == demo
    for chapter, run in zip(story.CHAPTERS[:2], (first, second)):
        at.switch_page("pages/0_home.py").run()
        at.button(key=f"home_inspect_{chapter.key}").click().run()
        assert not at.exception, at.exception
        assert at.title[0].value == "Query inspector"
        assert at.session_state["run_id"] == run and at.selectbox(key="q_run").value == run
        assert at.session_state["source"] == story.SOURCE  # what the sidebar names (AppTest drops
        # the sidebar after a page switch: the browser test reads it)
        assert any(story.SOURCE in c.value for c in at.caption)  # the run's hierarchy, not the tree
    # Embeddings shows the same run; choosing another there makes it the active run everywhere
    at.switch_page("pages/5_embeddings.py").run()
    assert at.selectbox(key="e_run").value == second
    at.selectbox(key="e_run").set_value(demo).run()
    assert not at.exception, at.exception
    assert at.session_state["run_id"] == demo and at.session_state["source"] == "tree:H=4,W=5"
    at.switch_page("pages/4_query.py").run()
    assert at.selectbox(key="q_run").value == demo and at.session_state["run_id"] == demo


def test_a_new_upload_has_no_run_yet_on_every_page(app_env):
    at = app_at("pages/2_train.py")
    old = at.session_state["run_id"]
    assert old is not None and any(f"Run #{old}" in p.proto.text for p in at.get("progress"))
    upload(at, "fresh.csv", fresh_csv("fresh"))
    assert at.session_state["source"].endswith(".csv") and at.session_state["run_id"] is None
    for page in ("pages/4_query.py", "pages/5_embeddings.py"):
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
        infos = texts(at, "info")
        assert any("The active hierarchy `fresh.csv` has no run with a saved model yet" in i for i in infos), infos
        assert not at.get("vega_lite_chart") and not at.dataframe  # no other hierarchy's run
        assert at.session_state["run_id"] is None
    at.switch_page("pages/2_train.py").run()
    assert not at.exception, at.exception
    assert any("No run on `fresh.csv` yet" in i for i in texts(at, "info"))
    assert not any(f"Run #{old}" in p.proto.text for p in at.get("progress"))  # not the old run
    # choosing a run of another hierarchy on the Query inspector brings its hierarchy along
    at.switch_page("pages/4_query.py").run()
    at.selectbox(key="q_run").set_value(old).run()
    assert not at.exception, at.exception
    assert at.session_state["run_id"] == old and at.session_state["source"] == "tree:H=4,W=5"
    assert len(at.dataframe) >= 1 and not texts(at, "info")


def test_train_live_follows_a_hierarchy_change_and_back(app_env):
    at = app_at("pages/2_train.py")
    old = at.session_state["run_id"]
    at.switch_page("pages/1_hierarchy.py").run()
    at.radio(key="h_mode").set_value("Random DAG").run()
    at.number_input(key="h_seed").set_value(2626).run()  # a DAG no run was trained on
    assert at.session_state["source"].endswith("seed=2626") and at.session_state["run_id"] is None
    at.switch_page("pages/2_train.py").run()
    assert not at.exception, at.exception
    assert not any(f"Run #{old}" in p.proto.text for p in at.get("progress"))
    assert any("No run on `dag:" in i for i in texts(at, "info"))
    # back on the tree: its newest finished run is the active run again
    at.switch_page("pages/1_hierarchy.py").run()
    at.radio(key="h_mode").set_value("Synthetic tree").run()
    assert at.session_state["source"] == "tree:H=4,W=5" and at.session_state["run_id"] is not None
    at.switch_page("pages/2_train.py").run()
    rid = at.session_state["run_id"]
    assert any(f"Run #{rid}" in p.proto.text for p in at.get("progress"))


def test_a_loaded_run_shows_its_final_numbers_not_waiting(app_env):
    from hrviz.sources import load_source
    from hrviz_app.resources import DEFAULT_SOURCE, get_store

    h = load_source(DEFAULT_SOURCE)
    at = app_at("pages/2_train.py")
    rng = np.random.default_rng(26)
    q, d = rng.normal(size=(h.n, 3)), rng.normal(size=(h.n, 3))
    upload_projector_vectors(at, h.names, q, d)
    assert not at.exception, at.exception
    rid = at.session_state["run_id"]
    assert get_store().run(rid)["params"]["model"] == "loaded"
    at.run()  # a later visit: the run ended long ago
    captions = [c.value for c in at.caption]
    assert not any("Waiting for the first evaluation" in c for c in captions), captions
    assert any("No evaluation during training (vectors loaded from files)" in c for c in captions), captions
    labels = {m.label for m in at.metric}
    assert {"Overall recall", "Min over distances"} <= labels
    assert any(f"Run #{rid}" in p.proto.text and "finished" in p.proto.text for p in at.get("progress"))
