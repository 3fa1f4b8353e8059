"""Training configuration: every knob of a run in one typed dataclass (:class:`TrainConfig`),
the recipes it can name (:data:`RECIPES`) and the training regimes (:data:`REGIMES`).

Each field carries its one help text in its metadata (``TrainConfig.help(name)``): the command
line's ``--flag`` help and the Train page's tooltips both read it, so they cannot drift.

A *regime* is how training meets the data, apart from the recipe: how regular pairs are drawn,
which negatives fill the softmax, what is masked out of it, and the optimiser. ``regime`` picks
a preset; every regime field left at ``None`` takes the preset's value, and a field set
explicitly (a CLI flag, a Train page control) overrides it:

- ``exact`` (the default): uniform pairs, every document as a candidate (sampled above 20k
  documents), hierarchy-aware masking of false negatives, row-only Adam. Standard training
  does not lose the long distance in this regime (docs/science-notes.md).
- ``paper``: the regime in which standard training loses the far ancestors and
  pretrain-finetune brings them back; the preset is the recipe study's choice
  (``bench/recipes.py``, ``bench/results/recipes.md``).
  On the paper's synthetic trees (SOURCE ``tree:H=..,W=..``) the values of :data:`PAPER_TREE`
  apply on top (:func:`regime_values`): the leaves as queries, distances 0-2, per-document
  pairs, free norms scored dot / T, and an anchored, masked finetune: the setting that
  reproduces the paper's synthetic table at d=3 (``bench/synthetic_paper.py``).

``None`` fields outside the regime are filled from the hierarchy's size by
:meth:`TrainConfig.resolved`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields

import torch

from ..errors import InputError
from ..hierarchy import Hierarchy
from .device import resolve_device

#: the embedding dimension of lookup tables and text towers when none is given (the paper's
#: WordNet scale); Poincaré balls default to 10 (:class:`hrviz.models.poincare_fit.PoincareConfig`,
#: as in Nickel & Kiela). ``python -m hrviz train`` without ``--dim`` uses the same defaults.
DEFAULT_DIM = 64

RECIPES: dict[str, str] = {
    "standard": "one stage on all relevant pairs, sampled uniformly (the usual training)",
    "rebalanced": "one stage; distance 0 gets a share p of the samples, other distances equal shares",
    "joint": "one stage mixing regular pairs and long-distance pairs",
    "pretrain-finetune": "pretrain on all pairs, then finetune on long-distance pairs with a small "
                         "learning rate and a sharp temperature; best finetune checkpoint kept",
}

#: how regular pairs are drawn
PAIR_DRAWS = {
    "uniform": "uniform over all relevant pairs",
    "per-query": "a query uniformly, then one of its relevant documents",
    "per-document": "a document uniformly, then one of the queries it is relevant to "
                    "(far ancestors get few pairs)",
}
#: which documents fill the softmax denominator
NEGATIVES = {
    "full": "every document (the exact softmax)",
    "sampled": "the batch's positives plus n_negatives documents drawn uniformly",
    "in-batch": "the batch's positives only, one column per pair (duplicates included)",
    "auto": "full up to 20,000 documents, else sampled",
}
#: what is masked out of the denominator
MASKINGS = {
    "none": "nothing: other relevant documents count as negatives",
    "duplicates": "other copies of the positive document in the candidates",
    "hierarchy": "every document relevant to the query other than the positive (exact)",
}
#: how the tables are updated
OPTIMIZERS = {
    "lazy-adam": "Adam on the rows a step touched only (moments of other rows wait)",
    "adam": "dense Adam: every row moves on its momentum at every step",
    "sgd": "plain SGD on the touched rows",
    "adagrad": "Adagrad on the touched rows",
}
_OPTIMIZER_ALIASES = {"dense-adam": "adam"}
#: which nodes are queries (every node is always a document)
QUERY_SETS = {
    "all": "every node is a query: it retrieves itself and its ancestors",
    "leaves": "only the leaves are queries (the paper's synthetic tree: a leaf retrieves itself "
              "and its ancestors); training pairs and evaluation count the leaves' pairs only",
}
#: which table the finetune stage leaves fixed
FREEZES = {
    "none": "both tables move",
    "documents": "the document table stays fixed: only the queries move toward their far ancestors",
    "queries": "the query table stays fixed: only the documents move",
}

#: regime presets: values for the regime fields (and the knobs the regime's study tuned)
_SCORES = {"temperature_mode": "scale", "normalize": True, "finetune_temperature": 500.0,
           "finetune_self_share": 0.0, "finetune_masking": "same", "max_distance": None,
           "steps": None, "finetune_steps": None}
REGIMES: dict[str, dict] = {
    "exact": {"queries": "all", "pairs": "uniform", "negatives": "auto", "masking": "hierarchy",
              "optimizer": "lazy-adam", "lr": 0.05, "finetune_lr_ratio": 1e-3, "long_threshold": None,
              **_SCORES},
    # the recipe study's choice (bench/results/recipes.md): the failure is robust (longer
    # training makes distance 8 worse) and finetuning every non-exact pair (distance >= 1) at
    # lr x 1/10 repairs it; the paper's 1/1000 does nothing within the steps tried
    "paper": {"queries": "all", "pairs": "uniform", "negatives": "in-batch", "masking": "none",
              "optimizer": "adam", "lr": 0.01, "finetune_lr_ratio": 0.1, "long_threshold": 1,
              **_SCORES},
}
#: the paper regime on the paper's synthetic trees (SOURCE ``tree:H=..,W=..``): the values that
#: reproduce its synthetic table at d=3 (bench/synthetic_paper.py, bench/results/synthetic_paper.md).
#: The leaves are the queries, distances 0-2 (the paper's table), regular pairs drawn per
#: document (the standard shape), free norms scored by dot / T (the unit sphere in 3-d cannot
#: hold the tree: cosine with every false negative masked ends at d0 7%), and a finetune that
#: masks the other ancestors and keeps distance 0 in half of each batch (an anchor). Each
#: value applies only where the field is left at None.
PAPER_TREE: dict = {"queries": "leaves", "max_distance": 2, "pairs": "per-document",
                    "negatives": "full", "masking": "none", "optimizer": "adam", "lr": 0.05,
                    "temperature_mode": "divide", "normalize": False, "steps": 3000,
                    "finetune_steps": 3000, "finetune_lr_ratio": 1.0, "finetune_temperature": 20.0,
                    "finetune_self_share": 0.5, "finetune_masking": "hierarchy", "long_threshold": 1}
REGIME_HELP = {
    "exact": "uniform pairs, full softmax, hierarchy-masked, row-only Adam: the cause removed",
    "paper": "in-batch negatives, no masking, dense Adam: standard training loses the far ancestors "
             "(on tree:H=..,W=.. the paper's synthetic setting: leaves as queries, distances 0-2, "
             "per-document pairs, free norms, anchored masked finetune)",
}
_REGIME_FIELDS = tuple(REGIMES["exact"])


def regime_values(regime: str, h: Hierarchy | None = None) -> dict:
    """The preset of ``regime`` for hierarchy ``h``: :data:`REGIMES`, with :data:`PAPER_TREE`
    over it for the paper regime on a synthetic tree (``h.source`` starts with ``tree:``)."""
    if regime not in REGIMES:
        raise InputError(f"unknown regime {regime!r}", hint=f"choose one of {', '.join(REGIMES)}")
    values = dict(REGIMES[regime])
    if regime == "paper" and h is not None and str(getattr(h, "source", "")).startswith("tree:"):
        values.update(PAPER_TREE)
    return values


def _opt(default, help: str, choices=None, *, const=None):
    """A field with its help text; ``const``: the value of the bare command-line flag (e.g.
    ``--logq`` alone means ``--logq 1``)."""
    meta = {"help": help}
    if choices is not None:
        meta["choices"] = tuple(choices)
    if const is not None:
        meta["const"] = const
    return field(default=default, metadata=meta)


@dataclass
class TrainConfig:
    """Every knob of a run. ``None`` means "from the regime, else from the hierarchy's size"
    (see :meth:`resolved`); ``TrainConfig.help(name)`` is a field's help text."""

    dim: int = _opt(DEFAULT_DIM, "embedding dimension d (default 64, as at WordNet scale; "
                                 "Poincaré's own default is 10)")
    recipe: str = _opt("pretrain-finetune", "how training is staged", RECIPES)
    regime: str = _opt("exact", "preset for pairs, negatives, masking and optimiser", REGIMES)
    seed: int = _opt(0, "seeds the initialisation, the sampling and the validation queries")
    max_distance: int | None = _opt(None, "cap on ancestor distance (default: the regime's, else all "
                                          "ancestors)")
    steps: int | None = _opt(None, "steps of the main/pretrain stage (default: about 200 epochs, "
                                   "1,000 to 4,000 steps)")
    batch_size: int | None = _opt(None, "positive pairs per step (default: 256, or 2048 for large "
                                        "hierarchies)")
    queries: str | None = _opt(None, "which nodes are queries (default: the regime's)", QUERY_SETS)
    pairs: str | None = _opt(None, "how regular pairs are drawn (default: the regime's)", PAIR_DRAWS)
    negatives: str | None = _opt(None, "which documents fill the softmax (default: the regime's)",
                                 NEGATIVES)
    n_negatives: int = _opt(8192, "uniform negatives per step when sampled")
    masking: str | None = _opt(None, "what is masked out of the softmax denominator (default: "
                                     "the regime's)", MASKINGS)
    optimizer: str | None = _opt(None, "how the tables are updated (default: the regime's)", OPTIMIZERS)
    lr: float | None = _opt(None, "learning rate of the main/pretrain stage (default: the regime's)")
    temperature: float = _opt(20.0, "temperature of the main/pretrain stage")
    temperature_mode: str | None = _opt(None, "scale: logits = T x cosine; divide: logits = dot / T",
                                 ("scale", "divide"))
    logq: float = _opt(0.0, "logQ correction of in-batch and sampled negatives (Yi et al. 2019): "
                            "logits - alpha x log(the document's share of the stage's positives); "
                            "alpha = this, 1 the full correction, 0 off (--logq alone: 1); "
                            "no effect with full negatives", const=1.0)
    normalize: bool | None = _opt(None, "unit-normalise query and document vectors (default: the "
                                        "regime's: yes, except the paper regime on tree:...)")
    normalize_queries: bool = _opt(False, "with --no-normalize: unit queries in the loss, free "
                                          "document norms")
    init_scale: float = _opt(1.0, "std of the initial vectors x sqrt(dim)")
    finetune_steps: int | None = _opt(None, "steps of the finetune stage (default: a quarter of "
                                            "the pretrain steps, at least 200)")
    finetune_lr_ratio: float | None = _opt(None, "finetune learning rate = lr x this (the paper's "
                                                 "1/1000; default: the regime's)")
    finetune_temperature: float | None = _opt(None, "temperature of the finetune stage (default: "
                                                     "the regime's: the paper's 500)")
    long_threshold: int | None = _opt(None, "finetune pairs have distance >= this (default: the "
                                            "regime's; exact: half the max distance)")
    rebalance_p: float = _opt(0.03, "share of distance-0 pairs for the rebalanced recipe")
    joint_long_share: float = _opt(0.5, "share of long-distance pairs in joint batches")
    eval_every: int | None = _opt(None, "steps between validation evaluations")
    eval_queries: int = _opt(2000, "queries in the validation sample")
    finetune_self_share: float | None = _opt(None, "share of each finetune batch drawn from distance-0 "
                                           "(self) pairs, to anchor distance 0 while the far "
                                           "ancestors move (default: the regime's)")
    finetune_freeze: str = _opt("none", "table the finetune stage leaves fixed", FREEZES)
    finetune_masking: str | None = _opt(None, "masking of the finetune stage (same: the run's "
                                              "masking; default: the regime's)",
                                 ("same", *MASKINGS))
    select_by: str = _opt("mean", "finetune checkpoint criterion on validation recall",
                          ("mean", "min", "overall"))
    mode: str = _opt("reconstruction", "reconstruction (evaluate on all pairs) or generalisation "
                                       "(held-out pairs)", ("reconstruction", "generalisation"))
    holdout: float = _opt(0.1, "held-out share of pairs in generalisation mode")
    threads: int | None = _opt(None, "torch threads for a command-line run (default: 1 for small "
                                     "hierarchies, else all cores)")
    device: str = _opt("auto", "where training and evaluation run: auto (CUDA when present), cpu, cuda",
                       ("auto", "cpu", "cuda"))
    distributed: bool = _opt(False, "data-parallel over the ranks of python -m torch.distributed.run "
                                    "(batch size is the total over ranks)")

    @classmethod
    def help(cls, name: str) -> str:
        """The help text of field ``name`` (the one the CLI and the Train page show)."""
        for f in fields(cls):
            if f.name == name:
                return f.metadata.get("help", "")
        raise KeyError(name)

    @classmethod
    def const(cls, name: str):
        """The value of field ``name``'s bare command-line flag, or None (it needs a value)."""
        for f in fields(cls):
            if f.name == name:
                return f.metadata.get("const")
        raise KeyError(name)

    @classmethod
    def choices(cls, name: str) -> tuple[str, ...] | None:
        """The allowed values of a string field, or None."""
        for f in fields(cls):
            if f.name == name:
                return f.metadata.get("choices")
        raise KeyError(name)

    def total_steps(self) -> int:
        """Steps of all stages (a resolved config)."""
        return self.steps + (self.finetune_steps if self.recipe == "pretrain-finetune" else 0)

    def resolved(self, h: Hierarchy) -> "TrainConfig":
        """A copy with every automatic value filled in for hierarchy ``h``."""
        c = TrainConfig(**asdict(self))
        c.optimizer = _OPTIMIZER_ALIASES.get(c.optimizer, c.optimizer)
        preset = regime_values(c.regime, h)
        for name in _REGIME_FIELDS:
            if getattr(c, name) is None:
                setattr(c, name, preset[name])
        _check_choices(c)
        _check_ranges(c)
        c.device = resolve_device(c.device)
        if c.negatives == "auto":
            c.negatives = "full" if h.n <= 20_000 else "sampled"
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
            c.eval_every = max(10, c.total_steps() // 60)
        return c


def _check_choices(c: TrainConfig) -> None:
    for f in fields(c):
        allowed = f.metadata.get("choices")
        value = getattr(c, f.name)
        if allowed is not None and value not in allowed:
            raise InputError(f"unknown {f.name.replace('_', ' ')} {value!r}",
                             hint=f"--{f.name.replace('_', '-')} {' | '.join(allowed)}")


def _check_ranges(c: TrainConfig) -> None:
    for name, low in (("dim", 1), ("steps", 1), ("batch_size", 1), ("finetune_steps", 0),
                      ("eval_every", 1), ("eval_queries", 1), ("n_negatives", 0),
                      ("long_threshold", 1), ("max_distance", 0), ("threads", 1)):
        value = getattr(c, name)
        if value is not None and value < low:
            raise InputError(f"{name} must be at least {low}, got {value}",
                             hint=f"--{name.replace('_', '-')} {max(low, 1)} or more")
    for name in ("joint_long_share", "finetune_self_share"):
        if not 0 <= getattr(c, name) <= 1:
            raise InputError(f"{name} must be in [0, 1], got {getattr(c, name)}")
    if c.finetune_self_share == 1:
        raise InputError("finetune_self_share must be below 1: the finetune needs long-distance pairs")
    if not c.logq >= 0:
        raise InputError(f"logq must be at least 0, got {c.logq}", hint="--logq 1 (the full correction) or 0 (off)")
    for name in ("lr", "temperature", "init_scale", "finetune_lr_ratio", "finetune_temperature"):
        value = getattr(c, name)
        if not value > 0:
            raise InputError(f"{name} must be positive, got {value}")
