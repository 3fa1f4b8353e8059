"""Training configuration: every knob of a run in one typed dataclass (:class:`TrainConfig`)
and the training regimes (:data:`REGIMES`); the recipes it can name are the registry of
:mod:`hrviz.training.recipes` (:data:`RECIPES`).

Each field carries its one help text in its metadata (``TrainConfig.help(name)``): the command
line's ``--flag`` help and the Train page's tooltips both read it, so they cannot drift.

A *regime* is how training meets the data, apart from the recipe: how regular pairs are drawn,
which negatives fill the softmax, what is masked out of it, and the optimiser. ``regime`` picks
a preset; every regime field left at ``None`` takes the preset's value, and a field set
explicitly (a CLI flag, a Train page control) overrides it:

- ``exact`` (the default): uniform pairs, every document as a candidate (sampled where that
  is cheaper: more documents than the batch plus ``n_negatives``), hierarchy-aware masking of false negatives, row-only Adam. Standard training
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

from dataclasses import asdict, dataclass, field, fields

import torch

from ..errors import InputError
from ..hierarchy import Hierarchy
from .device import resolve_device
from ..pairs import query_nodes
from ..rule import defaults, eval_every, measure, threads
from .recipes import RECIPES, total_steps


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
    "auto": "full where it is cheaper than sampled (documents <= batch + n_negatives), else sampled",
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

#: the finetune of pretrain-finetune, the same in every regime and on every hierarchy (the map
#: behind it: docs/defaults.md, bench/results/defaults.md): every non-exact pair (distance >= 1),
#: half of each batch distance-0 pairs (an anchor: a finetune on far pairs alone trades distance
#: 0 away), the other ancestors masked out of the softmax (they are not negatives), at the
#: pretraining's learning rate and temperature; the plateau rule ends it and a guard keeps the
#: pretrained model unless a checkpoint is better without costing any distance
#: (:func:`hrviz.training.loop.run_stages`).
FINETUNE = {"finetune_lr_ratio": 1.0, "finetune_temperature": None, "finetune_self_share": 0.5,
            "finetune_masking": "hierarchy", "long_threshold": 1}
_SCORES = {"temperature_mode": "scale", "normalize": True, "max_distance": None, **FINETUNE}
#: regime presets: values for the regime fields. No preset depends on a hierarchy's name: the
#: values that depend on the hierarchy (dimension, batch, step budget, validation) come from
#: its measures (:mod:`hrviz.rule`).
REGIMES: dict[str, dict] = {
    "exact": {"queries": "all", "pairs": "uniform", "negatives": "auto", "masking": "hierarchy",
              "optimizer": "lazy-adam", "lr": 0.05, **_SCORES},
    # the regime in which standard training loses the far ancestors (bench/results/recipes.md):
    # in-batch negatives, nothing masked, dense Adam
    "paper": {"queries": "all", "pairs": "uniform", "negatives": "in-batch", "masking": "none",
              "optimizer": "adam", "lr": 0.05, **_SCORES},
}
#: the paper's synthetic experiment (``tree:H=4,W=5`` at d=3, hrviz.story.TREE_CHAPTERS and
#: bench/synthetic_paper.py): what *defines* that experiment, passed as explicit values; its
#: training values (steps, batch, finetune) come from the rule like everyone's. The leaves are
#: the queries, distances 0-2 (the paper's table), regular pairs drawn per document (the
#: standard shape), the full softmax, and free norms scored by dot / T (the unit sphere in 3-d
#: cannot hold the tree: cosine with every false negative masked ends at d0 7%).
#: Its finetune may pay up to 10 points at distance 0 (``finetune_guard``, distance 0 still
#: >= 0.90): at d=3 the tree has no room for a repair that costs nothing there (the best
#: finetune checkpoints of seeds 0-2 keep distance 0 at 0.90-0.98; docs/defaults.md).
PAPER_SYNTHETIC: dict = {"queries": "leaves", "max_distance": 2, "pairs": "per-document",
                         "negatives": "full", "temperature_mode": "divide", "normalize": False,
                         "finetune_guard": 0.10}
#: named experiments (``--experiment NAME``): what defines each, applied where a field is left
#: unset; chosen by name on purpose, never by a hierarchy's source
EXPERIMENTS: dict[str, dict] = {"paper-synthetic": PAPER_SYNTHETIC}
#: the guard of the finetune where no experiment sets one
FINETUNE_GUARD = 0.02
REGIME_HELP = {
    "exact": "uniform pairs, full softmax, hierarchy-masked, row-only Adam: the cause removed",
    "paper": "in-batch negatives, no masking, dense Adam: standard training loses the far ancestors",
}
_REGIME_FIELDS = tuple(REGIMES["exact"])


def regime_values(regime: str) -> dict:
    """The preset of ``regime`` (:data:`REGIMES`): the same on every hierarchy."""
    if regime not in REGIMES:
        raise InputError(f"unknown regime {regime!r}", hint=f"choose one of {', '.join(REGIMES)}")
    return dict(REGIMES[regime])


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

    dim: int | None = _opt(None, "embedding dimension d (default: from the hierarchy, "
                                 "hrviz.rule: 64 on WordNet, 16-128; Poincaré's own default is 10)")
    recipe: str = _opt("pretrain-finetune", "how training is staged", RECIPES)
    regime: str = _opt("exact", "preset for pairs, negatives, masking and optimiser", REGIMES)
    seed: int = _opt(0, "seeds the initialisation, the sampling and the validation queries")
    max_distance: int | None = _opt(None, "cap on ancestor distance (default: the regime's, else all "
                                          "ancestors)")
    steps: int | None = _opt(None, "most steps of the main/pretrain stage; the plateau rule ends it "
                                   "earlier (default: about 200 epochs, 3,000 to 4,000 steps)")
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
    finetune_steps: int | None = _opt(None, "most steps of the finetune stage; the plateau rule ends "
                                            "it earlier (default: the pretraining's budget)")
    finetune_lr_ratio: float | None = _opt(None, "finetune learning rate = lr x this (the paper's "
                                                 "1/1000; default: the regime's)")
    finetune_temperature: float | None = _opt(None, "temperature of the finetune stage (default: "
                                                     "the pretraining's; the paper's is 500)")
    long_threshold: int | None = _opt(None, "finetune pairs have distance >= this (default: the "
                                            "regime's; exact: half the max distance)")
    rebalance_p: float = _opt(0.03, "share of distance-0 pairs for the rebalanced recipe")
    joint_long_share: float = _opt(0.5, "share of long-distance pairs in joint batches")
    eval_every: int | None = _opt(None, "steps between validation evaluations (default: a 40th of "
                                        "the step budget)")
    patience: int | None = _opt(None, "a stage stops after this many validations in a row without a "
                                      "gain of plateau_delta (0: run every step; default 5)")
    plateau_delta: float = _opt(0.002, "the smallest gain of the validation criterion that counts "
                                       "as progress for the plateau rule")
    finetune_guard: float | None = _opt(None, "the finetune keeps a checkpoint only if no distance "
                                              "is more than this below the pretrained model on "
                                              "validation (and distance 0 stays >= 0.90); 1 turns the "
                                              "guard off (default 0.02)")
    experiment: str | None = _opt(None, "a named experiment whose defining values apply where a "
                                        "field is left unset: paper-synthetic (the paper's tree "
                                        "table: leaves as queries, distances 0-2, per-document "
                                        "pairs, full softmax, free norms)", ("paper-synthetic",))
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
    threads: int | None = _opt(None, "torch threads for a command-line run (default: 1 up to 20,000 "
                                     "nodes, else all cores: hrviz.rule.threads)")
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
        """The most steps of all stages (a resolved config): the sum of the recipe's stage
        budgets (:func:`hrviz.training.recipes.total_steps`)."""
        return total_steps(self)

    def resolved(self, h: Hierarchy) -> "TrainConfig":
        """A copy with every automatic value filled in for hierarchy ``h``."""
        c = TrainConfig(**asdict(self))
        c.optimizer = _OPTIMIZER_ALIASES.get(c.optimizer, c.optimizer)
        if c.experiment is not None:
            if c.experiment not in EXPERIMENTS:
                raise InputError(f"unknown experiment {c.experiment!r}", hint=f"--experiment {' | '.join(EXPERIMENTS)}")
            for name, value in EXPERIMENTS[c.experiment].items():
                if getattr(c, name) is None:
                    setattr(c, name, value)
        if c.finetune_guard is None:
            c.finetune_guard = FINETUNE_GUARD
        preset = regime_values(c.regime)
        for name in _REGIME_FIELDS:
            if getattr(c, name) is None:
                setattr(c, name, preset[name])
        if c.finetune_temperature is None:
            c.finetune_temperature = c.temperature
        _check_choices(c)
        _check_ranges(c)
        c.device = resolve_device(c.device)
        if c.long_threshold is None:
            c.long_threshold = 1
        # the hierarchy's own values (hrviz.rule): one rule for every hierarchy
        rule = defaults(measure(h, c.max_distance, query_nodes(h, c.queries)))
        for name in ("dim", "batch_size", "steps", "finetune_steps", "patience"):
            if getattr(c, name) is None:
                setattr(c, name, rule[name])
        if c.eval_every is None:
            c.eval_every = eval_every(c.steps)
        if c.negatives == "auto":  # the full softmax where it costs no more than sampling would
            c.negatives = "full" if h.n <= c.batch_size + c.n_negatives else "sampled"
        if c.threads is None:
            # small hierarchies: one thread (thread sync costs more than the maths, badly so
            # when another process competes for the cores: hrviz.rule.threads)
            c.threads = threads(h.n, torch.get_num_threads())
        return c


def _check_choices(c: TrainConfig) -> None:
    for f in fields(c):
        allowed = f.metadata.get("choices")
        value = getattr(c, f.name)
        if allowed is not None and value not in allowed and not (value is None and f.name == "experiment"):
            raise InputError(f"unknown {f.name.replace('_', ' ')} {value!r}",
                             hint=f"--{f.name.replace('_', '-')} {' | '.join(allowed)}")


def _check_ranges(c: TrainConfig) -> None:
    for name, low in (("dim", 1), ("steps", 1), ("batch_size", 1), ("finetune_steps", 0), ("patience", 0),
                      ("eval_every", 1), ("eval_queries", 1), ("n_negatives", 0),
                      ("long_threshold", 1), ("max_distance", 0), ("threads", 1)):
        value = getattr(c, name)
        if value is not None and value < low:
            raise InputError(f"{name} must be at least {low}, got {value}",
                             hint=f"--{name.replace('_', '-')} {max(low, 1)} or more")
    for name in ("joint_long_share", "finetune_self_share", "finetune_guard"):
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
