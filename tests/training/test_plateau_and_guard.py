"""The plateau rule ends a stage once its validation stops improving, and the finetune's guard
keeps the pretrained model unless a checkpoint beats it without costing any distance more than
``finetune_guard``: pretrain-finetune never ends worse than its pretraining on validation."""

from __future__ import annotations

import numpy as np
import pytest

from hrviz.evaluate import evaluate
from hrviz.sources import load_source, perfect_tree
from hrviz.training import TrainConfig, fit
from hrviz.training.loop import eligible


def test_a_stage_stops_on_a_plateau_before_its_budget():
    h = perfect_tree(4, 3)
    res = fit(h, TrainConfig(recipe="standard", steps=3000, eval_every=20))
    rec = res.stages["train"]
    assert rec["plateau"] and rec["steps"] < 3000 and rec["budget"] == 3000
    assert res.history[-1]["step"] == rec["steps"]  # the last validation is where it stopped
    full = fit(h, TrainConfig(recipe="standard", steps=300, eval_every=20, patience=0))
    assert full.stages["train"] == {"start": 0, "budget": 300, "plateau": False, "steps": 300}


def test_eligible_needs_every_distance_within_the_guard_and_distance_zero():
    base = {"recall": {0: 1.0, 1: 0.8, 2: 0.1}}
    assert eligible({"recall": {0: 0.99, 1: 0.79, 2: 0.9}}, base, 0.02)
    assert not eligible({"recall": {0: 1.0, 1: 0.75, 2: 0.9}}, base, 0.02)   # distance 1 paid 5 points
    assert not eligible({"recall": {0: 0.85, 1: 0.9, 2: 0.9}}, {"recall": {0: 0.86, 1: 0.8}}, 0.02)  # d0 < 0.90
    assert eligible({"recall": {0: 0.5, 1: 0.9}}, base | {"recall": {0: 0.5, 1: 0.8}}, 0.02)  # d0 was low already


def test_a_harmful_finetune_keeps_the_pretrained_model():
    h = perfect_tree(4, 3)
    kw = dict(recipe="pretrain-finetune", steps=400, finetune_steps=200, eval_every=20, patience=0)
    # a finetune at 200x the learning rate wrecks the tables; the guard keeps the pretraining
    res = fit(h, TrainConfig(finetune_lr_ratio=200.0, **kw))
    pre = fit(h, TrainConfig(**{**kw, "recipe": "standard"}))
    ft = res.stages["finetune"]
    assert ft["kept_pretrained"] and res.best_step["finetune"] == 400
    assert np.allclose(res.model.query_vectors(), pre.model.query_vectors())


@pytest.mark.slow
def test_the_paper_regimes_finetune_repairs_without_costing_any_distance():
    """The story on WordNet mammals with the defaults (about 10 s): standard training in the
    paper regime is lost; pretrain-finetune from the same pretraining lifts the worst distance by
    >= 30 points, keeps distance 0 >= 0.90 and no distance falls more than 2 points."""
    h = load_source("wordnet:mammal.n.01")
    out = {}
    for recipe in ("standard", "pretrain-finetune"):
        res = fit(h, TrainConfig(regime="paper", recipe=recipe, max_distance=8))
        out[recipe] = evaluate(res.model.query_vectors(), res.model.doc_vectors(), h.closure(8), ranks=False)
    std, pf = out["standard"].recall_by_distance, out["pretrain-finetune"].recall_by_distance
    assert min(std.values()) < 0.5
    assert min(pf.values()) >= min(std.values()) + 0.30 and pf[0] >= 0.90
    assert all(pf[t] >= std[t] - 0.02 for t in std)
