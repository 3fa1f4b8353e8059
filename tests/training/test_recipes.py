"""hrviz.training.recipes: the stages each recipe builds, and the settings TrainConfig refuses."""

from __future__ import annotations

import pytest

from hrviz.errors import InputError
from hrviz.pairs import all_pairs
from hrviz.sources import perfect_tree
from hrviz.training import RECIPES, TrainConfig, build_stages
from hrviz.training.recipes import REGISTRY, recipe


def test_recipes_build_expected_stages():
    h = perfect_tree(5, 5)
    cfg = TrainConfig(dim=3, recipe="pretrain-finetune", lr=0.1).resolved(h)
    stages = build_stages(cfg, all_pairs(h))
    assert [s.name for s in stages] == ["pretrain", "finetune"]
    assert stages[1].lr == pytest.approx(0.1 * cfg.finetune_lr_ratio)
    assert stages[1].temperature == cfg.temperature == 20 and stages[1].select_best  # the pretraining's T
    paper_t = TrainConfig(dim=3, recipe="pretrain-finetune", finetune_temperature=500).resolved(h)
    assert build_stages(paper_t, all_pairs(h))[1].temperature == 500  # the paper's, when asked
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


def test_recipes_are_a_registry_whose_unknown_names_fail():
    h = perfect_tree(3, 3)
    pairs = all_pairs(h)
    assert set(REGISTRY) == set(RECIPES) and all(RECIPES[name] == r.help for name, r in REGISTRY.items())
    for name, r in REGISTRY.items():  # every entry builds its stages; its budgets are their steps
        cfg = TrainConfig(dim=3, recipe=name, steps=7, finetune_steps=5).resolved(h)
        stages = build_stages(cfg, pairs)
        assert [s.steps for s in stages] == [getattr(cfg, f) for f in r.budgets]
        assert cfg.total_steps() == sum(s.steps for s in stages)
    # a recipe name that reaches the stages unresolved is refused, not trained as another recipe
    cfg = TrainConfig(dim=3, recipe="standard").resolved(h)
    cfg.recipe = "magic"
    with pytest.raises(InputError, match="unknown recipe 'magic'"):
        build_stages(cfg, pairs)
    with pytest.raises(InputError, match="unknown recipe"):
        recipe("pretrain_finetune")
    with pytest.raises(InputError, match="unknown recipe"):
        cfg.total_steps()
