"""Training text towers (:func:`fit_text`) with the lookup tables' recipes, regimes and loss,
and generalisation to nodes never seen (``holdout_nodes``).

The loop follows :func:`hrviz.training.loop.fit`: per step, draw pair indices from the stage's
sampler (seeded), turn them into (query, positive) ids, pick the candidate columns and their
masking (:meth:`~hrviz.training.SoftmaxLoss.columns`), forward the towers, masked softmax loss,
backward, one ``torch.optim.Adam`` step on the heads (and the residual tables); every
``eval_every`` steps a seeded validation sample of (seen) queries is evaluated. The finetune
stage of ``pretrain-finetune`` keeps its best checkpoint, as for tables.

Learning rates: heads take ``head_lr`` x (stage lr / cfg lr), so the recipe's finetune ratio
applies to them; residual tables take the stage's lr (the tables' own).

Residual dropout: with probability ``residual_dropout`` a query's (a candidate's) residual is
left out of a step, so the heads must place a node from its text alone: what a node never seen
(free text, a held-out leaf) gets.

Held-out nodes (``holdout_nodes=F``): a seeded share F of the leaves is removed before
training: training runs on the sub-hierarchy of the other nodes (:meth:`Hierarchy.induced`),
so neither a held-out node's text nor any of its pairs is ever seen, not even as a negative.
Afterwards the tower is applied to every node (held-out ones without residual) and the
held-out leaves' queries are evaluated against all documents (``heldout``), the seen nodes'
queries separately (``seen``).
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field, replace
from types import SimpleNamespace
from typing import Callable

import numpy as np
import torch

from ..errors import InputError
from ..evaluate import evaluate
from ..hierarchy import Hierarchy
from ..pairs import split_pairs
from ..training import SoftmaxLoss, TrainConfig
from ..training.loop import run_stages, validation_event
from ..training.recipes import build_stages
from .text import CACHE_DIR, node_features
from .text_encoders import get_encoder
from .text_tower import HEADS, TextTower


@dataclass
class TowerConfig:
    """The tower's own knobs (the rest is :class:`TrainConfig`). The defaults are the measured
    grid's choice on WordNet (bench/results/text.md): linear heads generalise to held-out leaves
    as well as the MLP at a fraction of its cost, and residual dropout 0.25 keeps the seen nodes'
    distance 0 (60.7%) above dropout 0.5's (36.4%) at the same held-out recall."""

    head: str = "linear"         # linear | mlp
    hidden: int = 512            # MLP hidden width
    residual: bool = True        # per-node residual tables
    residual_dropout: float = 0.25
    head_lr: float = 2e-3        # Adam lr of the heads in the main stage
    style: str = "label-description"

    def resolved(self, h: Hierarchy | None = None) -> "TowerConfig":
        """A checked copy (an InputError names the bad field), as every config of a run gives."""
        if self.head not in HEADS:
            raise InputError(f"unknown tower head {self.head!r}", hint=f"choose one of {', '.join(HEADS)}")
        if not 0 <= self.residual_dropout <= 1:
            raise InputError(f"residual_dropout must be in [0, 1], got {self.residual_dropout}")
        if not self.head_lr > 0:
            raise InputError(f"head_lr must be positive, got {self.head_lr}")
        return replace(self)


@dataclass
class TextTrainResult:
    tower: TextTower                  # over every node of h (held-out ones without residual)
    config: TrainConfig               # resolved for the training hierarchy
    tower_config: TowerConfig
    encoder: str
    heldout_nodes: np.ndarray         # node ids of h held out (empty without holdout)
    seen: object = None               # Evaluation of seen queries (None when not evaluated)
    heldout: object = None            # Evaluation of held-out queries (None without holdout)
    stopped: bool = False
    seconds: float = 0.0
    train_seconds: float = 0.0
    best_step: dict[str, int] = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)

    def summary(self) -> dict:
        """The ``--json`` shape: with holdout, top-level figures are the held-out queries'."""
        main = self.heldout if self.heldout is not None else self.seen
        out = {"recipe": self.config.recipe, "dim": self.config.dim, "encoder": self.encoder,
               "tower": asdict(self.tower_config), "seconds": self.seconds}
        if main is not None:
            out.update(main.summary())
        if self.heldout is not None:
            out["holdout_nodes"] = int(len(self.heldout_nodes))
            out["seen"] = self.seen.summary() if self.seen is not None else None
        return out


def holdout_leaves(h: Hierarchy, fraction: float, seed: int = 0) -> np.ndarray:
    """A seeded share ``fraction`` of the leaves of ``h`` (sorted node ids)."""
    if not 0 < fraction < 1:
        raise InputError(f"holdout_nodes must be in (0, 1), got {fraction}", hint="--holdout-nodes 0.1")
    leaves = np.asarray(h.leaves, dtype=np.int64)
    k = int(round(fraction * len(leaves)))
    if k == 0 or k == len(leaves):
        raise InputError(f"holdout_nodes={fraction} holds out {k} of {len(leaves)} leaves",
                         hint="pick a share that leaves some leaves on each side")
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(leaves, size=k, replace=False))


def fit_text(h: Hierarchy, encoder="wordllama", cfg: TrainConfig | None = None,
             tower: TowerConfig | None = None, *, holdout_nodes: float | None = None,
             features: np.ndarray | None = None, evaluate_seen: bool | int = True,
             cache_dir=CACHE_DIR, callback: Callable[[dict], None] | None = None,
             stop: threading.Event | None = None, ranks: bool = False) -> TextTrainResult:
    """Train a text tower on ``h`` and evaluate it (distance cap ``cfg.max_distance``).

    Args:
        h: Hierarchy.
        encoder: str or TextEncoder (optional, default "wordllama"): the frozen features.
        cfg: TrainConfig (optional): recipe, regime, dim, steps... as for lookup tables.
        tower: TowerConfig (optional): head kind, residuals, head lr, node text style.
        holdout_nodes: float (optional, default None): share of leaves held out entirely.
        features: float32 (h.n, D) (optional): precomputed unit features (skips the encoder).
        evaluate_seen: bool or int (optional, default True): evaluate the seen queries after
            training (an int: a seeded sample of that many seen queries).
        callback, stop: as for :func:`hrviz.training.fit`.
        ranks: bool (optional, default False): the final evaluations also compute mean rank and MAP.
    """
    t_start = time.perf_counter()
    tcfg = (tower or TowerConfig()).resolved(h)
    cfg = cfg or TrainConfig()
    enc_name = encoder if isinstance(encoder, str) else encoder.name
    if features is None:
        features = node_features(h, get_encoder(encoder), style=tcfg.style, cache_dir=cache_dir)
    if features.shape[0] != h.n:
        raise InputError(f"features have {features.shape[0]} rows for {h.n} nodes")
    held = holdout_leaves(h, holdout_nodes, cfg.seed) if holdout_nodes else np.zeros(0, np.int64)
    seen_ids = np.setdiff1d(np.arange(h.n), held)
    h_train = h.induced(seen_ids, source=h.source) if len(held) else h
    rcfg = cfg.resolved(h_train)
    if rcfg.mode != "reconstruction":
        raise InputError("text towers hold out whole nodes (holdout_nodes), not pairs",
                         hint="leave mode at reconstruction and pass --holdout-nodes F")
    model = TextTower(features[seen_ids], rcfg.dim, head=tcfg.head, hidden=tcfg.hidden,
                      residual=tcfg.residual, normalize=rcfg.normalize, seed=rcfg.seed)
    before = torch.get_num_threads()
    if rcfg.threads:
        torch.set_num_threads(rcfg.threads)
    try:
        result = _train(h_train, model, rcfg, tcfg, callback, stop)
    finally:
        torch.set_num_threads(before)
    train_seconds = time.perf_counter() - t_start

    # ----- the tower over every node; evaluation of seen and held-out queries -----
    full = model.expanded(features, seen_ids) if len(held) else model
    res = TextTrainResult(full, rcfg, tcfg, enc_name, held, stopped=result["stopped"],
                          best_step=result["best_step"], history=result["history"],
                          train_seconds=train_seconds)
    closure = h.closure(rcfg.max_distance)
    qv, dv = full.query_vectors(), full.doc_vectors()
    if len(held):
        res.heldout = evaluate(qv, dv, closure, queries=held, ranks=ranks)
    if evaluate_seen:
        qs = seen_ids
        if not isinstance(evaluate_seen, bool) and evaluate_seen < len(seen_ids):
            qs = np.sort(np.random.default_rng(rcfg.seed + 1).choice(seen_ids, int(evaluate_seen), replace=False))
        res.seen = evaluate(qv, dv, closure, queries=qs, ranks=ranks)
    res.seconds = time.perf_counter() - t_start
    return res


def _train(h, model: TextTower, cfg: TrainConfig, tcfg: TowerConfig, callback, stop) -> dict:
    """The tables' stage loop (:func:`hrviz.training.loop.run_stages`) with a tower's step."""
    emit = callback or (lambda e: None)
    t_start = time.perf_counter()
    split = split_pairs(h, cfg.max_distance, mode="reconstruction", seed=cfg.seed)
    closure = split.train.closure
    stages = build_stages(cfg, split.train)
    rng = np.random.default_rng(cfg.seed)  # the validation queries, residual dropout
    gen = torch.Generator().manual_seed(cfg.seed)  # the batches and the sampled negatives
    loss_fn = SoftmaxLoss(split.train.as_closure(h.n), h.n, negatives=cfg.negatives, n_negatives=cfg.n_negatives,
                          temperature_mode=cfg.temperature_mode, masking=cfg.masking,
                          normalize_queries=cfg.normalize_queries, logq=cfg.logq)
    pair_q = torch.from_numpy(split.train.query.astype(np.int64))                  # (P,)
    pair_d = torch.from_numpy(split.train.doc.astype(np.int64))                    # (P,)
    every_doc = torch.arange(h.n)
    val_queries = np.sort(rng.choice(h.n, size=min(cfg.eval_queries, h.n), replace=False))
    state = SimpleNamespace(model=model, stopped=False, best_step={}, history=[], stages={})
    p = tcfg.residual_dropout if model.res_q is not None else 0.0

    def validate(stage: str, step: int) -> dict:
        with torch.no_grad():
            ev = evaluate(model.query_vectors(), model.doc_vectors(), closure, queries=val_queries, ranks=False)
        event = validation_event(ev, stage, step, cfg.select_by)
        state.history.append(event)
        emit(event)
        return event

    def stage_step(stage):
        ratio = stage.lr / cfg.lr
        groups = [{"params": model.head_parameters(), "lr": tcfg.head_lr * ratio}]
        if model.res_q is not None:
            groups.append({"params": model.residual_parameters(), "lr": stage.lr})
        opt = torch.optim.Adam(groups)
        if cfg.logq:  # the correction's q: this stage's own sampler
            loss_fn.set_proposal(stage.sampler.doc_marginal(h.n), cfg.batch_size)

        def one_step() -> float:
            # ----- batch: pairs, candidate columns and their masking -----
            idx = stage.sampler.sample(gen, cfg.batch_size)
            queries, positives = pair_q.index_select(0, idx), pair_d.index_select(0, idx)  # (B,), (B,)
            cols = loss_fn.columns(gen, queries, positives)
            keep_q = torch.from_numpy(rng.random(len(queries)) >= p) if p else None  # (B,)
            # ----- forward, loss, backward, step -----
            qv = model.query(queries, residual_keep=keep_q)                       # (B, d)
            dv = _docs(model, every_doc if cols.docs is None else cols.docs, rng, p)  # (C, d)
            loss = loss_fn.loss(qv, dv, cols, stage.temperature)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            return float(loss.detach())

        return one_step

    run_stages(stages, cfg, state, emit, validate, stage_step, stop, t_start)
    return {"stopped": state.stopped, "best_step": state.best_step, "history": state.history}


def _docs(model: TextTower, cand: torch.Tensor, rng: np.random.Generator, p: float) -> torch.Tensor:
    """Candidate document vectors (C, d), residuals dropped with probability p."""
    f = model.features[cand]                                                      # (C, D)
    v = model.head_d(f)                                                           # (C, d)
    if model.res_d is not None:
        r = model.res_d[cand]                                                     # (C, d)
        if p:
            r = r * torch.from_numpy(rng.random(len(cand)) >= p)[:, None]
        v = v + r
    return model._out(v)
