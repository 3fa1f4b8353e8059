"""The text commands of the CLI: ``encode`` (zero-shot), ``train --encoder`` (text towers, with
``--holdout-nodes``) and ``query`` (free text), their JSON lines, the stored runs and files, and
the messages for bad input. The deterministic hashing encoder on a 13-node tree: seconds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hrviz.cli import main
from hrviz.free_text import open_text_run, text_match
from hrviz.kinds.text import TextRunConfig, tower_path
from hrviz.models.text_tower import load_tower
from hrviz.experiment import launch
from hrviz.sources import load_source
from hrviz.store import Store
from hrviz.training import TrainConfig
from tests.helpers import ROOT
SOURCE = "tree:H=3,W=3"
TRAIN = ["train", SOURCE, "--dim", "8", "--recipe", "standard", "--steps", "40", "--eval-every", "20",
         "--encoder", "hashing", "--head", "linear"]


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HRVIZ_CACHE", str(tmp_path / "cache"))


def last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_encode_records_a_zero_shot_run(tmp_path, capsys):
    db = str(tmp_path / "s.duckdb")
    assert main(["encode", SOURCE, "--encoder", "hashing", "--max-distance", "2", "--db", db, "--json"]) == 0
    res = last_json(capsys)
    assert res["recipe"] == "zero-shot" and res["model"] == "text" and res["encoder"] == "hashing"
    assert res["dim"] == 256 and set(res["recall_by_distance"]) == {"0", "1", "2"}
    for key in ("overall", "min", "map", "mean_rank", "run_id", "seconds"):
        assert res[key] is not None, key
    assert res["recall_by_distance"]["0"] == 1.0  # query = document: itself first
    with Store(db, read_only=True) as store:
        run = store.run(res["run_id"])
        assert run["params"]["model"] == "text" and run["params"]["recipe"] == "zero-shot"
        assert run["params"]["encoder"] == "hashing" and run["status"] == "finished"
        rec = store.recall([res["run_id"]])
        assert set(rec["stage"]) == {"final"} and set(rec["distance"]) == {0, 1, 2}
        assert Path(run["model_path"]).exists()
    # hrviz eval reads it like any run and gets the same numbers
    assert main(["eval", str(res["run_id"]), "--db", db, "--json"]) == 0
    assert last_json(capsys)["overall"] == pytest.approx(res["overall"])


def test_train_with_holdout_nodes_puts_held_out_figures_on_top_and_seen_in_an_object(tmp_path, capsys):
    db = str(tmp_path / "s.duckdb")
    assert main([*TRAIN, "--holdout-nodes", "0.3", "--db", db, "--json"]) == 0
    res = last_json(capsys)
    assert res["model"] == "text" and res["encoder"] == "hashing" and res["holdout_nodes"] == 3
    seen = res["seen"]
    assert set(seen) >= {"recall_by_distance", "overall", "min"}
    assert 0 <= res["overall"] <= 1 and 0 <= seen["overall"] <= 1
    assert res["tower"]["head"] == "linear"
    with Store(db, read_only=True) as store:
        run = store.run(res["run_id"])
        assert run["params"]["holdout_nodes"] == 0.3 and run["params"]["tower"]["head"] == "linear"
        assert run["overall"] == pytest.approx(res["overall"])  # the store's columns: held-out
        rec = store.recall([res["run_id"]])
        final = rec[rec["stage"] == "final"]
        assert set(final["split"]) == {"heldout"} and (rec["stage"] == "final-seen").any()
        assert (rec["split"] == "val").any()  # validation during training
        # the tower reloads from the models dir, and gives the stored vectors back
        tower, meta = load_tower(tower_path(run["model_path"]))
        assert meta["encoder"] == "hashing" and len(meta["heldout_nodes"]) == 3
        from hrviz.models.text import node_features

        h = load_source(SOURCE)
        full, _ = load_tower(tower_path(run["model_path"]), features=node_features(h, "hashing", cache_dir=None))
        from hrviz.experiment import load_run_model

        model, _ = load_run_model(store, res["run_id"])
        np.testing.assert_allclose(full.query_vectors(), model.query_vectors(), atol=1e-5)
        np.testing.assert_allclose(full.doc_vectors(), model.doc_vectors(), atol=1e-5)


def test_eval_of_a_held_out_tower_counts_the_held_out_leaves_as_the_stored_numbers(tmp_path, capsys):
    db = str(tmp_path / "s.duckdb")
    assert main([*TRAIN, "--holdout-nodes", "0.3", "--db", db, "--json"]) == 0
    res = last_json(capsys)
    assert main(["eval", str(res["run_id"]), "--db", db, "--json"]) == 0
    again = last_json(capsys)
    assert again["overall"] == pytest.approx(res["overall"])
    assert again["recall_by_distance"] == pytest.approx(res["recall_by_distance"])


def test_train_without_holdout_reports_all_queries(tmp_path, capsys):
    db = str(tmp_path / "s.duckdb")
    assert main([*TRAIN, "--db", db, "--json"]) == 0
    res = last_json(capsys)
    assert "seen" not in res and res["recipe"] == "standard" and res["dim"] == 8


def test_query_prints_documents_with_scores_ranks_and_labels(tmp_path, capsys):
    db = str(tmp_path / "s.duckdb")
    assert main([*TRAIN, "--holdout-nodes", "0.3", "--db", db, "--json"]) == 0
    tower = last_json(capsys)["run_id"]
    assert main(["encode", SOURCE, "--encoder", "hashing", "--db", db, "--json"]) == 0
    zero = last_json(capsys)["run_id"]
    assert main(["query", str(tower), "r.2.1", "--k", "5", "--db", db, "--json"]) == 0
    res = last_json(capsys)
    assert res["run_id"] == tower and res["encoder"] == "hashing" and res["k"] == 5
    assert res["match"] == load_source(SOURCE).index["r.2.1"] and res["relevant"] == 3
    rows = res["results"]
    assert [r["rank"] for r in rows] == [1, 2, 3, 4, 5]
    assert all({"doc", "name", "label", "score", "distance", "hit"} <= set(r) for r in rows)
    assert all(a["score"] >= b["score"] for a, b in zip(rows, rows[1:]))
    # zero-shot: the text's own embedding; a node's own text ranks itself first
    assert main(["query", str(zero), "r.2.1", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "zero-shot" in out and "names node r.2.1" in out
    first = out.splitlines()[2].split()
    assert first[0] == "1" and first[2] == "r.2.1" and first[-1] == "✓"


@pytest.mark.parametrize("bad, message", [("", "text is empty"), ("x" * 100_000, "text is too long"),
                                          ("dog\x07cat", "control character U+0007")])
def test_query_refuses_bad_text_with_a_clear_message_and_code_2(tmp_path, capsys, bad, message):
    db = str(tmp_path / "s.duckdb")
    assert main(["encode", SOURCE, "--encoder", "hashing", "--db", db, "--json"]) == 0
    run_id = last_json(capsys)["run_id"]
    assert main(["query", str(run_id), bad, "--db", db]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hrviz query: ") and message in err and len(err.strip().splitlines()) == 1


def test_query_of_an_unknown_or_non_text_run_says_so(tmp_path, capsys):
    db = str(tmp_path / "s.duckdb")
    assert main(["train", SOURCE, "--dim", "2", "--recipe", "standard", "--steps", "20", "--db", db, "--json"]) == 0
    table = last_json(capsys)["run_id"]
    assert main(["query", "99", "dog", "--db", db]) == 2
    assert "no run 99" in capsys.readouterr().err
    assert main(["query", str(table), "dog", "--db", db]) == 2
    assert "not a text run" in capsys.readouterr().err
    assert main(["query", "1", "dog", "--db", str(tmp_path / "missing.duckdb")]) == 2
    assert "no results store" in capsys.readouterr().err


def test_encoder_names_and_their_errors(tmp_path, capsys):
    db = str(tmp_path / "s.duckdb")
    assert main(["encode", SOURCE, "--encoder", "lookup", "--db", db]) == 2
    assert "needs a text encoder" in capsys.readouterr().err
    assert main(["encode", SOURCE, "--encoder", "nope", "--db", db]) == 2
    assert "unknown text encoder 'nope'" in capsys.readouterr().err
    assert main(["encode", SOURCE, "--encoder", "st:/no/such/model", "--db", db]) == 2
    assert "sentence-transformers:/no/such/model" in capsys.readouterr().err
    assert main(["train", SOURCE, "--dim", "2", "--holdout-nodes", "0.3", "--db", db]) == 2
    assert "--encoder" in capsys.readouterr().err
    assert main([*TRAIN, "--holdout-nodes", "1.5", "--db", db]) == 2
    assert "holdout_nodes must be in (0, 1)" in capsys.readouterr().err


def test_launch_dispatches_a_text_config_to_a_background_run(tmp_path):
    from hrviz.models.text_fit import TowerConfig

    cfg = TextRunConfig(encoder="hashing", train=TrainConfig(dim=4, recipe="standard", steps=20, eval_every=10),
                        tower=TowerConfig(head="linear"))
    with Store(tmp_path / "s.duckdb") as store:
        run_id, thread = launch(SOURCE, cfg, store)
        assert store.run(run_id)["params"]["model"] == "text"  # the row exists before training ends
        thread.join(60)
        row = store.run(run_id)
        assert row["status"] == "finished" and row["dim"] == 4
        m = store.metrics([run_id])
        assert (m["name"] == "progress").any() and (m["name"] == "loss").any()
        top, _ = open_text_run(store, run_id).search("r.1", k=3)
        assert len(top) == 3


def test_text_match_prefers_names_then_first_labels():
    h = load_source(SOURCE)
    assert text_match(h, "r.1") == h.index["r.1"] and text_match(h, "  R.1 ") == h.index["r.1"]
    assert text_match(h, "golden retriever puppy") is None


def test_the_module_runs_as_a_command():
    out = subprocess.run([sys.executable, "-m", "hrviz", "query", "-h"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0 and "free text" in out.stdout
