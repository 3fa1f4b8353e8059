"""Recipes as sequences of stages: which pairs each stage samples, for how long, at which learning
rate and temperature, and whether its best checkpoint is kept.

A recipe is one entry of the registry :data:`REGISTRY` (name -> :class:`Recipe`): its help
text, the config fields that hold its stages' step budgets, and the function that builds its
stages. :data:`RECIPES` (name -> help text) is what the command line and the Train page offer;
:func:`recipe` looks a name up, and an unknown name is an :class:`~hrviz.errors.InputError`,
never another recipe. A new recipe is one function and one registry line.

- ``standard``: one stage on regular pairs (drawn as ``cfg.pairs`` says), T = ``temperature``;
- ``rebalanced``: one stage, per-distance sampling (distance 0 gets a share p);
- ``joint``: one stage mixing regular and long-distance pairs (share ``joint_long_share``);
- ``pretrain-finetune``: the standard stage, then a stage on long-distance pairs only
  (distance >= ``long_threshold``, uniform over them) with learning rate x
  ``finetune_lr_ratio`` and temperature ``finetune_temperature``; its best checkpoint is kept.
  A share ``finetune_self_share`` of each finetune batch is drawn from distance-0 pairs (an
  anchor for distance 0), ``finetune_freeze`` leaves one table fixed, and
  ``finetune_masking`` may mask the finetune's softmax differently from the pretraining's.

Every builder takes a resolved :class:`~hrviz.training.config.TrainConfig` (which reads its
choices from :data:`RECIPES`, so this module does not import it) and the training pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..errors import InputError
from ..pairs import (DistanceWeightedSampler, LongDistanceSampler, MixtureSampler, Pairs, UniformSampler,
                     rebalanced_weights, regular_sampler)


@dataclass
class Stage:
    name: str
    sampler: object
    steps: int
    lr: float
    temperature: float
    select_best: bool = False
    freeze: str = "none"           # "documents" / "queries": that table does not move
    masking: str | None = None     # the stage's own masking (None: the run's)


@dataclass(frozen=True)
class Recipe:
    """One recipe: ``help`` (one line, shown by the CLI and the Train page), ``budgets`` (the
    config fields holding each stage's most steps, in order) and ``stages(cfg, pairs)``."""

    help: str
    budgets: tuple[str, ...]
    stages: Callable[..., list[Stage]]


def _standard(cfg, pairs: Pairs) -> list[Stage]:
    return [Stage("train", regular_sampler(pairs, cfg.pairs), cfg.steps, cfg.lr, cfg.temperature)]


def _rebalanced(cfg, pairs: Pairs) -> list[Stage]:
    sampler = DistanceWeightedSampler(pairs, rebalanced_weights(pairs, cfg.rebalance_p))
    return [Stage("train", sampler, cfg.steps, cfg.lr, cfg.temperature)]


def _joint(cfg, pairs: Pairs) -> list[Stage]:
    long = LongDistanceSampler(pairs, cfg.long_threshold)
    mix = MixtureSampler([regular_sampler(pairs, cfg.pairs), long],
                         [1 - cfg.joint_long_share, cfg.joint_long_share])
    return [Stage("train", mix, cfg.steps, cfg.lr, cfg.temperature)]


def _pretrain_finetune(cfg, pairs: Pairs) -> list[Stage]:
    finetune = LongDistanceSampler(pairs, cfg.long_threshold)
    if cfg.finetune_self_share > 0:
        selves = UniformSampler(pairs, np.flatnonzero(pairs.distance == 0))
        finetune = MixtureSampler([finetune, selves], [1 - cfg.finetune_self_share, cfg.finetune_self_share])
    return [
        Stage("pretrain", regular_sampler(pairs, cfg.pairs), cfg.steps, cfg.lr, cfg.temperature),
        Stage("finetune", finetune, cfg.finetune_steps, cfg.lr * cfg.finetune_lr_ratio,
              cfg.finetune_temperature, select_best=True, freeze=cfg.finetune_freeze,
              masking=None if cfg.finetune_masking == "same" else cfg.finetune_masking),
    ]


#: every recipe, by name
REGISTRY: dict[str, Recipe] = {
    "standard": Recipe("one stage on all relevant pairs, sampled uniformly (the usual training)",
                       ("steps",), _standard),
    "rebalanced": Recipe("one stage; distance 0 gets a share p of the samples, other distances equal shares",
                         ("steps",), _rebalanced),
    "joint": Recipe("one stage mixing regular pairs and long-distance pairs", ("steps",), _joint),
    "pretrain-finetune": Recipe("pretrain on all pairs, then finetune on long-distance pairs with a small "
                                "learning rate and a sharp temperature; best finetune checkpoint kept",
                                ("steps", "finetune_steps"), _pretrain_finetune),
}

#: name -> help text: the recipes the command line and the Train page offer
RECIPES: dict[str, str] = {name: r.help for name, r in REGISTRY.items()}


def recipe(name: str) -> Recipe:
    """The recipe called ``name``; an unknown name is an InputError that lists the known ones."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise InputError(f"unknown recipe {name!r}", hint=f"--recipe {' | '.join(REGISTRY)}") from None


def build_stages(cfg, pairs: Pairs) -> list[Stage]:
    """The recipe of ``cfg`` (resolved) as a list of stages over the training ``pairs``."""
    return recipe(cfg.recipe).stages(cfg, pairs)


def total_steps(cfg) -> int:
    """The most steps of all stages of ``cfg``'s recipe (a resolved config): the sum of its
    stages' budgets (the plateau rule may end each earlier)."""
    return sum(getattr(cfg, field) for field in recipe(cfg.recipe).budgets)
