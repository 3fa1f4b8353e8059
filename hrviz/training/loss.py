"""The training loss: softmax cross-entropy over a candidate set with false negatives masked
(:class:`SoftmaxLoss`), and its fused kernel (:class:`MaskedSoftmaxCE`)."""

from __future__ import annotations

import numpy as np
import torch

from ..errors import InputError
from ..models.dual_encoder import DualEncoder
from ..sparse import expand_rows


class SoftmaxLoss:
    """Softmax cross-entropy of each positive pair against a candidate set, with masking.

    For a batch of positive pairs (q_b, x_b) and candidate columns C (one document each)::

        loss = mean_b  -log( exp(z[b, t_b]) / sum_{c in C, c not masked for b} exp(z[b, c]) )

    with ``z = T * cos(q_b, doc_c)`` (``temperature_mode="scale"``) or ``z = <q_b, doc_c> / T``
    (``"divide"``), and ``t_b`` the column of x_b.

    Args:
        closure: the relevance the loss may know (S(q) for every query, grouped by query).
        n_docs: int, the number of documents.
        negatives: str (optional, default "full"). The candidate columns:
            ``"full"``: every document once; ``"sampled"``: the batch's positives plus
            ``n_negatives`` documents drawn uniformly, each document once (a uniform proposal
            needs no logQ correction); ``"in-batch"``: the batch's positives, one column per
            pair, duplicates included, so the target of row b is column b.
        n_negatives: int (optional, default 8192). Uniform draws per step when sampled.
        temperature_mode: str (optional, default "scale").
        masking: str (optional, default "hierarchy"). What leaves the denominator of row b:
            ``"none"``: nothing; ``"duplicates"``: other columns holding x_b itself (in-batch
            only: other candidate sets hold each document once); ``"hierarchy"``: every column
            holding a document of S(q_b) other than the target column (false negatives).
        normalize_queries: bool (optional, default False). Unit queries in the loss.

    Relations:
        ``negatives="in-batch", masking="none"`` with unit vectors is sentence-transformers'
        ``MultipleNegativesRankingLoss`` with ``scale=T`` (symmetric=False): every other
        positive of the batch is a negative, popular far ancestors included.

    Example:
        >>> loss_fn = SoftmaxLoss(h.closure(), h.n, negatives="in-batch", masking="none")
        >>> cand = loss_fn.candidates(rng, positives)           # (B,) document ids
        >>> loss = loss_fn(model, queries, positives, cand, 20.0)
    """

    def __init__(self, closure, n_docs: int, *, negatives: str = "full", n_negatives: int = 8192,
                 temperature_mode: str = "scale", masking: str = "hierarchy",
                 normalize_queries: bool = False):
        if negatives not in ("full", "sampled", "in-batch"):
            raise InputError(f"negatives must be full, sampled or in-batch, got {negatives!r}")
        if masking not in ("none", "duplicates", "hierarchy"):
            raise InputError(f"masking must be none, duplicates or hierarchy, got {masking!r}")
        self.closure = closure
        self.masking = masking
        self.n = n_docs
        self.negatives = negatives
        self.n_negatives = n_negatives
        self.mode = temperature_mode
        self.normalize_queries = normalize_queries
        self._pos_map = np.full(n_docs, -1, dtype=np.int64)
        self._all = np.arange(n_docs)

    @property
    def in_batch(self) -> bool:
        return self.negatives == "in-batch"

    def candidates(self, rng: np.random.Generator, positives: np.ndarray) -> np.ndarray:
        """The candidate columns' document ids: (C,), C = n, |positives u drawn| or B."""
        if self.in_batch:
            return positives
        if self.negatives == "full" or self.n_negatives >= self.n:
            return self._all
        drawn = rng.integers(0, self.n, size=self.n_negatives)
        cand = np.concatenate([positives, drawn])
        cand.sort()
        return cand[np.concatenate(([True], cand[1:] != cand[:-1]))]

    def _relevant_columns(self, queries: np.ndarray, cand: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(owner, col, doc) for every document of S(q_b) present in the unique ``cand``."""
        pm = self._pos_map
        pm[cand] = np.arange(len(cand))
        c = self.closure
        owner, at = expand_rows(c.ptr, queries)
        rel = c.doc[at]
        col = pm[rel]
        pm[cand] = -1
        present = col >= 0
        return owner[present], col[present], rel[present]

    def mask(self, queries: np.ndarray, positives: np.ndarray, cand: np.ndarray):
        """(rows, cols, target): the masked (row, column) entries and each row's target column."""
        if self.in_batch:
            return self._mask_in_batch(queries, positives)
        pm = self._pos_map
        pm[cand] = np.arange(len(cand))
        target = pm[positives].copy()
        pm[cand] = -1
        if self.masking != "hierarchy":  # each document is one column: no duplicates to mask
            return _EMPTY, _EMPTY, target
        owner, col, rel = self._relevant_columns(queries, cand)
        keep = rel != positives[owner]
        return owner[keep], col[keep], target

    def _mask_in_batch(self, queries: np.ndarray, positives: np.ndarray):
        b = len(positives)
        target = np.arange(b)
        if self.masking == "none":
            return _EMPTY, _EMPTY, target
        docs, inv = np.unique(positives, return_inverse=True)
        if self.masking == "duplicates":
            masked = inv[None, :] == inv[:, None]                      # (B, B): same document
        else:
            owner, col, _ = self._relevant_columns(queries, docs)
            relevant = np.zeros((b, len(docs)), dtype=bool)           # (B, U): doc u in S(q_b)
            relevant[owner, col] = True
            masked = relevant[:, inv]                                   # (B, B)
        masked[target, target] = False
        rows, cols = np.nonzero(masked)
        return rows, cols, target

    def logits_loss(self, qv: torch.Tensor, dv: torch.Tensor, rows: np.ndarray, cols: np.ndarray,
                    target: np.ndarray, temperature: float) -> torch.Tensor:
        """Mean loss from query vectors (B, d) and candidate vectors (C, d)."""
        if self.normalize_queries:  # ranking per query ignores its norm; doc norms stay free
            qv = torch.nn.functional.normalize(qv, dim=-1)
        # the temperature scales the (B, d) queries, not the (B, C) logits: one pass fewer
        qv = qv * temperature if self.mode == "scale" else qv / temperature
        return MaskedSoftmaxCE.apply(qv, dv, torch.from_numpy(rows), torch.from_numpy(cols),
                                     torch.from_numpy(target))

    def __call__(self, model: DualEncoder, queries: np.ndarray, positives: np.ndarray, cand: np.ndarray,
                 temperature: float) -> torch.Tensor:
        rows, cols, target = self.mask(queries, positives, cand)
        qv = model.query(torch.from_numpy(queries))                                  # (B, d)
        dv = model.doc() if cand is self._all else model.doc(torch.from_numpy(cand))  # (C, d)
        return self.logits_loss(qv, dv, rows, cols, target, temperature)


_EMPTY = np.zeros(0, dtype=np.int64)


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
        z_target = z[torch.arange(len(target)), target]
        return fused_ce_forward(ctx, qv, dv, z, z_target, target)

    @staticmethod
    def backward(ctx, grad):
        return (*fused_ce_backward(ctx, grad), None, None, None)


def fused_ce_forward(ctx, qv, dv, z, z_target, target) -> torch.Tensor:
    """The shared forward of the fused kernels: from masked logits z (B, C), in place, the mean
    of logsumexp(z[b]) - z_target[b]; saves what :func:`fused_ce_backward` needs."""
    zmax = z.amax(dim=1, keepdim=True)
    p = z.sub_(zmax).exp_()  # unnormalised softmax, in place (masked: exp(-inf) = 0)
    total = p.sum(dim=1)
    loss = (zmax.squeeze(1) + total.log() - z_target).mean()
    ctx.save_for_backward(qv, dv, p, total, target)
    return loss


def fused_ce_backward(ctx, grad) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradients for qv (B, d) and dv (C, d): (softmax - one-hot) / B, formed in place."""
    qv, dv, p, total, target = ctx.saved_tensors
    b = len(target)
    g = p.mul_((grad / b) / total[:, None])
    g[torch.arange(b, device=g.device), target] -= grad / b
    return g @ dv, g.T @ qv
