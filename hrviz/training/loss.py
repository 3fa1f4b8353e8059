"""The training loss: softmax cross-entropy over a candidate set with false negatives masked
(:class:`SoftmaxLoss`), and its fused kernel (:class:`MaskedSoftmaxCE`)."""

from __future__ import annotations

import numpy as np
import torch

from ..model import DualEncoder


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
