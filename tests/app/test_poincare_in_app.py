"""The Poincaré model in the app: trained from the Train page and by ``experiment.launch``,
named on Results (table, labels, the model comparison chart), drawn as the Poincaré disk on
Embeddings for d = 2. One small temporary store for the module: a d = 2 Poincaré run and a
dual-encoder run on a 40-node tree."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from hrviz.charts.models import (latest_per_model, model_comparison_chart, model_comparison_frame,
                                 model_title, with_model_kind)
from hrviz.models.poincare_fit import PoincareConfig
from hrviz.experiment import launch, run_training
from hrviz.sources import load_source
from hrviz.store import Store
from hrviz.training import TrainConfig
from tests.helpers import page_path, standalone

SOURCE = "tree:H=4,W=3"  # 40 nodes, depth 3
TRAIN, RESULTS, EMBEDDINGS = page_path("2_train.py"), page_path("3_results.py"), page_path("5_embeddings.py")


def tiny_poincare(**kw) -> PoincareConfig:
    return PoincareConfig(**{"dim": 2, "epochs": 30, "burn_in": 3, "seed": 0, **kw})


@pytest.fixture(scope="module")
def poincare_db(tmp_path_factory):
    """(db path, Poincaré run id, dual-encoder run id)."""
    db = tmp_path_factory.mktemp("poincare") / "hrviz.duckdb"
    h = load_source(SOURCE)
    with Store(db) as store:
        pid = run_training(SOURCE, tiny_poincare(), store, hierarchy=h)
        did = run_training(SOURCE, TrainConfig(dim=2, recipe="standard", steps=60, eval_every=30), store,
                           hierarchy=h)
    return db, pid, did


@pytest.fixture
def env(poincare_db, monkeypatch):
    monkeypatch.setenv("HRVIZ_DB", str(poincare_db[0]))
    return poincare_db


def page(path: str, **session):
    return standalone(path, source=SOURCE, **session).run()


def specs(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]


# ----------------------------------------------------------------------------- library


def test_model_title_reads_params_of_every_shape(poincare_db):
    db, pid, did = poincare_db
    assert model_title({"model": "poincare"}) == "Poincaré ball"
    assert model_title('{"model": "poincare", "dim": 2}') == "Poincaré ball"
    assert model_title({"recipe": "standard"}) == model_title(None) == model_title("junk") == "dual encoder"
    assert model_title({"model": "no-such-kind"}) == "no-such-kind"  # a newer store's kind: its name
    with Store(db) as store:
        runs = with_model_kind(store.runs())
        assert dict(zip(runs["run_id"], runs["model"])) == {pid: "Poincaré ball", did: "dual encoder"}
        assert latest_per_model(store.runs(), source=SOURCE) == [did, pid]
        assert latest_per_model(store.runs(), source="elsewhere") == []
        frame = model_comparison_frame(store.recall([pid, did]), store.runs())
    assert set(frame["run"]) == {f"#{pid} Poincaré ball standard d=2", f"#{did} dual encoder standard d=2"}
    assert set(frame["distance"]) == {0, 1, 2, 3} and frame["recall"].between(0, 1).all()
    with Store(db) as store:
        spec = model_comparison_chart(store.recall([pid, did]), store.runs()).to_dict()
    assert spec["encoding"]["strokeDash"]["field"] == "model"


# ----------------------------------------------------------------------------- launch


def test_launch_with_a_poincare_config_trains_and_finishes_a_run(tmp_path):
    with Store(tmp_path / "s.duckdb") as store:
        run_id, thread = launch(SOURCE, tiny_poincare(epochs=5, burn_in=1), store, stop=threading.Event(),
                                name="bg")
        assert store.run(run_id)["params"]["model"] == "poincare"  # the row exists before training ends
        thread.join(60)
        assert not thread.is_alive()
        row = store.run(run_id)
        assert row["status"] == "finished" and row["name"] == "bg" and row["dim"] == 2
        assert row["model_path"] and row["map"] is not None and row["mean_rank"] is not None
        m = store.metrics([run_id])
        progress = m.loc[m["name"] == "progress", "value"]
        assert len(progress) == 6 and progress.iloc[-1] == pytest.approx(1.0)
        assert (m["name"] == "eta_seconds").any()
        assert set(store.recall([run_id])["stage"]) == {"final"}


def test_launch_poincare_honours_the_stop_event(tmp_path):
    stop = threading.Event()
    stop.set()  # stopped before the first epoch: still evaluated, saved and marked stopped
    with Store(tmp_path / "s.duckdb") as store:
        run_id, thread = launch(SOURCE, tiny_poincare(epochs=10_000), store, stop=stop)
        thread.join(60)
        row = store.run(run_id)
        assert row["status"] == "stopped" and row["model_path"]


# ----------------------------------------------------------------------------- pages


def test_train_page_starts_a_poincare_run_in_the_background(tmp_path, monkeypatch):
    from hrviz_app.resources import get_store
    from hrviz_app.training import training_job

    monkeypatch.setenv("HRVIZ_DB", str(tmp_path / "train.duckdb"))  # the module's store stays as it is
    at = page(TRAIN)
    assert not at.exception, at.exception
    assert at.radio(key="t_kind").value == "dual-encoder"  # the kinds' names, shown by their titles
    at.radio(key="t_kind").set_value("poincare").run()
    assert not at.exception, at.exception
    labels = {w.label for w in at.number_input}
    assert {"Epochs", "Burn-in epochs", "Finetune epochs"} <= labels and "Finetune temperature" not in labels
    at.number_input(key="t_poincare_epochs").set_value(4).run()
    at.number_input(key="t_poincare_burn_in").set_value(1).run()
    at.number_input(key="t_poincare_finetune_epochs").set_value(2).run()
    assert any("1 burn-in + 4 epochs + 2 finetune epochs" in c.value for c in at.caption)
    at.button(key="t_start").click().run()
    assert not at.exception, at.exception
    run_id = at.session_state["run_id"]
    job = training_job(run_id)
    job.wait(60)
    row = get_store().run(run_id)
    assert row["status"] == "finished" and job.status == "done"
    assert row["params"]["model"] == "poincare" and row["recipe"] == "pretrain-finetune" and row["dim"] == 2
    assert row["params"]["poincare"]["epochs"] == 4
    at.run()
    assert not at.exception, at.exception
    assert any("Poincaré" in o for o in at.selectbox(key="t_pick").options)


def test_results_names_the_model_and_compares_poincare_with_the_dual_encoder(env):
    db, pid, did = env
    at = page(RESULTS)
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert dict(zip(table["run_id"], table["model"])) == {pid: "Poincaré ball", did: "dual encoder"}
    compare = at.multiselect(key="r_compare")
    assert set(compare.value) == {pid, did}
    assert any(o.startswith(f"#{pid} Poincaré ball standard d=2") for o in compare.options)
    charts = specs(at)
    assert len(charts) == 2  # the per-run panels and the model comparison
    assert f"#{pid} Poincaré ball standard d=2" in json.dumps(charts[0], ensure_ascii=False)
    assert charts[1]["encoding"]["strokeDash"]["field"] == "model"
    at.multiselect(key="r_models").set_value(["Poincaré ball"]).run()
    assert list(at.dataframe[0].value["run_id"]) == [pid]
    assert len(specs(at)) == 1  # one model kind: no comparison chart


def test_embeddings_draws_the_poincare_disk_for_d2_and_projects_the_rest(env):
    db, pid, did = env
    at = page(EMBEDDINGS, run_id=pid)
    assert not at.exception, at.exception
    assert any("Poincaré disk itself" in c.value for c in at.caption)
    assert at.radio(key="e_side").disabled and at.radio(key="e_method").disabled
    spec = specs(at)[0]
    assert "Poincaré disk" in spec["title"]
    ring, dots = spec["layer"]
    assert ring["mark"]["type"] == "line" and dots["encoding"]["color"]["field"] == "depth"
    assert dots["encoding"]["x"]["scale"]["domain"] == [-1.02, 1.02] == dots["encoding"]["y"]["scale"]["domain"]
    assert spec["width"] == spec["height"]  # equal axes: the disk stays round
    from hrviz.experiment import load_run_model
    from hrviz_app.poincare_disk import disk_points

    pts = disk_points(pid)  # what the map draws: the model's own points, no projection
    assert pts.shape == (40, 2) and (np.linalg.norm(pts, axis=1) < 1).all()
    with Store(db) as store:
        assert np.array_equal(pts, load_run_model(store, pid)[0].points())
    at.selectbox(key="e_run").set_value(did).run()
    assert not at.exception, at.exception
    assert not any("Poincaré disk itself" in c.value for c in at.caption)
    assert any(c.value.startswith("PCA of") for c in at.caption)
    assert not at.radio(key="e_method").disabled


def test_an_uploaded_poincare_model_file_becomes_a_poincare_run(tmp_path, monkeypatch):
    """The Train page's "A saved model" reads the kind from the file: a Poincaré run's file is
    registered as a Poincaré run with the same numbers, not refused as no dual encoder."""
    from pathlib import Path

    from hrviz_app.resources import get_store
    from hrviz_app.uploads import import_model

    monkeypatch.setenv("HRVIZ_DB", str(tmp_path / "up.duckdb"))
    h = load_source(SOURCE)
    store = get_store()
    pid = run_training(SOURCE, tiny_poincare(epochs=3, burn_in=1), store, hierarchy=h)
    data = Path(store.run(pid)["model_path"]).read_bytes()
    new = import_model(data, "ball.safetensors", h, SOURCE)
    row = store.run(new)
    assert row["status"] == "finished" and row["params"]["model"] == "poincare"
    assert row["params"]["uploaded_from"] == "ball.safetensors" and row["dim"] == 2
    assert row["overall"] == pytest.approx(store.run(pid)["overall"])
