"""The training loss: softmax cross-entropy over a candidate set with false negatives masked
(:class:`SoftmaxLoss`), and its fused kernel (:class:`MaskedSoftmaxCE`).

logQ correction (``logq`` = alpha > 0; Yi et al., "Sampling-bias-corrected neural modeling for
large corpus item recommendations", RecSys 2019; Bengio & Senecal 2008 for sampled softmax).
With in-batch negatives a document is a column as often as it is a positive, so a popular
document (a far ancestor such as the root) is pushed away from every query of the batch whose
positive it is not, far more often than a rare one: the popularity bias behind "lost in the
long distance". The correction subtracts, after the temperature, ``alpha x log q_j`` from every
logit of column j, where q_j is how likely document j is to fill that column
(:func:`logq_bias`)::

    z[b, c] = T * cos(q_b, doc_c) - alpha * log q_{doc_c}

- ``in-batch``: a column is one draw of the stage's pair sampler, so q_j = p_j, the sampler's
  marginal share of document j among positives (:meth:`hrviz.pairs.UniformSampler.doc_marginal`
  and the other samplers' own). A row holds B p_j copies of j on average: log B is the same
  for every column and cancels in the softmax. Masking does not change this (``duplicates``
  masks only the copies of the row's own positive; other documents keep their copies).
- ``sampled``: the columns are the set of the B positives and K uniform draws, each document
  once, so q_j is the probability that j is in the set:
  ``1 - (1 - p_j)^B (1 - 1/n)^K``. For K near n it is almost 1 for every document and the
  correction vanishes, as it should: the full softmax needs none.
- ``full``: every document is a column with probability 1: no correction.

Every column is corrected, the row's target included, as in Yi et al. (and TensorFlow's
``sampled_softmax_loss(subtract_log_q=True)``): the corrected row is then a consistent
estimate of the full softmax, whose every term is weighted by 1/q. (Correcting only the
numerator would change the loss by a constant per row; leaving the target out of the
denominator's correction would not, and would no longer estimate the full softmax.) The
reported loss is the corrected loss. ``alpha`` between 0 and 1 tempers the correction: it
trades distance-0 recall (a leaf is a rare positive, so the correction lifts its column the
most as a negative) against the far distances (docs/science-notes.md).
"""

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
            ``n_negatives`` documents drawn uniformly, each document once (the positives make
            the proposal non-uniform: see ``logq``); ``"in-batch"``: the batch's positives, one column per
            pair, duplicates included, so the target of row b is column b.
        n_negatives: int (optional, default 8192). Uniform draws per step when sampled.
        temperature_mode: str (optional, default "scale").
        masking: str (optional, default "hierarchy"). What leaves the denominator of row b:
            ``"none"``: nothing; ``"duplicates"``: other columns holding x_b itself (in-batch
            only: other candidate sets hold each document once); ``"hierarchy"``: every column
            holding a document of S(q_b) other than the target column (false negatives).
        normalize_queries: bool (optional, default False). Unit queries in the loss.
        logq: float (optional, default 0.0). Strength alpha of the logQ correction (1: the
            full correction of Yi et al.; 0: none). Takes effect once the stage's sampler
            marginal is set with :meth:`set_proposal`; see the module docstring.

    Relations:
        ``negatives="in-batch", masking="none"`` with unit vectors is sentence-transformers'
        ``MultipleNegativesRankingLoss`` with ``scale=T`` (symmetric=False): every other
        positive of the batch is a negative, popular far ancestors included.

    References:
        Yi et al., "Sampling-bias-corrected neural modeling for large corpus item
        recommendations", RecSys 2019 (the logQ correction of in-batch negatives).

    Example:
        >>> loss_fn = SoftmaxLoss(h.closure(), h.n, negatives="in-batch", masking="none", logq=1.0)
        >>> loss_fn.set_proposal(sampler.doc_marginal(h.n), batch_size=256)  # once per stage
        >>> cand = loss_fn.candidates(rng, positives)           # (B,) document ids
        >>> loss = loss_fn(model, queries, positives, cand, 20.0)
    """

    def __init__(self, closure, n_docs: int, *, negatives: str = "full", n_negatives: int = 8192,
                 temperature_mode: str = "scale", masking: str = "hierarchy",
                 normalize_queries: bool = False, logq: float = 0.0):
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
        self.logq = float(logq)
        self._bias: torch.Tensor | None = None  # (n,): -alpha log q_j of the current stage

    def set_proposal(self, share: np.ndarray, batch_size: int) -> None:
        """Set the logQ bias of the current stage from its sampler's marginal ``share`` (n,)
        (:meth:`hrviz.pairs.UniformSampler.doc_marginal`) and its batch size. No-op at logq=0."""
        bias = logq_bias(share, self.logq, negatives=self.negatives, batch_size=batch_size,
                         n_negatives=self.n_negatives)
        self._bias = None if bias is None else torch.from_numpy(bias)

    def column_bias(self, cand: np.ndarray) -> torch.Tensor | None:
        """The additive logit bias (C,) of the candidate columns ``cand``, or None."""
        if self._bias is None or cand is self._all:
            return None
        return self._bias[torch.from_numpy(cand)]

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
                    target: np.ndarray, temperature: float, bias: torch.Tensor | None = None) -> torch.Tensor:
        """Mean loss from query vectors (B, d) and candidate vectors (C, d); ``bias`` (C,) is
        added to every row's logits after the temperature (the logQ correction)."""
        if self.normalize_queries:  # ranking per query ignores its norm; doc norms stay free
            qv = torch.nn.functional.normalize(qv, dim=-1)
        # the temperature scales the (B, d) queries, not the (B, C) logits: one pass fewer
        qv = qv * temperature if self.mode == "scale" else qv / temperature
        return MaskedSoftmaxCE.apply(qv, dv, torch.from_numpy(rows), torch.from_numpy(cols),
                                     torch.from_numpy(target), bias)

    def __call__(self, model: DualEncoder, queries: np.ndarray, positives: np.ndarray, cand: np.ndarray,
                 temperature: float) -> torch.Tensor:
        rows, cols, target = self.mask(queries, positives, cand)
        qv = model.query(torch.from_numpy(queries))                                  # (B, d)
        dv = model.doc() if cand is self._all else model.doc(torch.from_numpy(cand))  # (C, d)
        return self.logits_loss(qv, dv, rows, cols, target, temperature, self.column_bias(cand))


def logq_bias(share: np.ndarray, alpha: float, *, negatives: str, batch_size: int,
              n_negatives: int = 0) -> np.ndarray | None:
    """float32 (n,): ``-alpha * log q_j``, the logQ bias of document j's columns, or None when
    there is nothing to correct (alpha 0, full softmax, or sampled with n_negatives >= n).

    Args:
        share: float (n,). The stage sampler's marginal: P(a drawn positive is document j).
        alpha: float. Strength (1: the full correction).
        negatives: str. "in-batch": q_j = share_j (one draw per column); "sampled": q_j =
            P(j in the set of ``batch_size`` positives and ``n_negatives`` uniform draws)
            = 1 - (1 - share_j)^B (1 - 1/n)^K; "full": None.
        batch_size: int. Positives per step (B).
        n_negatives: int (optional, default 0). Uniform draws per step when sampled (K).
    """
    n = len(share)
    if not alpha or negatives == "full" or (negatives == "sampled" and n_negatives >= n):
        return None
    p = np.clip(np.asarray(share, dtype=np.float64), 0.0, 1.0)
    if negatives == "in-batch":
        q = p
    elif negatives == "sampled":
        with np.errstate(divide="ignore"):
            log_absent = batch_size * np.log1p(-p) + n_negatives * np.log1p(-1.0 / n)  # log P(j not in set)
        q = -np.expm1(log_absent)
    else:
        raise ValueError(f"negatives must be full, sampled or in-batch, got {negatives!r}")
    # documents with q = 0 never fill a column: any finite value will do
    return (-alpha * np.log(np.maximum(q, 1e-30))).astype(np.float32)


_EMPTY = np.zeros(0, dtype=np.int64)


class MaskedSoftmaxCE(torch.autograd.Function):
    """mean_b [logsumexp_c z[b, c] - z[b, target_b]] with z = qv @ dv.T (+ bias[c], the logQ
    correction, when given) and z[rows, cols] = -inf.

    Fused by hand: the (B, C) logits are written once by the matrix product, masked in
    place, reduced once for the log-sum-exp, and turned into the gradient (softmax minus
    one-hot) in place in the backward pass. Autograd's version makes several more passes
    and copies over that matrix, which dominates a step on large hierarchies.
    """

    @staticmethod
    def forward(ctx, qv, dv, rows, cols, target, bias=None):
        z = qv @ dv.T                                                            # (B, C)
        if bias is not None:  # a constant: the gradient is still softmax minus one-hot
            z.add_(bias.to(z.dtype)[None, :])
        if len(rows):
            z[rows, cols] = -torch.inf
        z_target = z[torch.arange(len(target)), target]
        return fused_ce_forward(ctx, qv, dv, z, z_target, target)

    @staticmethod
    def backward(ctx, grad):
        return (*fused_ce_backward(ctx, grad), None, None, None, None)


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
