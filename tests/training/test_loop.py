"""hrviz.training's loop (fit): training pairs only in generalisation mode, a small tree solved,
the best fine-tuning checkpoint kept, seeds and the stop event."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from hrviz.evaluate import evaluate
from hrviz.pairs import split_pairs
from hrviz.sources import perfect_tree
from hrviz.training import SoftmaxLoss, TrainConfig, fit


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
