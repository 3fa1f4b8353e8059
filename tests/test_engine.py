"""Loss, masking, metrics, training recipes, save/load, runs into the store, CLI train/eval/runs/export."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
import torch

from hrviz.errors import InputError
from hrviz.evaluate import evaluate, query_report
from hrviz.hierarchy import Hierarchy
from hrviz.models.dual_encoder import DualEncoder
from hrviz.pairs import (DistanceWeightedSampler, LongDistanceSampler, all_pairs, rebalanced_weights,
                         split_pairs)
from hrviz.sources import perfect_tree, random_dag
from hrviz.training import RECIPES, SoftmaxLoss, TrainConfig, build_stages, fit


def chain_plus_leaf() -> Hierarchy:
    """r <- a <- b, and r <- c (ids r=0, a=1, b=2, c=3)."""
    return Hierarchy.from_names([("a", "r"), ("b", "a"), ("c", "r")], nodes=["r", "a", "b", "c"])


# ----- evaluation on a hand-worked example ----------------------------------------------
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


# ----- the loss ---------------------------------------------------------------------------
def brute_force_loss(model, closure, queries, positives, cand, T):
    qv = model.query(torch.from_numpy(queries)).detach()
    dv = model.doc().detach()
    total = 0.0
    for b in range(len(queries)):
        rel = set(closure.of(int(queries[b]))[0].tolist())
        allowed = [y for y in cand.tolist() if y == positives[b] or y not in rel]
        z = torch.stack([T * (qv[b] @ dv[y]) for y in allowed])
        total += -(z[allowed.index(int(positives[b]))] - torch.logsumexp(z, 0)).item()
    return total / len(queries)


@pytest.mark.parametrize("negatives", ["full", "sampled"])
def test_loss_matches_brute_force_with_false_negatives_masked(negatives):
    h = random_dag(nodes=40, depth=4, parents=2, p_extra=0.5, seed=3)
    c = h.closure()
    model = DualEncoder(h.n, 5, seed=1)
    rng = np.random.default_rng(0)
    idx = rng.integers(0, c.n_pairs, size=16)
    queries, positives = c.query[idx].astype(np.int64), c.doc[idx].astype(np.int64)
    loss_fn = SoftmaxLoss(c, h.n, negatives=negatives, n_negatives=10)
    cand = loss_fn.candidates(rng, positives)
    if negatives == "sampled":
        assert set(positives.tolist()) <= set(cand.tolist()) and len(cand) < h.n
    got = loss_fn(model, queries, positives, cand, 7.0).item()
    assert got == pytest.approx(brute_force_loss(model, c, queries, positives, cand, 7.0), rel=1e-5)


def test_unmasked_loss_differs_when_false_negatives_exist():
    h = perfect_tree(4, 2)
    c = h.closure()
    model = DualEncoder(h.n, 4, seed=0)
    leaf = int(h.leaves[0])
    queries = np.array([leaf])
    positives = np.array([leaf])  # its ancestors are false negatives for this pair
    cand = np.arange(h.n)
    masked = SoftmaxLoss(c, h.n)(model, queries, positives, cand, 20.0).item()
    unmasked = SoftmaxLoss(c, h.n, masking="none")(model, queries, positives, cand, 20.0).item()
    assert unmasked > masked


def test_temperature_modes():
    h = perfect_tree(3, 2)
    c = h.closure()
    model = DualEncoder(h.n, 3, seed=0, normalize=False)
    q, p = np.array([1]), np.array([1])
    cand = np.arange(h.n)
    a = SoftmaxLoss(c, h.n, temperature_mode="scale")(model, q, p, cand, 4.0).item()
    b = SoftmaxLoss(c, h.n, temperature_mode="divide")(model, q, p, cand, 0.25).item()
    assert a == pytest.approx(b, rel=1e-6)


# ----- pairs and samplers -----------------------------------------------------------------
def test_rebalanced_weights_give_distance_zero_share_p():
    h = perfect_tree(5, 5)
    pairs = all_pairs(h)
    s = DistanceWeightedSampler(pairs, rebalanced_weights(pairs, 0.03))
    draws = pairs.distance[s.sample(np.random.default_rng(0), 200_000)]
    share = np.bincount(draws) / len(draws)
    assert share[0] == pytest.approx(0.03, abs=0.003)
    assert share[1:] == pytest.approx(np.full(4, 0.97 / 4), abs=0.005)


def test_long_distance_sampler_and_errors():
    h = perfect_tree(4, 2)
    pairs = all_pairs(h)
    s = LongDistanceSampler(pairs, 2)
    assert (pairs.distance[s.sample(np.random.default_rng(0), 1000)] >= 2).all()
    with pytest.raises(InputError, match="no pairs with distance >= 9"):
        LongDistanceSampler(pairs, 9)


def test_generalisation_split_holds_out_ancestor_pairs_only():
    h = perfect_tree(4, 3)
    sp = split_pairs(h, mode="generalisation", holdout=0.3, seed=0)
    assert len(sp.train) + len(sp.eval) == h.closure().n_pairs
    assert (sp.eval.distance > 0).all() and len(sp.eval) > 0
    assert (sp.train.distance == 0).sum() == h.n


def test_eval_mask_marks_exactly_the_held_out_pairs():
    h = random_dag(nodes=80, depth=5, parents=3, p_extra=0.5, seed=4)
    sp = split_pairs(h, mode="generalisation", holdout=0.3, seed=1)
    mask = sp.eval_mask()
    c = sp.train.closure
    got = set(zip(c.query[mask].tolist(), c.doc[mask].tolist()))
    assert got == set(zip(sp.eval.query.tolist(), sp.eval.doc.tolist()))
    assert split_pairs(h).eval_mask() is None


def test_generalisation_trains_only_on_training_pairs_and_masks_only_them(monkeypatch):
    h = perfect_tree(4, 3)
    cfg = TrainConfig(dim=4, recipe="standard", steps=30, mode="generalisation", holdout=0.3, seed=0)
    sp = split_pairs(h, mode="generalisation", holdout=0.3, seed=0)
    train = set(zip(sp.train.query.tolist(), sp.train.doc.tolist()))
    held = set(zip(sp.eval.query.tolist(), sp.eval.doc.tolist()))
    seen, closures = set(), []
    original = SoftmaxLoss.mask

    def spy(self, queries, positives, cand):
        seen.update(zip(queries.tolist(), positives.tolist()))
        closures.append(self.closure)
        return original(self, queries, positives, cand)

    monkeypatch.setattr(SoftmaxLoss, "mask", spy)
    fit(h, cfg)
    assert seen and seen <= train and not seen & held
    masked = set(zip(closures[0].query.tolist(), closures[0].doc.tolist()))
    assert masked == train  # the loss knows nothing of the held-out ancestors


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


def test_recipes_build_expected_stages():
    h = perfect_tree(5, 5)
    cfg = TrainConfig(dim=3, recipe="pretrain-finetune", lr=0.1).resolved(h)
    stages = build_stages(cfg, all_pairs(h))
    assert [s.name for s in stages] == ["pretrain", "finetune"]
    assert stages[1].lr == pytest.approx(0.1 * cfg.finetune_lr_ratio)
    assert stages[1].temperature == 500 and stages[1].select_best
    assert set(RECIPES) == {"standard", "rebalanced", "joint", "pretrain-finetune"}
    with pytest.raises(InputError, match="unknown recipe"):
        TrainConfig(recipe="magic").resolved(h)
    with pytest.raises(InputError, match="steps must be at least 1, got 0"):
        TrainConfig(steps=0).resolved(h)
    with pytest.raises(InputError, match="lr must be positive"):
        TrainConfig(lr=0.0).resolved(h)
    with pytest.raises(InputError, match="threads must be at least 1"):
        TrainConfig(threads=0).resolved(h)
    with pytest.raises(InputError, match="joint_long_share must be in"):
        TrainConfig(recipe="joint", joint_long_share=1.5).resolved(h)


# ----- training -----------------------------------------------------------------------------
def test_standard_training_solves_a_small_tree():
    h = perfect_tree(3, 3)
    r = fit(h, TrainConfig(dim=8, recipe="standard", steps=300, seed=0))
    ev = evaluate(r.model.query_vectors(), r.model.doc_vectors(), h.closure())
    assert ev.overall == 1.0


def test_finetune_keeps_best_checkpoint_never_worse_than_start():
    h = perfect_tree(4, 3)
    events = []
    r = fit(h, TrainConfig(dim=3, recipe="pretrain-finetune", steps=150, finetune_steps=100,
                           eval_every=10, finetune_lr_ratio=1.0, seed=0), callback=events.append)
    ft = [e for e in events if e["kind"] == "recall" and e["stage"] == "finetune"]
    start, best = ft[0]["criterion"], max(e["criterion"] for e in ft)
    chosen = [e for e in events if e["kind"] == "checkpoint"][0]
    assert chosen["criterion"] == best >= start
    # the model left behind is the chosen checkpoint, not the last step
    ev = evaluate(r.model.query_vectors(), r.model.doc_vectors(), h.closure(), ranks=False)
    crit = float(np.mean(list(ev.recall_by_distance.values())))
    assert crit == pytest.approx(best)


def test_same_seed_same_model_and_stop_event():
    h = perfect_tree(3, 2)
    cfg = TrainConfig(dim=4, recipe="standard", steps=50, seed=5)
    a, b = fit(h, cfg).model.query_vectors(), fit(h, cfg).model.query_vectors()
    np.testing.assert_array_equal(a, b)
    stop = threading.Event()
    stop.set()
    r = fit(h, cfg, stop=stop)
    assert r.stopped and np.isfinite(r.model.query_vectors()).all()


# ----- save / load -------------------------------------------------------------------------
def test_save_load_round_trip_and_hierarchy_check(tmp_path):
    h = perfect_tree(3, 2)
    m = DualEncoder(h.n, 4, seed=0)
    path = m.save(tmp_path / "m.safetensors", hierarchy_hash=h.hash, source="tree:H=3,W=2", params={"dim": 4})
    m2 = DualEncoder.load(path)
    np.testing.assert_array_equal(m.query_vectors(), m2.query_vectors())
    assert m2.meta["params"] == {"dim": 4} and m2.meta["source"] == "tree:H=3,W=2"
    m2.check_hierarchy(h.hash)
    with pytest.raises(InputError, match="another hierarchy"):
        m2.check_hierarchy(perfect_tree(3, 3).hash)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a model at all")
    with pytest.raises(InputError, match="not a readable hrviz model"):
        DualEncoder.load(junk)


# ----- runs into the store and the CLI -------------------------------------------------------
def test_run_training_writes_everything(tmp_path):
    from hrviz.experiment import run_training
    from hrviz.store import Store

    with Store(tmp_path / "r.duckdb") as store:
        rid = run_training("tree:H=3,W=3", TrainConfig(dim=4, steps=100, finetune_steps=40, eval_every=20), store)
        run = store.run(rid)
        assert run["status"] == "finished" and run["overall"] is not None
        assert run["params"]["finetune_temperature"] == 500
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


def test_cli_train_eval_runs_export(tmp_path, capsys):
    from hrviz.cli import main

    db = str(tmp_path / "c.duckdb")
    assert main(["train", "tree:H=3,W=3", "--dim", "4", "--recipe", "standard", "--steps", "100",
                 "--db", db, "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"run_id", "recipe", "dim", "metric", "recall_by_distance", "overall", "min", "seconds"} <= set(out)
    assert out["metric"] == "recall@auto" and out["recipe"] == "standard" and out["dim"] == 4
    assert set(out["recall_by_distance"]) == {"0", "1", "2"}
    assert main(["eval", str(out["run_id"]), "--db", db, "--json", "--k", "2"]) == 0
    ev = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert ev["metric"] == "recall@2"
    assert main(["runs", "--db", db, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["run_id"] == out["run_id"]
    assert main(["export", str(out["run_id"]), "--db", db, "--format", "projector", "--out", str(tmp_path / "p")]) == 0
    vec = np.loadtxt(tmp_path / "p" / f"run{out['run_id']}_vectors.tsv", delimiter="\t")
    assert vec.shape == (2 * 13, 4)
    assert main(["eval", "999", "--db", db]) == 2
    assert "no run 999" in capsys.readouterr().err
    assert main(["eval", str(out["run_id"]), "--db", db, "--k", "abc"]) == 2
    assert "--k must be auto or an integer" in capsys.readouterr().err


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
