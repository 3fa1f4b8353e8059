"""The contract every model kind keeps, one test per kind of the registry (hrviz.kinds.KINDS).

A kind added to the registry runs here without a line of this file changing, except its entry
in TINY (the few values that make its run take a second): created from the front ends' values,
fitted on a tiny hierarchy, evaluated, saved, loaded back by its name and from its file alone (an
upload), trained from the command line when it trains, and shown by every page that shows runs.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from hrviz.cli import main
from hrviz.experiment import evaluate_run, load_run_model, run_training
from hrviz.kinds import KINDS, kind_for_config, kind_of, read_model_file, run_title, trainable
from hrviz.sources import load_source
from hrviz.store import Store
from tests.helpers import page_path, standalone

SOURCE = "tree:H=3,W=3"  # 13 nodes, depth 2


def _vectors_file(h, tmp_path) -> str:
    rng = np.random.default_rng(0)
    path = tmp_path / "v.npz"
    np.savez(path, names=np.array(h.names, dtype=str), query=rng.normal(size=(h.n, 4)),
             doc=rng.normal(size=(h.n, 4)))
    return str(path)


#: per kind: ``train`` (TrainConfig fields, for kinds that train with it), ``values`` (its settings'
#: values beyond the first values the Train page shows; a callable takes (h, tmp_path))
TINY = {
    "dual-encoder": {"train": {"dim": 4, "recipe": "standard", "steps": 20, "eval_every": 10}},
    "poincare": {"values": {"dim": 2, "epochs": 2, "burn_in": 1}},
    "text": {"train": {"dim": 4, "recipe": "standard", "steps": 20, "eval_every": 10},
             "values": {"encoder": "hashing", "holdout_nodes": None}},
    "loaded": {"values": lambda h, tmp_path: {"files": [_vectors_file(h, tmp_path)]}},
}


def tiny(kind, h, tmp_path):
    """The kind's config as a front end makes it: its settings' first values, TINY's on top."""
    from hrviz.training import TrainConfig

    spec = TINY[kind.name]
    extra = spec.get("values", {})
    values = {"max_distance": None, **{s.name: s.first_value(h) for s in kind.settings if s.page},
              **(extra(h, tmp_path) if callable(extra) else extra)}
    train = TrainConfig(**spec["train"]) if kind.uses_training else None
    return values, train, kind.resolved(kind.config(values, h, train), h)


@pytest.fixture(params=list(KINDS), ids=list(KINDS))
def kind(request):
    if request.param not in TINY:
        pytest.fail(f"kind {request.param!r} has no TINY entry in tests/kinds/test_contract.py")
    return KINDS[request.param]


@pytest.fixture(params=[k.name for k in trainable()], ids=[k.name for k in trainable()])
def trained_kind(request):
    """Every kind that ``train --model`` makes (a loaded run is made by ``hrviz load`` instead)."""
    return KINDS[request.param]


@pytest.fixture
def h():
    return load_source(SOURCE)


def test_what_a_kind_declares(kind, h, tmp_path):
    assert kind.name and kind.title in kind.run_titles and len(set(kind.run_titles)) == len(kind.run_titles)
    assert kind.summary and "\n" not in kind.summary and len(kind.summary) < 200
    names = [s.name for s in kind.settings]
    assert len(names) == len(set(names)), names
    for s in kind.settings:
        assert s.label and s.help and s.type in (int, float, str, bool), s
        if s.off_when is not None:
            assert s.off_when in names, s
    _, _, cfg = tiny(kind, h, tmp_path)
    assert kind_for_config(cfg) is kind and isinstance(cfg, kind.config_type)
    assert "\n" not in kind.plan(cfg, h)
    titles = [t for k in KINDS.values() for t in k.run_titles]
    assert len(titles) == len(set(titles)), "every run title names one kind"


def test_create_fit_evaluate_save_load(kind, h, tmp_path):
    _, _, cfg = tiny(kind, h, tmp_path)
    with Store(tmp_path / "s.duckdb") as store:
        run_id = run_training(SOURCE, cfg, store, hierarchy=h)
        run = store.run(run_id)
        assert run["status"] == "finished", run.get("error")
        assert run["params"]["model"] == kind.name and kind_of(run["params"]) is kind
        assert run_title(run["params"]) in kind.run_titles
        json.dumps(kind.result(run))  # the CLI's fields of it are JSON
        model, _ = load_run_model(store, run_id)
        assert model.n == h.n and model.query_vectors().shape[0] == model.doc_vectors().shape[0] == h.n
        ev, _ = evaluate_run(store, run_id, hierarchy=h)  # hrviz eval: the stored final numbers again
        assert ev.overall == pytest.approx(run["overall"])
        uploaded_kind, uploaded = read_model_file(run["model_path"])  # a file alone: an upload
        assert uploaded_kind is kind
        np.testing.assert_allclose(uploaded.query_vectors(), model.query_vectors())


def test_the_command_line_trains_it(trained_kind, h, tmp_path, capsys):
    kind = trained_kind
    assert kind.trainable
    spec = TINY[kind.name]
    flags = ["--model", kind.name]
    for key, value in {**spec.get("train", {}), **spec.get("values", {})}.items():
        setting = next((s for s in kind.settings if s.name == key), None)
        if value is None or (setting is not None and not setting.cli and key not in ("dim", "seed")):
            continue
        flags += ["--" + key.replace("_", "-"), str(value)]
    assert main(["train", SOURCE, *flags, "--json", "--db", str(tmp_path / "s.duckdb")]) == 0
    res = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert res["model"] == kind.name and res["status"] == "finished"


def test_every_page_that_shows_runs_shows_it(kind, h, tmp_path, monkeypatch):
    db = tmp_path / "app.duckdb"
    _, _, cfg = tiny(kind, h, tmp_path)
    with Store(db) as store:
        run_id = run_training(SOURCE, cfg, store, hierarchy=h)
        title = run_title(store.run(run_id)["params"])
    monkeypatch.setenv("HRVIZ_DB", str(db))
    for page in ("2_train.py", "3_results.py", "4_query.py", "5_embeddings.py"):
        at = standalone(page_path(page), source=SOURCE, run_id=run_id).run()
        assert not at.exception, (page, at.exception)
        assert not at.error, (page, [e.value for e in at.error])
        if page == "3_results.py":
            assert title in set(at.dataframe[0].value["model"])
