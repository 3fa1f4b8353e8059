"""Training a Poincaré embedding: the config, negative sampling, Riemannian SGD, the finetune stage.

:func:`fit_poincare` follows Nickel & Kiela (2017) and their released code; the recipe (loss,
burn-in, the Riemannian gradient, the optional long-distance finetune with checkpoint
selection) is described in the docstring of :mod:`hrviz.models.poincare`. Running a fit as a
stored run (CLI and app) is :mod:`hrviz.kinds.poincare`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np
import torch

from ..errors import InputError
from ..evaluate import evaluate
from ..hierarchy import Hierarchy
from .poincare_ball import dist_grad, project
from .poincare import PoincareModel


@dataclass
class PoincareConfig:
    """Everything :func:`fit_poincare` needs; defaults follow Nickel & Kiela / gensim.

    Fields: dim (ball dimension), epochs (regular epochs, after burn-in), lr (Riemannian SGD
    learning rate, loss summed over the batch), batch (positive pairs per step), negatives
    (per positive), burn_in (epochs at lr x burn_in_lr_ratio with degree^0.75 negatives),
    eps (ball margin), init_range, max_distance (cap on training/evaluation pairs), seed,
    threads (torch threads while fitting; None leaves them), finetune_* (the optional
    long-distance finetune stage, off with finetune_epochs=0), select_by (finetune
    checkpoint criterion: "overall", "min" or "mean" recall), eval_queries (queries in the
    finetune validation sample when the hierarchy has more nodes).
    """

    dim: int = 10
    epochs: int = 50
    lr: float = 0.3
    batch: int = 64
    negatives: int = 10
    burn_in: int = 10
    burn_in_lr_ratio: float = 0.1
    eps: float = 1e-5
    init_range: float = 1e-3
    max_distance: int | None = None
    seed: int = 0
    threads: int | None = None
    finetune_epochs: int = 0
    finetune_min_distance: int = 2
    finetune_lr_ratio: float = 0.1
    select_by: str = "overall"
    eval_queries: int = 3000

    def resolved(self, h: Hierarchy | None = None) -> "PoincareConfig":
        """A checked copy (an InputError names the first bad field); the same for every hierarchy,
        ``h`` is taken as by :meth:`hrviz.training.TrainConfig.resolved`. :func:`fit_poincare`
        and the run pipeline call it."""
        for name in ("dim", "epochs", "batch", "negatives"):
            if getattr(self, name) < 1:
                raise InputError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("burn_in", "finetune_epochs"):
            if getattr(self, name) < 0:
                raise InputError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("lr", "burn_in_lr_ratio", "eps", "init_range", "finetune_lr_ratio"):
            if not getattr(self, name) > 0:
                raise InputError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.finetune_min_distance < 1:
            raise InputError(f"finetune_min_distance must be >= 1, got {self.finetune_min_distance}")
        if self.select_by not in ("overall", "min", "mean"):
            raise InputError(f"select_by must be overall, min or mean, got {self.select_by!r}")
        return replace(self)


@dataclass
class PoincareResult:
    model: PoincareModel
    config: PoincareConfig
    seconds: float = 0.0
    stopped: bool = False
    best_epoch: int | None = None  # finetune epoch kept (0: the pretrained model), None: no finetune
    history: list[dict] = field(default_factory=list)


class NegativeSampler:
    """Draws documents *not relevant* to given queries: uniform or from a weight table.

    Relevance is membership in the closure (self pairs included): keys q * n + doc, sorted,
    looked up with ``searchsorted``. Draws that hit a relevant document are redrawn
    ``retries`` times; the rest are reported in the returned mask (True = usable).
    """

    def __init__(self, h: Hierarchy, closure, weights: np.ndarray | None = None, retries: int = 3):
        self.n = h.n
        keys = closure.query.astype(np.int64) * h.n + closure.doc.astype(np.int64)
        self.keys = torch.from_numpy(np.sort(keys))
        self.cdf = None if weights is None else torch.from_numpy(np.cumsum(weights / weights.sum()))
        self.retries = retries

    def _draw(self, shape, g) -> torch.Tensor:
        if self.cdf is None:
            return torch.randint(self.n, shape, generator=g)
        r = torch.rand(shape, generator=g, dtype=self.cdf.dtype)
        return torch.searchsorted(self.cdf, r).clamp_max(self.n - 1)

    def relevant(self, q: torch.Tensor, docs: torch.Tensor) -> torch.Tensor:
        key = q * self.n + docs
        pos = torch.searchsorted(self.keys, key).clamp_max(len(self.keys) - 1)
        return self.keys[pos] == key

    def sample(self, q: torch.Tensor, k: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """(negatives (B, k), usable mask (B, k)) for queries ``q`` (B,)."""
        qq = q[:, None].expand(-1, k)  # (B, k)
        neg = self._draw(qq.shape, g)  # (B, k)
        bad = self.relevant(qq, neg)
        for _ in range(self.retries):
            if not bool(bad.any()):
                break
            idx = bad.nonzero(as_tuple=True)
            neg[idx] = self._draw((len(idx[0]),), g)
            bad[idx] = self.relevant(qq[idx], neg[idx])
        return neg, ~bad


def sgd_step(x: torch.Tensor, u: torch.Tensor, v: torch.Tensor, neg: torch.Tensor, ok: torch.Tensor,
          lr: float, eps: float) -> float:
    """One Riemannian SGD step on the batch of pairs (u, v) with negatives ``neg``; the loss.

    Shapes: u, v (B,), neg and ok (B, K), x (n, d).
    """
    cand = torch.cat([v[:, None], neg], 1)  # (B, 1 + K): the positive first
    xu = x[u]  # (B, d)
    xc = x[cand]  # (B, 1 + K, d)
    dist, du, dc = dist_grad(xu[:, None, :], xc)  # (B, 1+K), (B, 1+K, d), (B, 1+K, d)
    logits = (-dist).masked_fill(torch.cat([torch.zeros_like(ok[:, :1]), ~ok], 1), float("-inf"))
    logp = torch.log_softmax(logits, 1)  # (B, 1 + K)
    loss = -float(logp[:, 0].sum())
    # d loss / d dist_j = onehot_j - softmax_j  (loss = dist_0 + logsumexp(-dist))
    gd = -logp.exp()  # (B, 1 + K)
    gd[:, 0] += 1
    gu = (gd[..., None] * du).sum(1)  # (B, d)
    gc = gd[..., None] * dc  # (B, 1 + K, d)
    rows = torch.cat([u, cand.reshape(-1)])  # (B (2 + K),)
    grads = torch.cat([gu, gc.reshape(-1, x.shape[1])])  # (B (2 + K), d)
    # the inverse metric tensor at each row's value *before* the step: rows that occur several
    # times share it, so adding scale x gradient once per occurrence sums their gradients
    xr = torch.cat([xu, xc.reshape(-1, x.shape[1])])  # (B (2 + K), d)
    scale = (1 - (xr * xr).sum(1, keepdim=True)) ** 2 / 4
    x.index_add_(0, rows, grads * (scale * -lr))
    x[rows] = project(x[rows], eps)  # duplicates write the same value
    return loss


def _epoch(x, pairs_u, pairs_v, sampler, cfg, lr, g, stop) -> float:
    perm = torch.randperm(len(pairs_u), generator=g)
    total = 0.0
    for lo in range(0, len(perm), cfg.batch):
        if stop is not None and stop.is_set():
            break
        b = perm[lo: lo + cfg.batch]
        u, v = pairs_u[b], pairs_v[b]
        neg, ok = sampler.sample(u, cfg.negatives, g)
        total += sgd_step(x, u, v, neg, ok, lr, cfg.eps)
    return total / max(1, len(perm))


def evaluate_poincare(model: PoincareModel, closure, **kw):
    """:func:`hrviz.evaluate.evaluate` on the lifted features (exactly the distance ranking)."""
    return evaluate(model.query_vectors(), model.doc_vectors(), closure, **kw)


def fit_poincare(h: Hierarchy, cfg: PoincareConfig | None = None, *,
                 callback: Callable[[dict], None] | None = None, stop=None,
                 model: PoincareModel | None = None) -> PoincareResult:
    """Train a Poincaré embedding of hierarchy ``h`` (module docstring); optionally finetune.

    ``callback`` receives events (dicts with ``kind`` "stage", "loss" (one per epoch, with
    ``epoch``, ``stage``, ``loss``, ``seconds``) or "recall" (finetune validation));
    ``stop`` (a ``threading.Event``) ends training early with a consistent model.
    """
    cfg = (cfg or PoincareConfig()).resolved(h)
    emit = callback or (lambda e: None)
    before = torch.get_num_threads()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    try:
        return _fit(h, cfg, emit, stop, model)
    finally:
        torch.set_num_threads(before)


def _fit(h, cfg, emit, stop, model) -> PoincareResult:
    t0 = time.perf_counter()
    closure = h.closure(cfg.max_distance)
    anc = closure.distance >= 1
    if not anc.any():
        raise InputError("the hierarchy has no ancestor pairs to train on", where=h.source or None)
    pu = torch.from_numpy(closure.query[anc].astype(np.int64))
    pv = torch.from_numpy(closure.doc[anc].astype(np.int64))
    pt = closure.distance[anc]
    model = model or PoincareModel(h.n, cfg.dim, seed=cfg.seed, init_range=cfg.init_range, eps=cfg.eps)
    x = model.x.data  # updated in place
    g = torch.Generator().manual_seed(cfg.seed)
    degree = np.bincount(np.concatenate([pu.numpy(), pv.numpy()]), minlength=h.n).astype(np.float64)
    uniform = NegativeSampler(h, closure)
    result = PoincareResult(model=model, config=cfg)
    epoch = 0

    def run(stage: str, n_epochs: int, lr: float, sampler, u, v, after=None):
        nonlocal epoch
        emit({"kind": "stage", "stage": stage, "epochs": n_epochs, "lr": lr, "pairs": len(u)})
        for _ in range(n_epochs):
            if stop is not None and stop.is_set():
                result.stopped = True
                return
            loss = _epoch(x, u, v, sampler, cfg, lr, g, stop)
            epoch += 1
            ev = {"kind": "loss", "stage": stage, "epoch": epoch, "loss": loss,
                  "seconds": time.perf_counter() - t0}
            result.history.append(ev)
            emit(ev)
            if after:
                after()

    if cfg.burn_in:
        burn = NegativeSampler(h, closure, weights=degree ** 0.75)
        run("burn-in", cfg.burn_in, cfg.lr * cfg.burn_in_lr_ratio, burn, pu, pv)
    run("pretrain" if cfg.finetune_epochs else "main", cfg.epochs, cfg.lr, uniform, pu, pv)

    if cfg.finetune_epochs and not result.stopped:
        long = torch.from_numpy(pt >= cfg.finetune_min_distance)
        if bool(long.any()):
            rng = np.random.default_rng(cfg.seed)
            queries = (None if h.n <= cfg.eval_queries
                       else np.sort(rng.choice(h.n, cfg.eval_queries, replace=False)))
            best = {"score": -np.inf, "state": None, "epoch": 0}
            ft_epoch = 0

            def check():
                nonlocal ft_epoch
                ev = evaluate_poincare(model, closure, queries=queries, ranks=False)
                rec = ev.recall_by_distance
                score = {"overall": ev.overall, "min": ev.min,
                         "mean": float(np.mean(list(rec.values())))}[cfg.select_by]
                e = {"kind": "recall", "stage": "finetune", "epoch": ft_epoch, "overall": ev.overall,
                     "min": ev.min, "recall_by_distance": rec, "seconds": time.perf_counter() - t0}
                result.history.append(e)
                emit(e)
                if score > best["score"]:
                    best.update(score=score, state=model.state_copy(), epoch=ft_epoch)
                ft_epoch += 1

            check()  # the pretrained model is a candidate
            run("finetune", cfg.finetune_epochs, cfg.lr * cfg.finetune_lr_ratio, uniform,
                pu[long], pv[long], after=check)
            model.load_state(best["state"])
            result.best_epoch = best["epoch"]
    result.seconds = time.perf_counter() - t0
    return result
