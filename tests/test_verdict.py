"""hrviz.verdict: the findings after a run, from its summary, in plain words with numbers."""

from __future__ import annotations

from hrviz.rule import measure
from hrviz.sources import perfect_tree
from hrviz.verdict import lines, verdict


def _s(rbd, **kw):
    return {"recall_by_distance": {str(k): v for k, v in rbd.items()}, "overall": kw.pop("overall", 0.5), **kw}


def codes(findings):
    return [f["code"] for f in findings]


def test_a_good_run_says_so_with_its_worst_distance():
    f = verdict(_s({0: 1.0, 1: 0.97, 2: 0.93}, overall=0.98), {"recipe": "standard"})
    assert codes(f) == ["good"] and "distance 2, at 93.0%" in f[0]["text"] and f[0]["level"] == "ok"


def test_lost_names_the_distances_under_half():
    f = verdict(_s({0: 1.0, 1: 0.8, 2: 0.45, 3: 0.1}), {"recipe": "standard"})
    assert codes(f) == ["lost"] and f[0]["numbers"]["distances"] == [2, 3]
    assert "2 (45.0%), 3 (10.0%)" in f[0]["text"]


def test_a_finetune_that_kept_the_pretrained_model_is_reported_with_what_to_try():
    stages = {"pretrain": {"steps": 100}, "finetune": {"steps": 400, "pretrained": {"0": 1.0, "1": 0.3},
                                                       "kept_pretrained": True}}
    f = verdict(_s({0: 1.0, 1: 0.3}, stages=stages), {"recipe": "pretrain-finetune"})
    assert codes(f) == ["lost", "finetune-kept-pretrained"]
    assert "did not help" in f[1]["text"] and "--regime exact" in f[1]["text"] and "400" in f[1]["text"]
    good = verdict(_s({0: 1.0, 1: 0.97}, stages=stages), {"recipe": "pretrain-finetune"})
    assert codes(good) == ["good", "finetune-kept-pretrained"] and good[1]["level"] == "ok"
    assert "nothing to add" in good[1]["text"]  # a good pretraining kept is no failure
    stages["finetune"]["kept_pretrained"] = False
    f = verdict(_s({0: 1.0, 1: 0.95}, stages=stages), {"recipe": "pretrain-finetune"})
    assert codes(f) == ["good", "finetune-repaired"] and "from 30.0%" in f[1]["text"]


def test_distance_zero_collapse_names_its_cause():
    f = verdict(_s({0: 0.6, 1: 0.99}), {"recipe": "standard", "logq": 1.0})
    assert codes(f) == ["self-collapsed"] and "logQ" in f[0]["text"] and "60.0%" in f[0]["text"]
    f = verdict(_s({0: 0.03, 1: 1.0}), {"recipe": "rebalanced"})
    assert "rebalanced" in f[0]["text"]


def test_the_dimension_is_named_only_where_the_run_is_not_good():
    m = measure(perfect_tree(5, 4))
    bad = verdict(_s({0: 0.5, 1: 0.7}), {"recipe": "standard", "dim": 2}, m)
    assert "dim-small" in codes(bad)
    good = verdict(_s({0: 1.0, 1: 1.0}), {"recipe": "standard", "dim": 2}, m)
    assert "dim-small" not in codes(good)
    assert all(line.startswith(("ok: ", "warning: ")) for line in lines(bad))
    assert verdict({}, {}) == []
