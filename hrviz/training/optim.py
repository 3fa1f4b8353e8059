"""Optimisers for the two embedding tables, by name (``TrainConfig.optimizer``).

A step gathers the rows it needs (the batch's queries, the candidate documents) as leaf
tensors, computes the loss and its gradient for those rows only, and hands
(rows, gradient) to the optimiser:

- ``lazy-adam`` (:class:`RowOptimizer`): Adam on the touched rows only, moments of other
  rows wait (TensorFlow's LazyAdam; bias correction by the global step). No (n, d) work.
- ``sgd``: plain SGD on the touched rows (identical to dense SGD: untouched rows get 0).
- ``adagrad``: torch's ``Adagrad`` (a zero gradient leaves a row and its state unchanged, so
  dense Adagrad is row-only Adagrad).
- ``adam`` (dense): torch's ``Adam`` on a dense (n, d) gradient that is zero outside the
  touched rows, so every row keeps moving on its momentum: what ``torch.optim.Adam`` does
  on an ``nn.Embedding`` in the usual training script. Costs O(n d) per step.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import InputError
from ..models.dual_encoder import DualEncoder
from .loss import SoftmaxLoss


class RowOptimizer:
    """Lazy Adam or SGD: updates only the table rows a step used.

    With full negatives every document row is touched, so the document table gets plain Adam.
    """

    def __init__(self, model: DualEncoder, lr: float, kind: str = "lazy-adam", betas=(0.9, 0.999),
                 eps: float = 1e-8):
        self.model, self.lr, self.kind, self.betas, self.eps = model, lr, kind, betas, eps
        self.t = 0
        if kind == "lazy-adam":
            self.state = {name: (torch.zeros_like(p), torch.zeros_like(p)) for name, p in (("q", model.q), ("d", model.d))}

    @torch.no_grad()
    def update(self, name: str, rows: torch.Tensor, grad: torch.Tensor) -> None:
        """Apply the gradient ``grad`` (R, d) of table ``name`` ("q" or "d") at unique ``rows`` (R,)."""
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

    def begin(self) -> None:
        self.t += 1

    def step(self, loss_fn: SoftmaxLoss, queries: np.ndarray, positives: np.ndarray, cand: np.ndarray,
             temperature: float) -> float:
        """One training step on a batch; returns the loss."""
        return table_step(self, loss_fn, queries, positives, cand, temperature)


class TorchTableOptimizer:
    """A ``torch.optim`` optimiser over the two tables, fed (rows, gradient) pairs.

    ``kind="adam"``: dense Adam (the gradient is scattered into an (n, d) zero tensor);
    ``kind="adagrad"``: Adagrad, fed the same dense gradient.
    """

    def __init__(self, model: DualEncoder, lr: float, kind: str = "adam"):
        self.model, self.lr, self.kind = model, lr, kind
        params = [model.q, model.d]
        self.opt = (torch.optim.Adam(params, lr=lr) if kind == "adam"
                    else torch.optim.Adagrad(params, lr=lr))
        self._pending: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def begin(self) -> None:
        self._pending = {}

    def update(self, name: str, rows: torch.Tensor, grad: torch.Tensor) -> None:
        self._pending[name] = (rows, grad)
        if len(self._pending) == 2:
            self._apply()

    @torch.no_grad()
    def _apply(self) -> None:
        for name, (rows, grad) in self._pending.items():
            param = getattr(self.model, name)
            dense = torch.zeros_like(param)
            dense.index_add_(0, rows, grad)
            param.grad = dense
        self.opt.step()
        self.model.q.grad = self.model.d.grad = None

    def step(self, loss_fn: SoftmaxLoss, queries: np.ndarray, positives: np.ndarray, cand: np.ndarray,
             temperature: float) -> float:
        return table_step(self, loss_fn, queries, positives, cand, temperature)


def make_optimizer(model: DualEncoder, lr: float, kind: str):
    """The optimiser named ``kind`` (see the module docstring)."""
    if kind in ("lazy-adam", "sgd"):
        return RowOptimizer(model, lr, kind)
    if kind in ("adam", "adagrad"):
        return TorchTableOptimizer(model, lr, kind)
    raise InputError(f"unknown optimizer {kind!r}")


def table_step(opt, loss_fn: SoftmaxLoss, queries: np.ndarray, positives: np.ndarray, cand: np.ndarray,
               temperature: float) -> float:
    """Forward, backward and update for one batch, touching only the rows it gathers."""
    m = opt.model
    rows, cols, target = loss_fn.mask(queries, positives, cand)
    qrows, qinv = np.unique(queries, return_inverse=True)                # (R_q,), (B,)
    full = cand is loss_fn._all
    # in-batch columns repeat documents: gather each row once, scatter to its columns
    drows, dinv = np.unique(cand, return_inverse=True) if loss_fn.in_batch else (cand, None)
    qrows_t, drows_t = torch.from_numpy(qrows), torch.from_numpy(drows)
    q_leaf = m.q.detach()[qrows_t].requires_grad_(True)                  # (R_q, d)
    d_leaf = (m.d.detach().clone() if full else m.d.detach()[drows_t]).requires_grad_(True)  # (R_d, d)
    norm = (lambda x: torch.nn.functional.normalize(x, dim=-1)) if m.normalize else (lambda x: x)
    qv = norm(q_leaf)[torch.from_numpy(qinv)]                             # (B, d)
    dv = norm(d_leaf) if dinv is None else norm(d_leaf)[torch.from_numpy(dinv)]  # (C, d)
    loss = loss_fn.logits_loss(qv, dv, rows, cols, target, temperature, loss_fn.column_bias(cand))
    loss.backward()
    opt.begin()
    opt.update("q", qrows_t, q_leaf.grad)
    opt.update("d", drows_t, d_leaf.grad)
    return float(loss.detach())
