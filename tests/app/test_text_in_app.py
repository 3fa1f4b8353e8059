"""Text runs in the app (AppTest): free text on the Query inspector, the Train page's encoder
choice and its background launch, and text runs named on Results. One small store for the
module: a zero-shot run, a text tower with held-out leaves and a lookup-table run on a 13-node
tree, all with the deterministic hashing encoder (no model files)."""

from __future__ import annotations

import json

import pytest

from hrviz.kinds.text import TextRunConfig
from hrviz.models.text_fit import TowerConfig
from hrviz.experiment import run_training
from hrviz.sources import load_source
from hrviz.store import Store
from hrviz.training import TrainConfig
from tests.helpers import page_path, standalone

SOURCE = "tree:H=3,W=3"  # 13 nodes, 9 leaves
QUERY, TRAIN, RESULTS = page_path("4_query.py"), page_path("2_train.py"), page_path("3_results.py")


def tiny_train(**kw) -> TrainConfig:
    return TrainConfig(**{"dim": 8, "recipe": "standard", "steps": 40, "eval_every": 20, **kw})


@pytest.fixture(scope="module")
def text_db(tmp_path_factory):
    """(db path, zero-shot run id, tower run id, lookup-table run id)."""
    folder = tmp_path_factory.mktemp("text")
    db = folder / "hrviz.duckdb"
    h = load_source(SOURCE)
    with Store(db) as store:
        zid = run_training(SOURCE, TextRunConfig(encoder="hashing", cache_dir=None), store, hierarchy=h)
        tid = run_training(SOURCE, TextRunConfig(encoder="hashing", train=tiny_train(), tower=TowerConfig(head="linear"),
                                                 holdout_nodes=0.3, cache_dir=None), store, hierarchy=h)
        did = run_training(SOURCE, tiny_train(), store, hierarchy=h)
    return db, zid, tid, did


@pytest.fixture
def env(text_db, monkeypatch, tmp_path):
    monkeypatch.setenv("HRVIZ_DB", str(text_db[0]))
    monkeypatch.setenv("HRVIZ_CACHE", str(tmp_path / "cache"))
    return text_db


def page(path: str, **session):
    return standalone(path, source=SOURCE, **session).run()


def text_table(at):
    """The free-text table: the page's first data frame (the node inspector's come after it)."""
    table = at.dataframe[0].value
    assert "relevant" not in table.columns and "gloss" not in table.columns
    return table


def free_text(at, text: str):
    at.text_input(key="q_text").input(text).run()
    assert not at.exception, at.exception
    return at


# ----------------------------------------------------------------------------- Query page


def test_query_page_takes_free_text_for_a_tower_run_and_marks_hits_of_a_named_node(env):
    db, zid, tid, did = env
    at = page(QUERY, run_id=tid)
    assert not at.exception, at.exception
    box = at.text_input(key="q_text")
    assert box.placeholder == "e.g. golden retriever puppy"
    free_text(at, "r.2.1")  # names a node: its 3 relevant documents are marked
    top = text_table(at)
    assert list(top["rank"]) == list(range(1, len(top) + 1)) and len(top) == 13
    assert top["score"].is_monotonic_decreasing
    marked = top[top["hit"] != ""]
    assert set(marked["name"]) == {"r.2.1", "r.2", "r"}
    assert set(top["hit"]) <= {"✓ hit", "✗ miss", ""}
    assert any("names **r.2.1**" in m.value for m in at.markdown)
    # the node inspector below still works
    assert at.selectbox(key="q_node") is not None


def test_free_text_that_names_no_node_only_lists_what_it_retrieves(env):
    db, zid, tid, did = env
    at = free_text(page(QUERY, run_id=zid), "golden retriever puppy")
    top = text_table(at)
    assert "hit" not in top.columns and len(top) == 13
    assert any("names no node" in c.value for c in at.caption)


@pytest.mark.parametrize("bad, message", [("dog\x01cat", "control character"), ("x" * 100_000, "too long"),
                                          ("   ", "empty")])
def test_bad_free_text_gets_a_clear_message(env, bad, message):
    db, zid, tid, did = env
    at = page(QUERY, run_id=tid)
    tables = len(at.dataframe)  # the node inspector's
    free_text(at, bad)
    assert any(message in e.value and "Cannot query this text" in e.value for e in at.error), \
        [e.value for e in at.error]
    assert len(at.dataframe) == tables  # no free-text table


def test_lookup_table_runs_have_no_free_text_box(env):
    db, zid, tid, did = env
    at = page(QUERY, run_id=did)
    assert not at.exception, at.exception
    assert not [t for t in at.text_input if t.key == "q_text"]


# ----------------------------------------------------------------------------- Train page


def test_train_page_trains_a_text_tower_with_held_out_leaves_in_the_background(tmp_path, monkeypatch):
    from hrviz_app.resources import get_store
    from hrviz_app.training import training_job

    monkeypatch.setenv("HRVIZ_DB", str(tmp_path / "train.duckdb"))
    monkeypatch.setenv("HRVIZ_CACHE", str(tmp_path / "cache"))
    at = page(TRAIN)
    assert at.radio(key="t_kind").value == "dual-encoder"
    assert not [t for t in at.slider if t.key == "t_text_holdout_nodes"]  # lookup tables: no text settings
    at.radio(key="t_kind").set_value("text").run()
    assert at.selectbox(key="t_text_encoder").value == "wordllama"
    at.selectbox(key="t_text_encoder").set_value("hashing").run()
    assert not at.exception, at.exception
    at.selectbox(key="t_recipe").set_value("standard").run()
    at.number_input(key="t_steps").set_value(30).run()
    at.slider(key="t_text_holdout_nodes").set_value(0.3).run()
    assert any("30% of the leaves held out" in c.value for c in at.caption)
    at.button(key="t_start").click().run()
    assert not at.exception, at.exception
    run_id = at.session_state["run_id"]
    training_job(run_id).wait(60)
    row = get_store().run(run_id)
    assert row["status"] == "finished", row.get("error")
    assert row["params"]["model"] == "text" and row["params"]["encoder"] == "hashing"
    assert row["params"]["holdout_nodes"] == 0.3 and row["summary"]["seen"]["overall"] is not None
    at.run()
    assert not at.exception, at.exception
    assert any("text tower" in o for o in at.selectbox(key="t_pick").options)


def test_train_page_zero_shot_toggle_records_a_zero_shot_run(tmp_path, monkeypatch):
    from hrviz_app.resources import get_store
    from hrviz_app.training import training_job

    monkeypatch.setenv("HRVIZ_DB", str(tmp_path / "zs.duckdb"))
    monkeypatch.setenv("HRVIZ_CACHE", str(tmp_path / "cache"))
    at = page(TRAIN, t_kind="text", t_text_encoder="hashing")
    at.toggle(key="t_text_zero_shot").set_value(True).run()
    assert at.slider(key="t_text_holdout_nodes").disabled
    assert any("evaluated zero-shot" in c.value for c in at.caption)
    at.button(key="t_start").click().run()
    run_id = at.session_state["run_id"]
    training_job(run_id).wait(60)
    row = get_store().run(run_id)
    assert row["status"] == "finished" and row["recipe"] == "zero-shot" and row["dim"] == 256


# ----------------------------------------------------------------------------- Results


def test_results_names_text_runs_and_compares_zero_shot_with_trained(env):
    db, zid, tid, did = env
    at = page(RESULTS)
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert dict(zip(table["run_id"], table["model"])) == {zid: "text zero-shot", tid: "text tower",
                                                          did: "dual encoder"}
    at.multiselect(key="r_compare").set_value([zid, tid]).run()
    assert not at.exception, at.exception
    charts = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    text = json.dumps(charts, ensure_ascii=False)
    assert f"#{zid} text zero-shot zero-shot d=256" in text and f"#{tid} text tower standard d=8" in text
    assert any(c.get("encoding", {}).get("strokeDash", {}).get("field") == "model" for c in charts)


def test_embeddings_projects_the_text_tower_vectors(env):
    db, zid, tid, did = env
    at = page(page_path("5_embeddings.py"), run_id=tid)
    assert not at.exception, at.exception
    assert at.get("vega_lite_chart")  # the tower's stored node vectors, projected like any run's
