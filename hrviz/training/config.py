"""Training configuration: every knob of a run, in one typed dataclass (:class:`TrainConfig`),
and the recipes it can name (:data:`RECIPES`).

``None`` fields are filled from the hierarchy's size by :meth:`TrainConfig.resolved`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

from ..errors import InputError
from ..hierarchy import Hierarchy

RECIPES: dict[str, str] = {
    "standard": "one stage on all relevant pairs, sampled uniformly (the usual training)",
    "rebalanced": "one stage; distance 0 gets a share p of the samples, other distances equal shares",
    "joint": "one stage mixing regular pairs and long-distance pairs",
    "pretrain-finetune": "pretrain on all pairs, then finetune on long-distance pairs with a small "
                         "learning rate and a sharp temperature; best finetune checkpoint kept",
}


@dataclass
class TrainConfig:
    """Every knob of a run. ``None`` means "choose from the hierarchy's size" (see :meth:`resolved`)."""

    dim: int = 16                      # embedding dimension d
    recipe: str = "pretrain-finetune"  # one of RECIPES
    seed: int = 0                      # seeds init, sampling and validation queries
    max_distance: int | None = None    # cap on pair distance (None: all ancestors)
    steps: int | None = None           # steps of the main/pretrain stage
    batch_size: int | None = None      # positive pairs per step
    lr: float = 0.05                   # Adam learning rate of the main/pretrain stage
    temperature: float = 20.0          # main/pretrain temperature
    temperature_mode: str = "scale"    # "scale": z = T*cos ; "divide": z = dot/T
    normalize: bool = True             # unit-normalise query and document vectors
    normalize_queries: bool = False    # with normalize=False: unit queries in the loss, free doc norms
    init_scale: float = 1.0            # std of the initial vectors x sqrt(dim)
    negatives: str = "auto"            # "full", "sampled" or "auto" (full up to 20k documents)
    mask_false_negatives: bool = True  # mask other relevant documents out of the denominator
    n_negatives: int = 8192            # uniform negatives per step when sampled
    finetune_steps: int | None = None  # steps of the finetune stage
    finetune_lr_ratio: float = 1e-3   # finetune lr = lr * ratio (the paper's 1/1000)
    finetune_temperature: float = 500.0
    long_threshold: int | None = None  # long-distance pairs: distance >= this (None: ceil(D/2))
    rebalance_p: float = 0.03          # the paper's p for "rebalanced"
    joint_long_share: float = 0.5      # share of long-distance pairs in "joint" batches
    eval_every: int | None = None      # steps between validation evaluations
    eval_queries: int = 2000           # validation sample (queries, all their pairs)
    select_by: str = "mean"            # finetune checkpoint: "mean", "min" or "overall" val recall
    optimizer: str = "adam"            # "adam" or "sgd"
    mode: str = "reconstruction"       # or "generalisation" (held-out pairs)
    holdout: float = 0.1               # held-out share of pairs in generalisation mode
    threads: int | None = None         # torch threads (None: 1 for small hierarchies, else all cores)

    def resolved(self, h: Hierarchy) -> "TrainConfig":
        """A copy with every automatic value filled in for hierarchy ``h``."""
        c = TrainConfig(**asdict(self))
        if c.recipe not in RECIPES:
            raise InputError(f"unknown recipe {c.recipe!r}", hint=f"choose one of {', '.join(RECIPES)}")
        if c.temperature_mode not in ("scale", "divide"):
            raise InputError(f"unknown temperature mode {c.temperature_mode!r}", hint="use scale or divide")
        if c.select_by not in ("mean", "min", "overall"):
            raise InputError(f"unknown select_by {c.select_by!r}", hint="use mean, min or overall")
        if c.optimizer not in ("adam", "sgd"):
            raise InputError(f"unknown optimizer {c.optimizer!r}", hint="use adam or sgd")
        for name, value, low in (("dim", c.dim, 1), ("steps", c.steps, 1), ("batch_size", c.batch_size, 1),
                                 ("finetune_steps", c.finetune_steps, 0), ("eval_every", c.eval_every, 1),
                                 ("eval_queries", c.eval_queries, 1), ("n_negatives", c.n_negatives, 0),
                                 ("long_threshold", c.long_threshold, 1), ("max_distance", c.max_distance, 0)):
            if value is not None and value < low:
                raise InputError(f"{name} must be at least {low}, got {value}",
                                 hint=f"--{name.replace('_', '-')} {max(low, 1)} or more")
        if c.threads is not None and c.threads < 1:
            raise InputError(f"threads must be at least 1, got {c.threads}", hint="--threads 1 or 2")
        if not 0 <= c.joint_long_share <= 1:
            raise InputError(f"joint_long_share must be in [0, 1], got {c.joint_long_share}")
        for name, value in (("lr", c.lr), ("temperature", c.temperature), ("init_scale", c.init_scale),
                            ("finetune_lr_ratio", c.finetune_lr_ratio), ("finetune_temperature", c.finetune_temperature)):
            if not value > 0:
                raise InputError(f"{name} must be positive, got {value}")
        if c.negatives == "auto":
            c.negatives = "full" if h.n <= 20_000 else "sampled"
        if c.negatives not in ("full", "sampled"):
            raise InputError(f"unknown negatives {c.negatives!r}", hint="use full, sampled or auto")
        dmax = h.max_depth if c.max_distance is None else min(c.max_distance, h.max_depth)
        if c.long_threshold is None:
            c.long_threshold = max(1, math.ceil(dmax / 2))
        pairs = h.closure(c.max_distance).n_pairs
        if c.batch_size is None:
            c.batch_size = 256 if pairs < 50_000 else 2048
        if c.steps is None:
            # ~200 epochs on small hierarchies, capped at 4,000 steps: on WordNet (750k pairs,
            # batch 2048: ~11 epochs) that reaches min recall 0.92 at d=64 in about 10 minutes
            # on 2 cores (docs/science-notes.md, bench/results/wordnet.md)
            c.steps = int(min(4000, max(1000, 200 * pairs / c.batch_size)))
        if c.finetune_steps is None:
            c.finetune_steps = max(200, c.steps // 4)
        if c.threads is None:
            # small problems: one thread (thread sync costs more than the maths, badly so
            # when another process competes for the cores)
            c.threads = 1 if h.n <= 20_000 else torch.get_num_threads()
        if c.eval_every is None:
            c.eval_every = max(10, (c.steps + c.finetune_steps) // 60)
        return c
