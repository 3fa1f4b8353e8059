"""hrviz.experiment: runs into the store (run_training, evaluate_run), generalisation mode included."""

from __future__ import annotations

import pytest

from hrviz.errors import InputError
from hrviz.pairs import split_pairs
from hrviz.sources import perfect_tree
from hrviz.training import TrainConfig


def test_generalisation_run_evaluates_held_out_pairs(tmp_path):
    from hrviz.experiment import run_training
    from hrviz.store import Store

    with Store(tmp_path / "g.duckdb") as store:
        rid = run_training("tree:H=4,W=3", TrainConfig(dim=4, steps=100, recipe="standard", mode="generalisation",
                                                       holdout=0.2), store)
        final = store.final_recall(rid)
        held = split_pairs(perfect_tree(4, 3), mode="generalisation", holdout=0.2, seed=0).eval
        assert set(final["split"]) == {"heldout"}
        assert final["pairs"].sum() == len(held) and 0 not in set(final["distance"])


def test_run_training_writes_everything(tmp_path):
    from hrviz.experiment import run_training
    from hrviz.store import Store

    with Store(tmp_path / "r.duckdb") as store:
        rid = run_training("tree:H=3,W=3", TrainConfig(dim=4, steps=100, finetune_steps=40, eval_every=20), store)
        run = store.run(rid)
        assert run["status"] == "finished" and run["overall"] is not None
        assert run["params"]["finetune_temperature"] == run["params"]["temperature"] == 20  # the resolved config
        assert [f["code"] for f in run["summary"]["verdict"]]  # every run ends with a verdict
        assert set(run["summary"]["stages"]) == {"pretrain", "finetune"}
        rec = store.recall(rid)
        assert {"pretrain", "finetune", "final"} <= set(rec["stage"])
        final = store.final_recall(rid)
        assert final["pairs"].sum() == perfect_tree(3, 3).closure().n_pairs
        assert set(store.metrics(rid)["name"]) >= {"loss", "progress", "eta_seconds", "lr", "best_step"}
        assert len(store.retrievals(rid)) > 0
        # a bad setting fails the run with its error, rows kept
        with pytest.raises(InputError):
            run_training("tree:H=3,W=3", TrainConfig(dim=4, long_threshold=9), store)
        failed = store.runs(status="failed")
        assert len(failed) == 1 and "distance >= 9" in failed.iloc[0]["error"]


def test_eval_run_counts_the_same_pairs_as_the_final_numbers_in_generalisation_mode(tmp_path):
    from hrviz.experiment import evaluate_run, run_training
    from hrviz.store import Store

    with Store(tmp_path / "e.duckdb") as store:
        rid = run_training("tree:H=4,W=3", TrainConfig(dim=4, steps=100, recipe="standard", mode="generalisation",
                                                       holdout=0.3, seed=2), store)
        final = store.final_recall(rid)
        run = store.run(rid)
        ev, _ = evaluate_run(store, rid)
        held = split_pairs(perfect_tree(4, 3), mode="generalisation", holdout=0.3, seed=2).eval
        assert sum(ev.pairs.values()) == int(final["pairs"].sum()) == len(held)
        assert {t: int(c) for t, c in zip(final["distance"], final["pairs"])} == ev.pairs
        assert ev.overall == pytest.approx(run["overall"]) and ev.overall == pytest.approx(run["summary"]["overall"])
