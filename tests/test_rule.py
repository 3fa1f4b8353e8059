"""hrviz.rule: the one rule for the defaults (measures -> d, batch, budget), the plateau rule,
and the dimension warning; and that the values depend on the hierarchy, never on its name."""

from __future__ import annotations

import math

import pytest

from hrviz.rule import (MAX_DIM, MIN_DIM, Measures, Plateau, defaults, dim_warning, measure,
                        recommended_dim)
from hrviz.sources import load_source, perfect_tree, random_dag
from hrviz.training import TrainConfig


def test_measures_of_a_perfect_tree():
    h = perfect_tree(4, 5)  # 156 nodes, leaves at depth 3
    m = measure(h)
    assert (m.nodes, m.depth, m.max_distance, m.queries) == (156, 3, 3, 156)
    assert m.pairs == 1 + 5 * 2 + 25 * 3 + 125 * 4 and m.max_relevant == 4
    assert m.leaf_share == pytest.approx(125 / 156) and m.mean_fanout == 5 and m.max_fanout == 5
    capped = measure(h, 1)
    assert capped.max_distance == 1 and capped.pairs == 1 + 155 * 2 and capped.max_relevant == 2
    leaves = measure(h, 2, h.leaves)
    assert leaves.queries == 125 and leaves.pairs == 125 * 3


def _m(nodes: int, mean_relevant: float) -> Measures:
    return Measures(nodes=nodes, depth=8, max_distance=8, pairs=int(nodes * mean_relevant), queries=nodes,
                    mean_relevant=mean_relevant, max_relevant=9, leaf_share=0.8, mean_fanout=4, max_fanout=50)


def test_the_dimension_grows_with_relevant_set_and_size_within_bounds():
    # full WordNet at cap 8 (82,115 nodes, ~9.05 relevant documents per query): the paper's 64
    assert recommended_dim(_m(82_115, 9.05)) == 64
    assert recommended_dim(_m(1_182, 6.5)) == 32  # WordNet mammals
    assert recommended_dim(_m(10, 1.0)) == MIN_DIM and recommended_dim(_m(10**7, 40)) == MAX_DIM
    dims = [recommended_dim(_m(n, s)) for n, s in ((1000, 3), (10_000, 6), (100_000, 12))]
    assert dims == sorted(dims) and all(math.log2(d).is_integer() for d in dims)


def test_budget_batch_and_validation_from_the_pairs():
    small, large = defaults(_m(1000, 5)), defaults(_m(80_000, 9))
    assert small["batch_size"] == 256 and large["batch_size"] == 2048
    assert 3000 <= small["steps"] <= 4000 and large["steps"] == 4000
    assert small["finetune_steps"] == small["steps"] and small["eval_every"] == small["steps"] // 40
    assert small["patience"] == 5


def test_no_value_depends_on_a_name():
    h = random_dag(nodes=300, depth=4, seed=1)
    other = random_dag(nodes=300, depth=4, seed=1)
    other.source = "tree:H=4,W=5"  # the name that once picked a preset
    assert TrainConfig().resolved(h) == TrainConfig().resolved(other)
    assert TrainConfig(regime="paper").resolved(h) == TrainConfig(regime="paper").resolved(other)


def test_an_explicit_value_wins_over_the_rule():
    h = perfect_tree(3, 3)
    cfg = TrainConfig(dim=7, steps=11, batch_size=5, patience=0, eval_every=3).resolved(h)
    assert (cfg.dim, cfg.steps, cfg.batch_size, cfg.patience, cfg.eval_every) == (7, 11, 5, 0, 3)


def test_plateau_stops_after_patience_validations_without_a_real_gain():
    p = Plateau(3, delta=0.01)
    assert [p.update(v) for v in (0.5, 0.6, 0.605, 0.609, 0.608)] == [False, False, False, False, True]
    q = Plateau(3, delta=0.01)  # small gains add up against the stale best: progress, not a plateau
    assert not any(q.update(v) for v in (0.5, 0.506, 0.512, 0.518, 0.524, 0.53))
    never = Plateau(0)
    assert not any(never.update(0.5) for _ in range(50))


def test_a_small_dimension_is_named_before_training():
    m = measure(load_source("wordnet:mammal.n.01"), 8)
    assert dim_warning(m, recommended_dim(m)) is None and dim_warning(m, recommended_dim(m) // 2 + 1) is None
    text = dim_warning(m, 4)
    assert "d=4" in text and f"d={recommended_dim(m)}" in text and len(text) < 300
