"""Poincaré-ball embeddings (Nickel & Kiela 2017) as an hrviz model kind.

One table ``x`` of shape (n, d) holds a point of the open unit ball for every node. The
score of a (query, document) pair is minus the hyperbolic distance

    d(u, v) = arcosh(1 + 2 |u - v|^2 / ((1 - |u|^2) (1 - |v|^2))).

**A Poincaré embedding is a dual encoder of dimension d + 2 for retrieval.** For a fixed
query u, arcosh is increasing and (1 - |u|^2) is a positive constant, so ranking the
documents v by -d(u, v) is the same as ranking them by

    -(|u|^2 + |v|^2 - 2 u.v) / (1 - |v|^2) = <f_q(u), f_x(v)>   with
    f_q(u) = [-|u|^2, -1, 2u],    f_x(v) = [1, |v|^2, v] / (1 - |v|^2).

:meth:`PoincareModel.query_vectors` and :meth:`PoincareModel.doc_vectors` return these
lifted (d + 2)-dimensional features, so hrviz's dot-product evaluator
(:func:`hrviz.evaluate.evaluate`: recall@auto by distance, mean rank, MAP), the query
inspector and every page that takes query/document vectors rank a Poincaré model
*exactly* as its distance does (``tests/test_poincare.py`` checks it). Only the ranking is
preserved: the lifted scores are not distances, and they are not comparable across
queries. Near the boundary the document features grow like 1 / (1 - |v|^2) (at most
~1 / (2 eps)); the float32 evaluator then loses some digits (``bench/hyperbolic.py``
compares it against float64 distances).

Training follows Nickel & Kiela (2017), section 3 and their released code:

- data: the ancestor pairs (u, v) of the closure, distance >= 1 (``max_distance`` caps it);
- loss, per pair: -log( e^{-d(u,v)} / sum_{v' in {v} + N(u)} e^{-d(u,v')} ) with N(u)
  ``negatives`` (10) documents sampled for u and *not relevant* to u (not u itself, not one
  of its ancestors: hierarchy-masked). Samples that hit a relevant document are redrawn a
  few times, then masked out of the denominator;
- negatives are uniform over the nodes, except during burn-in, when they follow the
  degree (occurrences in training pairs) to the power 0.75, like word2vec's unigram table;
- burn-in: ``burn_in`` (10) epochs at lr x ``burn_in_lr_ratio`` (1/10) before the
  ``epochs`` regular ones (as in gensim, burn-in epochs come on top of ``epochs``);
- Riemannian SGD: the Riemannian gradient is ((1 - |x|^2)^2 / 4) times the Euclidean one
  (the inverse of the ball's metric tensor); x <- proj(x - lr grad_R), and proj pulls any
  row with |x| >= 1 - eps back to norm 1 - eps. Gradients of the rows a batch touches
  several times are summed (as gensim does), the loss is summed over the batch;
- initialisation: uniform in [-0.001, 0.001]^d.

The gradient is analytic (``_dist_grad``; Nickel & Kiela's eq. 4), computed once for a
batch of (B, 1 + K) distances: no autograd graph in the loop, a few vectorised torch
operations per step.

Pretrain-finetune (the paper's open question 2, science.md section 9): with
``finetune_epochs > 0`` a second stage trains only on pairs with distance >=
``finetune_min_distance`` at lr x ``finetune_lr_ratio``, evaluates recall@auto after every
finetune epoch (on all pairs, or a seeded query sample for large hierarchies) and keeps the
best checkpoint by ``select_by`` (the pretrained model is a candidate too).

References: M. Nickel, D. Kiela, "Poincaré Embeddings for Learning Hierarchical
Representations", NeurIPS 2017; gensim's ``gensim.models.poincare`` (an independent
implementation, compared in ``bench/hyperbolic.py``).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..errors import InputError
from ..hierarchy import Hierarchy

FORMAT = "hrviz-poincare/1"
DTYPE = torch.float64  # the table: the boundary region needs the digits (gensim is float64 too)


# ----- the geometry --------------------------------------------------------------------------
def _dist_grad(u: torch.Tensor, v: torch.Tensor, need_grad: bool = True):
    """Poincaré distance of u and v (broadcast over leading dims) and its gradients.

    Returns ``(dist, du, dv)``: ``du = d dist / d u`` (Nickel & Kiela eq. 4), same for v,
    both broadcast to the common shape (None without ``need_grad``). ``arcosh(1 + z)`` is
    computed as ``log1p(z + sqrt(z (z + 2)))`` so that nearby points keep their digits.
    """
    uu = (u * u).sum(-1, keepdim=True)  # (..., 1)
    vv = (v * v).sum(-1, keepdim=True)  # (..., 1)
    diff = u - v  # (..., d)
    s = (diff * diff).sum(-1, keepdim=True)  # |u - v|^2, (..., 1)
    a = (1 - uu).clamp_min(1e-15)
    b = (1 - vv).clamp_min(1e-15)
    z = 2 * s / (a * b)  # gamma - 1
    root = torch.sqrt(z * (z + 2))  # sqrt(gamma^2 - 1)
    dist = torch.log1p(z + root).squeeze(-1)
    if not need_grad:
        return dist, None, None
    # d gamma / d u = 4 / (a b) (u - v + s u / a); divided by sqrt(gamma^2 - 1). Where u == v
    # the numerator is exactly 0: the clamp only avoids 0 / 0.
    c = 4 / (a * b * root.clamp_min(1e-15))  # (..., 1)
    du = c * (diff + (s / a) * u)
    dv = c * (-diff + (s / b) * v)
    return dist, du, dv


class _PoincareDistance(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u, v):
        dist, du, dv = _dist_grad(u, v)
        ctx.save_for_backward(du, dv)
        ctx.shapes = (u.shape, v.shape)
        return dist

    @staticmethod
    def backward(ctx, g):
        du, dv = ctx.saved_tensors
        su, sv = ctx.shapes
        gu, gv = g.unsqueeze(-1) * du, g.unsqueeze(-1) * dv
        return _sum_to(gu, su), _sum_to(gv, sv)


def _sum_to(g: torch.Tensor, shape) -> torch.Tensor:
    """Undo broadcasting: sum ``g`` down to ``shape``."""
    while g.dim() > len(shape):
        g = g.sum(0)
    for i, n in enumerate(shape):
        if n == 1 and g.shape[i] != 1:
            g = g.sum(i, keepdim=True)
    return g


def poincare_distance(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Hyperbolic distance of points of the Poincaré ball, broadcast over leading dims.

    Differentiable (analytic gradient, :func:`_dist_grad`). Example::

        >>> u = torch.tensor([[0.0, 0.0]]); v = torch.tensor([[0.5, 0.0]])
        >>> round(float(poincare_distance(u, v)), 4)   # 2 artanh(0.5)
        1.0986
    """
    return _PoincareDistance.apply(u, v)


def project(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Pull every row with norm >= 1 - eps back to norm 1 - eps (in place; returns x)."""
    norm = x.norm(dim=-1, keepdim=True)
    over = norm >= 1 - eps
    if bool(over.any()):
        x.copy_(torch.where(over, x / norm * (1 - eps), x))
    return x


def lift_queries(x: np.ndarray) -> np.ndarray:
    """Query features [-|u|^2, -1, 2u] (n, d + 2): see the module docstring."""
    x = np.asarray(x, dtype=np.float64)
    sq = (x * x).sum(1, keepdims=True)
    return np.hstack([-sq, -np.ones_like(sq), 2 * x])


def lift_docs(x: np.ndarray) -> np.ndarray:
    """Document features [1, |v|^2, v] / (1 - |v|^2) (n, d + 2): see the module docstring."""
    x = np.asarray(x, dtype=np.float64)
    sq = (x * x).sum(1, keepdims=True)
    return np.hstack([np.ones_like(sq), sq, x]) / (1 - sq)


# ----- the model -----------------------------------------------------------------------------
class PoincareModel(torch.nn.Module):
    """One table ``x`` (n, dim) of points in the open unit ball; score = -distance.

    Quacks like :class:`hrviz.model.DualEncoder` where pages and the evaluator need it:
    ``n``, ``dim``, ``scores``, ``query_vectors``/``doc_vectors`` (lifted, dim + 2),
    ``state_copy``/``load_state``, ``save``/``load``, ``check_hierarchy``, ``meta``.

    Example::

        >>> m = PoincareModel(n=5, dim=2, seed=0)
        >>> m.scores(torch.tensor([0, 1])).shape
        torch.Size([2, 5])
        >>> m.query_vectors().shape
        (5, 4)
    """

    kind = "poincare"

    def __init__(self, n: int, dim: int, *, seed: int = 0, init_range: float = 1e-3, eps: float = 1e-5):
        super().__init__()
        if dim < 1:
            raise InputError(f"dimension must be >= 1, got {dim}")
        g = torch.Generator().manual_seed(seed)
        self.n, self.dim, self.eps = n, dim, eps
        x = (torch.rand(n, dim, generator=g, dtype=DTYPE) * 2 - 1) * init_range
        self.x = torch.nn.Parameter(x, requires_grad=False)
        self.meta: dict = {}

    @property
    def lifted_dim(self) -> int:
        return self.dim + 2

    def distance(self, i: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
        return poincare_distance(self.x[i], self.x[j])

    @torch.no_grad()
    def scores(self, queries: torch.Tensor) -> torch.Tensor:
        """Minus the distance of the given queries to every document: (len(queries), n)."""
        u = self.x[queries]  # (Q, d)
        return -_dist_grad(u[:, None, :], self.x[None, :, :], need_grad=False)[0]  # (Q, n)

    @torch.no_grad()
    def points(self) -> np.ndarray:
        """The points of the ball (n, dim), float64 (for d=2: the Poincaré disk, no projection)."""
        return self.x.detach().numpy().copy()

    @torch.no_grad()
    def query_vectors(self) -> np.ndarray:
        return lift_queries(self.points()).astype(np.float32)

    @torch.no_grad()
    def doc_vectors(self) -> np.ndarray:
        return lift_docs(self.points()).astype(np.float32)

    def state_copy(self) -> dict[str, torch.Tensor]:
        return {"x": self.x.detach().clone()}

    @torch.no_grad()
    def load_state(self, state: dict[str, torch.Tensor]) -> None:
        self.x.copy_(state["x"])

    # ----- persistence -----------------------------------------------------------------------
    def save(self, path: str | Path, *, hierarchy_hash: str, source: str, params: dict | None = None) -> Path:
        from safetensors.torch import save_file

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            "format": FORMAT, "hierarchy_hash": hierarchy_hash, "source": source,
            "n": str(self.n), "dim": str(self.dim), "eps": repr(self.eps),
            "params": json.dumps(params or {}, default=str),
        }
        save_file({"x": self.x.detach().contiguous()}, str(path), metadata=meta)
        self.meta = {**meta, "params": params or {}}
        return path

    @classmethod
    def load(cls, path: str | Path) -> "PoincareModel":
        from safetensors import safe_open

        path = Path(path)
        try:
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
                x = f.get_tensor("x") if "x" in f.keys() else None
        except FileNotFoundError:
            raise InputError("model file not found", where=str(path)) from None
        except Exception as e:  # safetensors raises its own error types for junk
            raise InputError(f"not a readable hrviz model file ({e})", where=str(path),
                             hint="choose a .safetensors file saved by hrviz") from None
        if meta.get("format") != FORMAT or x is None or x.dim() != 2:
            raise InputError("not an hrviz Poincaré model", where=str(path),
                             hint="choose a .safetensors file saved by hrviz with --model poincare")
        m = cls(x.shape[0], x.shape[1], eps=float(meta.get("eps", 1e-5)))
        m.load_state({"x": x.to(DTYPE)})
        m.meta = {**meta, "params": json.loads(meta.get("params", "{}"))}
        return m

    def check_hierarchy(self, hierarchy_hash: str, where: str = "model") -> None:
        """Refuse to apply a model to a hierarchy other than the one it was trained on."""
        mine = self.meta.get("hierarchy_hash")
        if mine and mine != hierarchy_hash:
            raise InputError(
                f"this model was trained on another hierarchy ({self.meta.get('source')}, hash {mine}) "
                f"than the one loaded (hash {hierarchy_hash})",
                where=where, hint="load the hierarchy the model was trained on, or train a new model")


def is_poincare_file(path: str | Path) -> bool:
    """True when ``path`` is a safetensors file written by :meth:`PoincareModel.save`."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            return (f.metadata() or {}).get("format") == FORMAT
    except Exception:
        return False


# ----- training ------------------------------------------------------------------------------
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

    def __post_init__(self):
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

    def params(self) -> dict:
        """What a stored run records: the model kind, the fields every run has, and this config."""
        return {"model": "poincare", "dim": self.dim, "seed": self.seed, "max_distance": self.max_distance,
                "poincare": asdict(self)}

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


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


def _step(x: torch.Tensor, u: torch.Tensor, v: torch.Tensor, neg: torch.Tensor, ok: torch.Tensor,
          lr: float, eps: float) -> float:
    """One Riemannian SGD step on the batch of pairs (u, v) with negatives ``neg``; the loss.

    Shapes: u, v (B,), neg and ok (B, K), x (n, d).
    """
    cand = torch.cat([v[:, None], neg], 1)  # (B, 1 + K): the positive first
    xu = x[u]  # (B, d)
    xc = x[cand]  # (B, 1 + K, d)
    dist, du, dc = _dist_grad(xu[:, None, :], xc)  # (B, 1+K), (B, 1+K, d), (B, 1+K, d)
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
        total += _step(x, u, v, neg, ok, lr, cfg.eps)
    return total / max(1, len(perm))


def evaluate_poincare(model: PoincareModel, closure, **kw):
    """:func:`hrviz.evaluate.evaluate` on the lifted features (exactly the distance ranking)."""
    from ..evaluate import evaluate

    return evaluate(model.query_vectors(), model.doc_vectors(), closure, **kw)


def fit_poincare(h: Hierarchy, cfg: PoincareConfig | None = None, *,
                 callback: Callable[[dict], None] | None = None, stop=None,
                 model: PoincareModel | None = None) -> PoincareResult:
    """Train a Poincaré embedding of hierarchy ``h`` (module docstring); optionally finetune.

    ``callback`` receives events (dicts with ``kind`` "stage", "loss" (one per epoch, with
    ``epoch``, ``stage``, ``loss``, ``seconds``) or "recall" (finetune validation));
    ``stop`` (a ``threading.Event``) ends training early with a consistent model.
    """
    cfg = cfg or PoincareConfig()
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
