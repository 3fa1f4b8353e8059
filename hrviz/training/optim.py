"""Optimisers that update only the table rows a step touched (:class:`RowOptimizer`)."""

from __future__ import annotations

import numpy as np
import torch

from ..model import DualEncoder
from .loss import SoftmaxLoss


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

    def step(self, loss_fn: SoftmaxLoss, queries: np.ndarray, positives: np.ndarray, cand: np.ndarray,
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
