"""Recipes as sequences of stages: which pairs each stage samples, for how long, at which learning
rate and temperature, and whether its best checkpoint is kept (see :data:`RECIPES`).

- ``standard``: one stage on regular pairs (drawn as ``cfg.pairs`` says), T = ``temperature``;
- ``rebalanced``: one stage, per-distance sampling (distance 0 gets a share p);
- ``joint``: one stage mixing regular and long-distance pairs (share ``joint_long_share``);
- ``pretrain-finetune``: the standard stage, then a stage on long-distance pairs only
  (distance >= ``long_threshold``, uniform over them) with learning rate x
  ``finetune_lr_ratio`` and temperature ``finetune_temperature``; its best checkpoint is kept.
  A share ``finetune_self_share`` of each finetune batch is drawn from distance-0 pairs (an
  anchor for distance 0), ``finetune_freeze`` leaves one table fixed, and
  ``finetune_masking`` may mask the finetune's softmax differently from the pretraining's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..pairs import (DistanceWeightedSampler, LongDistanceSampler, MixtureSampler, Pairs, UniformSampler,
                     rebalanced_weights, regular_sampler)
from .config import TrainConfig


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


def build_stages(cfg: TrainConfig, pairs: Pairs) -> list[Stage]:
    """The recipe as a list of stages (cfg must be resolved)."""
    regular = regular_sampler(pairs, cfg.pairs)
    T = cfg.temperature
    if cfg.recipe == "standard":
        return [Stage("train", regular, cfg.steps, cfg.lr, T)]
    if cfg.recipe == "rebalanced":
        sampler = DistanceWeightedSampler(pairs, rebalanced_weights(pairs, cfg.rebalance_p))
        return [Stage("train", sampler, cfg.steps, cfg.lr, T)]
    long = LongDistanceSampler(pairs, cfg.long_threshold)
    if cfg.recipe == "joint":
        mix = MixtureSampler([regular, long], [1 - cfg.joint_long_share, cfg.joint_long_share])
        return [Stage("train", mix, cfg.steps, cfg.lr, T)]
    finetune = long
    if cfg.finetune_self_share > 0:
        selves = UniformSampler(pairs, np.flatnonzero(pairs.distance == 0))
        finetune = MixtureSampler([long, selves], [1 - cfg.finetune_self_share, cfg.finetune_self_share])
    return [
        Stage("pretrain", regular, cfg.steps, cfg.lr, T),
        Stage("finetune", finetune, cfg.finetune_steps, cfg.lr * cfg.finetune_lr_ratio,
              cfg.finetune_temperature, select_best=True, freeze=cfg.finetune_freeze,
              masking=None if cfg.finetune_masking == "same" else cfg.finetune_masking),
    ]
