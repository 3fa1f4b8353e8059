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
*exactly* as its distance does (``tests/models/test_poincare.py`` checks it). Only the ranking is
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

The gradient is analytic (``dist_grad``; Nickel & Kiela's eq. 4), computed once for a
batch of (B, 1 + K) distances: no autograd graph in the loop, a few vectorised torch
operations per step.

Pretrain-finetune (the open question 2 of You et al. 2025; docs/science-notes.md, the paper's story): with
``finetune_epochs > 0`` a second stage trains only on pairs with distance >=
``finetune_min_distance`` at lr x ``finetune_lr_ratio``, evaluates recall@auto after every
finetune epoch (on all pairs, or a seeded query sample for large hierarchies) and keeps the
best checkpoint by ``select_by`` (the pretrained model is a candidate too).

References: M. Nickel, D. Kiela, "Poincaré Embeddings for Learning Hierarchical
Representations", NeurIPS 2017; gensim's ``gensim.models.poincare`` (an independent
implementation, compared in ``bench/hyperbolic.py``).

The code lives in three modules of :mod:`hrviz.models`: :mod:`.poincare_ball` (the geometry),
this one (the model and its files) and :mod:`.poincare_fit` (the config and the training). The
run kind that stores a fit as a run is :mod:`hrviz.kinds.poincare`.
"""


from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ..errors import InputError
from .files import check_trained_on, open_model_file, write_model_file
from .poincare_ball import dist_grad, lift_docs, lift_queries, poincare_distance

FORMAT = "hrviz-poincare/1"
DTYPE = torch.float64  # the table: the boundary region needs the digits (gensim is float64 too)


class PoincareModel(torch.nn.Module):
    """One table ``x`` (n, dim) of points in the open unit ball; score = -distance.

    Quacks like :class:`hrviz.models.dual_encoder.DualEncoder` where pages and the evaluator need it:
    ``n``, ``dim``, ``scores``, ``query_vectors``/``doc_vectors`` (lifted, dim + 2),
    ``state_copy``/``load_state``, ``save``/``load``, ``check_hierarchy``, ``meta``.

    Example::

        >>> m = PoincareModel(n=5, dim=2, seed=0)
        >>> m.scores(torch.tensor([0, 1])).shape
        torch.Size([2, 5])
        >>> m.query_vectors().shape
        (5, 4)
    """

    def __init__(self, n: int, dim: int, *, seed: int = 0, init_range: float = 1e-3, eps: float = 1e-5):
        super().__init__()
        if dim < 1:
            raise InputError(f"dimension must be >= 1, got {dim}")
        g = torch.Generator().manual_seed(seed)
        self.n, self.dim, self.eps = n, dim, eps
        x = (torch.rand(n, dim, generator=g, dtype=DTYPE) * 2 - 1) * init_range
        self.x = torch.nn.Parameter(x, requires_grad=False)
        self.meta: dict = {}

    def distance(self, i: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
        return poincare_distance(self.x[i], self.x[j])

    @torch.no_grad()
    def scores(self, queries: torch.Tensor) -> torch.Tensor:
        """Minus the distance of the given queries to every document: (len(queries), n)."""
        u = self.x[queries]  # (Q, d)
        return -dist_grad(u[:, None, :], self.x[None, :, :], need_grad=False)[0]  # (Q, n)

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
        meta = {"format": FORMAT, "hierarchy_hash": hierarchy_hash, "source": source,
                "n": str(self.n), "dim": str(self.dim), "eps": repr(self.eps)}
        self.meta = write_model_file(path, {"x": self.x}, meta, params)
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> "PoincareModel":
        path = Path(path)
        with open_model_file(path) as f:
            meta = f.metadata() or {}
            x = f.get_tensor("x") if "x" in f.keys() else None
        if meta.get("format") != FORMAT or x is None or x.dim() != 2:
            raise InputError("not an hrviz Poincaré model", where=str(path),
                             hint="choose a .safetensors file saved by hrviz with --model poincare")
        m = cls(x.shape[0], x.shape[1], eps=float(meta.get("eps", 1e-5)))
        m.load_state({"x": x.to(DTYPE)})
        m.meta = {**meta, "params": json.loads(meta.get("params", "{}"))}
        return m

    def check_hierarchy(self, hierarchy_hash: str, where: str = "model") -> None:
        """Refuse to apply a model to a hierarchy other than the one it was trained on."""
        check_trained_on(self.meta, hierarchy_hash, where)
