"""Training: the softmax loss with false-negative masking, and the recipes as stages.

The loss (science.md section 2), for a batch of positive pairs (q_b, x_b)::

    loss = mean_b  -log( exp(z[b, x_b]) / sum_{y in C, y not in S(q_b) \\ {x_b}} exp(z[b, y]) )

with ``z = T * cos(q, y)`` (``temperature_mode="scale"``, the default) or
``z = <q, y> / T`` (``"divide"``). ``C`` is the candidate set: every document
(``negatives="full"``, exact) or the batch's positives plus ``n_negatives`` documents
drawn uniformly (``"sampled"``, fast; a uniform proposal needs no logQ correction).
Every other document relevant to q_b is a false negative and is masked out of the
denominator.

Temperature convention, settled by experiment on the paper's tree (H=4, W=5, d=3;
numbers in docs/science-notes.md): the paper's T=20 pretraining and T=500 finetuning
only make sense as a *scale on cosine scores* of unit vectors (as in
sentence-transformers' MultipleNegativesRankingLoss, scale=20). Read as a divisor of
raw dot products, T=500 flattens the softmax to uniform and finetuning does nothing.

Recipes are sequences of :class:`Stage` (``RECIPES`` lists them):
- ``standard``: one stage, uniform over all training pairs, T=20;
- ``rebalanced``: one stage, per-distance sampling (distance 0 gets a share p);
- ``joint``: one stage mixing regular and long-distance pairs (share ``joint_long_share``);
- ``pretrain-finetune``: standard pretraining, then a stage on long-distance pairs only
  (distance >= ``long_threshold``) with learning rate x ``finetune_lr_ratio`` and
  temperature ``finetune_temperature``; the stage-2 checkpoint with the best validation
  recall (``select_by``) is kept, the pretrained model itself included as step 0, so
  finetuning can never end worse on the validation criterion than it started.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np
import torch

from .errors import InputError
from .evaluate import evaluate
from .hierarchy import Hierarchy
from .model import DualEncoder
from .pairs import (DistanceWeightedSampler, LongDistanceSampler, MixtureSampler, Pairs,
                    UniformSampler, rebalanced_weights, split_pairs)

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


@dataclass
class Stage:
    name: str
    sampler: object
    steps: int
    lr: float
    temperature: float
    select_best: bool = False


@dataclass
class TrainResult:
    model: DualEncoder
    config: TrainConfig
    stopped: bool = False
    seconds: float = 0.0
    best_step: dict[str, int] = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)


def build_stages(cfg: TrainConfig, pairs: Pairs) -> list[Stage]:
    """The recipe as a list of stages (cfg must be resolved)."""
    regular = UniformSampler(pairs)
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
    return [
        Stage("pretrain", regular, cfg.steps, cfg.lr, T),
        Stage("finetune", long, cfg.finetune_steps, cfg.lr * cfg.finetune_lr_ratio,
              cfg.finetune_temperature, select_best=True),
    ]


class SoftmaxLoss:
    """Softmax cross-entropy over a candidate set with false negatives masked.

    ``closure`` defines relevance (S(q)); ``candidates(rng, positives)`` returns the
    candidate document ids for a batch. Call with (model, queries, positives,
    candidates, temperature) to get the mean loss.
    """

    def __init__(self, closure, n_docs: int, *, negatives: str = "full", n_negatives: int = 8192,
                 temperature_mode: str = "scale", mask_false_negatives: bool = True,
                 normalize_queries: bool = False):
        self.closure = closure
        self.mask_false_negatives = mask_false_negatives
        self.n = n_docs
        self.negatives = negatives
        self.n_negatives = n_negatives
        self.mode = temperature_mode
        self.normalize_queries = normalize_queries
        self._pos_map = np.full(n_docs, -1, dtype=np.int64)
        self._all = np.arange(n_docs)

    def candidates(self, rng: np.random.Generator, positives: np.ndarray) -> np.ndarray:
        if self.negatives == "full" or self.n_negatives >= self.n:
            return self._all
        drawn = rng.integers(0, self.n, size=self.n_negatives)
        cand = np.concatenate([positives, drawn])
        cand.sort()
        return cand[np.concatenate(([True], cand[1:] != cand[:-1]))]

    def mask(self, queries: np.ndarray, positives: np.ndarray, cand: np.ndarray):
        """(rows, cols) of false negatives: documents relevant to the query, other than its target."""
        pm = self._pos_map
        pm[cand] = np.arange(len(cand))
        c = self.closure
        starts = c.ptr[queries]
        counts = c.ptr[queries + 1] - starts
        owner = np.repeat(np.arange(len(queries)), counts)
        offs = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        rel = c.doc[np.repeat(starts, counts) + offs]
        col = pm[rel]
        keep = (col >= 0) & (rel != positives[owner])
        target = pm[positives].copy()
        rows, cols = owner[keep], col[keep]
        pm[cand] = -1
        return rows, cols, target

    def logits_loss(self, qv: torch.Tensor, dv: torch.Tensor, rows: np.ndarray, cols: np.ndarray,
                    target: np.ndarray, temperature: float) -> torch.Tensor:
        """Mean loss from query vectors (B, d) and candidate vectors (C, d)."""
        if self.normalize_queries:  # ranking per query ignores its norm; doc norms stay free
            qv = torch.nn.functional.normalize(qv, dim=-1)
        # the temperature scales the (B, d) queries, not the (B, C) logits: one pass fewer
        qv = qv * temperature if self.mode == "scale" else qv / temperature
        if not self.mask_false_negatives:
            rows = cols = rows[:0]
        return MaskedSoftmaxCE.apply(qv, dv, torch.from_numpy(rows), torch.from_numpy(cols),
                                     torch.from_numpy(target))

    def __call__(self, model: DualEncoder, queries: np.ndarray, positives: np.ndarray, cand: np.ndarray,
                 temperature: float) -> torch.Tensor:
        rows, cols, target = self.mask(queries, positives, cand)
        qv = model.query(torch.from_numpy(queries))
        dv = model.doc(torch.from_numpy(cand)) if len(cand) < self.n else model.doc()
        return self.logits_loss(qv, dv, rows, cols, target, temperature)


class MaskedSoftmaxCE(torch.autograd.Function):
    """mean_b [logsumexp_c z[b, c] - z[b, target_b]] with z = qv @ dv.T and z[rows, cols] = -inf.

    Fused by hand: the (B, C) logits are written once by the matrix product, masked in
    place, reduced once for the log-sum-exp, and turned into the gradient (softmax minus
    one-hot) in place in the backward pass. Autograd's version makes several more passes
    and copies over that matrix, which dominates a step on large hierarchies.
    """

    @staticmethod
    def forward(ctx, qv, dv, rows, cols, target):
        z = qv @ dv.T
        if len(rows):
            z[rows, cols] = -torch.inf
        ar = torch.arange(len(target))
        z_target = z[ar, target]
        zmax = z.amax(dim=1, keepdim=True)
        p = z.sub_(zmax).exp_()  # unnormalised softmax, in place (masked: exp(-inf) = 0)
        total = p.sum(dim=1)
        loss = (zmax.squeeze(1) + total.log() - z_target).mean()
        ctx.save_for_backward(qv, dv, p, total, target)
        return loss

    @staticmethod
    def backward(ctx, grad):
        qv, dv, p, total, target = ctx.saved_tensors
        g = p.mul_((grad / len(target)) / total[:, None])  # softmax / B, in place
        g[torch.arange(len(target)), target] -= grad / len(target)
        return g @ dv, g.T @ qv, None, None, None


class RowOptimizer:
    """Adam (or SGD) that touches only the table rows a step used ("lazy" Adam).

    A step computes gradients for the rows it gathered (the batch's queries, the candidate
    documents) and updates those rows and their moment estimates only: no dense
    (n, d) gradient, no pass over untouched rows. Bias correction uses the global step,
    as in TensorFlow's LazyAdam. With full negatives every document row is touched, so the
    document table gets plain Adam.
    """

    def __init__(self, model: DualEncoder, lr: float, kind: str = "adam", betas=(0.9, 0.999), eps: float = 1e-8):
        self.model, self.lr, self.kind, self.betas, self.eps = model, lr, kind, betas, eps
        self.t = 0
        if kind == "adam":
            self.state = {name: (torch.zeros_like(p), torch.zeros_like(p)) for name, p in (("q", model.q), ("d", model.d))}

    @torch.no_grad()
    def _update(self, name: str, rows: torch.Tensor, grad: torch.Tensor) -> None:
        param = getattr(self.model, name).data
        if self.kind == "sgd":
            param.index_add_(0, rows, grad, alpha=-self.lr)
            return
        b1, b2 = self.betas
        m_all, v_all = self.state[name]
        m = m_all[rows].mul_(b1).add_(grad, alpha=1 - b1)
        v = v_all[rows].mul_(b2).addcmul_(grad, grad, value=1 - b2)
        m_all[rows], v_all[rows] = m, v
        step = (m / (1 - b1 ** self.t)) / ((v / (1 - b2 ** self.t)).sqrt_().add_(self.eps))
        param.index_add_(0, rows, step, alpha=-self.lr)

    def step(self, loss_fn: "SoftmaxLoss", queries: np.ndarray, positives: np.ndarray, cand: np.ndarray,
             temperature: float) -> float:
        """One training step on a batch; returns the loss."""
        m = self.model
        rows, cols, target = loss_fn.mask(queries, positives, cand)
        qrows, qinv = np.unique(queries, return_inverse=True)
        qrows_t, cand_t = torch.from_numpy(qrows), torch.from_numpy(cand)
        q_leaf = m.q.detach()[qrows_t].requires_grad_(True)
        d_leaf = (m.d.detach()[cand_t] if len(cand) < m.n else m.d.detach().clone()).requires_grad_(True)
        norm = (lambda x: torch.nn.functional.normalize(x, dim=-1)) if m.normalize else (lambda x: x)
        qv = norm(q_leaf)[torch.from_numpy(qinv)]
        loss = loss_fn.logits_loss(qv, norm(d_leaf), rows, cols, target, temperature)
        loss.backward()
        self.t += 1
        self._update("q", qrows_t, q_leaf.grad)
        self._update("d", cand_t, d_leaf.grad)
        return float(loss.detach())


Callback = Callable[[dict], None]


def fit(h: Hierarchy, cfg: TrainConfig | None = None, *, callback: Callback | None = None,
        stop: threading.Event | None = None, model: DualEncoder | None = None) -> TrainResult:
    """Train a dual encoder on hierarchy ``h`` with the recipe of ``cfg``.

    ``callback`` receives events (dicts with ``kind`` "stage", "loss", "recall" or
    "checkpoint"); ``stop`` ends training early, leaving a consistent model (the best
    finetune checkpoint so far when finetuning). Steps count globally across stages.
    """
    cfg = (cfg or TrainConfig()).resolved(h)
    threads_before = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    try:
        return _fit(h, cfg, callback, stop, model)
    finally:
        torch.set_num_threads(threads_before)


def _fit(h, cfg, callback, stop, model) -> TrainResult:
    emit = callback or (lambda e: None)
    t_start = time.perf_counter()
    split = split_pairs(h, cfg.max_distance, mode=cfg.mode, holdout=cfg.holdout, seed=cfg.seed)
    closure = split.train.closure
    stages = build_stages(cfg, split.train)
    rng = np.random.default_rng(cfg.seed)
    model = model or DualEncoder(h.n, cfg.dim, normalize=cfg.normalize, seed=cfg.seed,
                                  init_scale=cfg.init_scale)
    # relevance the loss may know: the training pairs only (in generalisation mode the held-out
    # ancestors are not masked: a real holdout gives the model no hint about them)
    loss_fn = SoftmaxLoss(split.train.as_closure(h.n), h.n, negatives=cfg.negatives, n_negatives=cfg.n_negatives,
                          temperature_mode=cfg.temperature_mode, mask_false_negatives=cfg.mask_false_negatives,
                          normalize_queries=cfg.normalize_queries)
    val_queries = np.sort(rng.choice(h.n, size=min(cfg.eval_queries, h.n), replace=False))
    val_mask = split.eval_mask()
    total = sum(s.steps for s in stages)
    result = TrainResult(model=model, config=cfg)

    def validate(stage: str, step: int) -> dict:
        ev = evaluate(model.query_vectors(), model.doc_vectors(), closure, queries=val_queries,
                      pair_mask=val_mask, ranks=False)
        crit = {"mean": float(np.mean(list(ev.recall_by_distance.values()))), "min": ev.min,
                "overall": ev.overall}[cfg.select_by]
        event = {"kind": "recall", "stage": stage, "step": step, "split": "val", "k": "auto",
                 "hits": ev.hits, "pairs": ev.pairs, "recall": ev.recall_by_distance,
                 "overall": ev.overall, "min": ev.min, "criterion": crit}
        result.history.append(event)
        emit(event)
        return event

    step = 0
    for stage in stages:
        emit({"kind": "stage", "stage": stage.name, "step": step, "steps": stage.steps,
              "lr": stage.lr, "temperature": stage.temperature})
        opt = RowOptimizer(model, stage.lr, cfg.optimizer)
        best = None
        if stage.select_best:
            ev = validate(stage.name, step)
            best = (ev["criterion"], step, model.state_copy())
        for i in range(1, stage.steps + 1):
            if stop is not None and stop.is_set():
                result.stopped = True
                break
            idx = stage.sampler.sample(rng, cfg.batch_size)
            # samplers index the training pairs (all pairs in reconstruction mode)
            queries = split.train.query[idx].astype(np.int64)
            positives = split.train.doc[idx].astype(np.int64)
            cand = loss_fn.candidates(rng, positives)
            loss = opt.step(loss_fn, queries, positives, cand, stage.temperature)
            step += 1
            if i % max(1, cfg.eval_every // 4) == 0 or i == stage.steps:
                elapsed = time.perf_counter() - t_start
                done = step / total
                emit({"kind": "loss", "stage": stage.name, "step": step, "loss": loss,
                      "progress": done, "eta_seconds": elapsed / done * (1 - done)})
            if i % cfg.eval_every == 0 or i == stage.steps:
                ev = validate(stage.name, step)
                if best is not None and ev["criterion"] > best[0]:
                    best = (ev["criterion"], step, model.state_copy())
        if best is not None:
            model.load_state(best[2])
            result.best_step[stage.name] = best[1]
            emit({"kind": "checkpoint", "stage": stage.name, "step": best[1], "criterion": best[0]})
        if result.stopped:
            break
    result.seconds = time.perf_counter() - t_start
    return result
