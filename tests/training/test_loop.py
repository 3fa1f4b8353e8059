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
from hrviz.training.loop import eligible


def test_generalisation_trains_only_on_training_pairs_and_masks_only_them(monkeypatch):
    h = perfect_tree(4, 3)
    cfg = TrainConfig(dim=4, recipe="standard", steps=30, mode="generalisation", holdout=0.3, seed=0)
    sp = split_pairs(h, mode="generalisation", holdout=0.3, seed=0)
    train = set(zip(sp.train.query.tolist(), sp.train.doc.tolist()))
    held = set(zip(sp.eval.query.tolist(), sp.eval.doc.tolist()))
    seen, closures = set(), []
    original = SoftmaxLoss.columns

    def spy(self, gen, queries, positives):
        seen.update(zip(queries.tolist(), positives.tolist()))
        closures.append(self.closure)
        return original(self, gen, queries, positives)

    monkeypatch.setattr(SoftmaxLoss, "columns", spy)
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
    cfg = TrainConfig(dim=3, recipe="pretrain-finetune", steps=150, finetune_steps=100,
                      eval_every=10, finetune_lr_ratio=1.0, seed=0)
    r = fit(h, cfg, callback=events.append)
    ft = [e for e in events if e["kind"] == "recall" and e["stage"] == "finetune"]
    # the best of the checkpoints the guard lets replace the pretrained model (its start included)
    start = ft[0]["criterion"]
    best = max(e["criterion"] for e in ft if e is ft[0] or eligible(e, ft[0], r.config.finetune_guard))
    chosen = [e for e in events if e["kind"] == "checkpoint"][0]
    assert chosen["criterion"] == best >= start
    # the model left behind is the chosen checkpoint, not the last step
    ev = evaluate(r.model.query_vectors(), r.model.doc_vectors(), h.closure(), ranks=False)
    crit = float(np.mean(list(ev.recall_by_distance.values())))
    assert crit == pytest.approx(best)


@pytest.mark.parametrize("regime,negatives", [("exact", "full"), ("exact", "sampled"), ("paper", "in-batch")])
def test_same_seed_same_model_and_stop_event(regime, negatives):
    h = perfect_tree(3, 2)
    cfg = TrainConfig(dim=4, recipe="pretrain-finetune", regime=regime, negatives=negatives, n_negatives=5,
                      steps=50, finetune_steps=20, eval_every=10, seed=5)
    a, b = fit(h, cfg), fit(h, cfg)
    np.testing.assert_array_equal(a.model.query_vectors(), b.model.query_vectors())
    np.testing.assert_array_equal(a.model.doc_vectors(), b.model.doc_vectors())
    assert a.history == b.history
    other = fit(h, TrainConfig(**{**cfg.__dict__, "seed": 6}))
    assert not np.array_equal(a.model.query_vectors(), other.model.query_vectors())
    stop = threading.Event()
    stop.set()
    r = fit(h, cfg, stop=stop)
    assert r.stopped and np.isfinite(r.model.query_vectors()).all()
