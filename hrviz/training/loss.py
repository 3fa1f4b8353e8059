"""The training loss: softmax cross-entropy over a candidate set with false negatives masked
(:class:`SoftmaxLoss`), and its fused kernel (:class:`MaskedSoftmaxCE`). One loss on every torch
device: a step's columns and masks are tensors on the training device. On a GPU every shape is
fixed, so a step never waits for the host; on the CPU, where nothing waits, sets are compacted
instead (:func:`compact_columns`), which makes fewer columns and smaller masks.

Columns (:meth:`SoftmaxLoss.columns`). ``full``: column j is document j. ``in-batch``: column b
is the positive of row b (a document may fill several columns). ``sampled``: the batch's
positives and ``n_negatives`` uniform draws, each document counted once: on the CPU the set is
compacted (``torch.unique``: no column is wasted on a copy), on a GPU it keeps its fixed size
B + K and the later copies of a document are masked out of every row (compacting would make
the host wait for the set's size). Both give the same softmax, the same loss and the same
gradient per document (:func:`compact_columns` says which a device takes).

Masking. A document's column is found through a slot map (document -> its column, one
``(n + 1,)`` buffer written and cleared at the batch's columns, no search). ``hierarchy``
masking sets -inf at the columns of S(q_b) other than the target: on a GPU S(q_b) is read from
:class:`~hrviz.training.device.AncestorTable` (padded rows, (Q, L): fixed shapes), on the CPU
from the closure's rows as one flat list (no padding: sum |S(q_b)| entries, each op too small
to wake a second thread). In-batch, membership of column c's document in S(q_b) is a (B, B)
lookup through each document's representative column.

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

import copy
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from ..errors import InputError
from ..models.dual_encoder import DualEncoder
from ..sparse import expand_rows
from .device import AncestorTable


def compact_columns(device) -> bool:
    """Whether sampled columns are compacted to unique documents on ``device``: on the CPU
    (fewer columns, the same softmax), not on a GPU (a unique set has a size only the host
    learns, which would make every step wait)."""
    return torch.device(device).type == "cpu"


@dataclass
class Columns:
    """The candidate columns of one step (:meth:`SoftmaxLoss.columns`).

    ``docs``: (C,) the document of each column, or None when column j is document j (full
    negatives); ``target``: (B,) the column of each row's positive; ``mask(z, z_target)``
    sets the masked logits of z (B, C) to -inf in place, given each row's target logit
    (B,); ``bias``: (C,) the logQ bias of each column, or None.
    """

    docs: torch.Tensor | None
    target: torch.Tensor
    mask: Callable[[torch.Tensor, torch.Tensor], None]
    bias: torch.Tensor | None = None


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
        device: str or torch.device (optional, default "cpu"). Where the columns, masks and
            bias live: the training device.
        compact: bool (optional, default: :func:`compact_columns` of the device). Sampled
            columns (and a step's rows, :func:`~hrviz.training.optim.table_step`) once per
            document; False keeps every shape fixed (a GPU; the ranks of a data-parallel run,
            whose all-gathers need the same shapes on every rank).

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
        >>> cols = loss_fn.columns(gen, queries, positives)     # gen: a torch.Generator
        >>> loss = loss_fn(model, queries, positives, cols, 20.0)
    """

    def __init__(self, closure, n_docs: int, *, negatives: str = "full", n_negatives: int = 8192,
                 temperature_mode: str = "scale", masking: str = "hierarchy",
                 normalize_queries: bool = False, logq: float = 0.0, device="cpu", compact: bool | None = None):
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
        self.logq = float(logq)
        self.device = torch.device(device)
        self.compact = compact_columns(self.device) if compact is None else compact
        self._bias: torch.Tensor | None = None   # (n,): -alpha log q_j of the current stage
        self._shared = {}                        # the ancestor table and the slot map, made once

    def with_masking(self, masking: str) -> "SoftmaxLoss":
        """This loss with another masking (a stage's own), sharing its ancestor table."""
        if masking not in ("none", "duplicates", "hierarchy"):
            raise InputError(f"masking must be none, duplicates or hierarchy, got {masking!r}")
        other = copy.copy(self)
        other.masking = masking
        return other

    @property
    def table(self) -> AncestorTable:
        """S(q) of every query as a padded table on the device (made on first use)."""
        if "table" not in self._shared:
            self._shared["table"] = AncestorTable(self.closure, self.n, self.device)
        return self._shared["table"]

    @property
    def _slot(self) -> torch.Tensor:
        """(n + 1,) int64, -1 everywhere between uses: document -> its column in this step.
        Index n (the table's padding) stays -1."""
        if "slot" not in self._shared:
            self._shared["slot"] = torch.full((self.n + 1,), -1, dtype=torch.int64, device=self.device)
        return self._shared["slot"]

    def set_proposal(self, share: np.ndarray, batch_size: int) -> None:
        """Set the logQ bias of the current stage from its sampler's marginal ``share`` (n,)
        (:meth:`hrviz.pairs.UniformSampler.doc_marginal`) and its batch size (one rank's).
        No-op at logq=0."""
        bias = logq_bias(share, self.logq, negatives=self.negatives, batch_size=batch_size,
                         n_negatives=self.n_negatives)
        self._bias = None if bias is None else torch.from_numpy(bias).to(self.device)

    @property
    def bias(self) -> torch.Tensor | None:
        """The current stage's logQ bias per document, (n,) (None: no correction)."""
        return self._bias

    @property
    def in_batch(self) -> bool:
        return self.negatives == "in-batch"

    @property
    def full(self) -> bool:
        """Every document is a column (full negatives, or sampled with n_negatives >= n)."""
        return self.negatives == "full" or (self.negatives == "sampled" and self.n_negatives >= self.n)

    def columns(self, gen: torch.Generator, queries: torch.Tensor, positives: torch.Tensor) -> Columns:
        """The step's columns for the batch of pairs (``queries``, ``positives``), both (B,)
        int64 on the device; ``gen`` draws the sampled negatives."""
        b = len(positives)
        if self.in_batch:
            return Columns(positives, torch.arange(b, device=positives.device),
                           self._in_batch_mask(queries, positives), self._column_bias(positives))
        if self.full:
            col = self._relevant_columns(queries, None, positives) if self.masking == "hierarchy" else None
            return Columns(None, positives, _table_mask(None, col, positives))
        drawn = torch.randint(0, self.n, (self.n_negatives,), generator=gen, device=positives.device)
        docs = torch.cat([positives, drawn])                                       # (B + K,)
        if self.compact:
            docs = torch.unique(docs)                                              # (C,) sorted, once each
        slot, at = self._slot, torch.arange(len(docs), device=docs.device)
        slot.index_copy_(0, docs, at)                    # a repeated document: one of its columns wins
        target = slot.index_select(0, positives)                                   # (B,)
        repeated = None if self.compact else slot.index_select(0, docs) != at      # (C,) later copies
        col = self._relevant_columns(queries, slot, target) if self.masking == "hierarchy" else None
        slot.index_fill_(0, docs, -1)
        return Columns(docs, target, _table_mask(repeated, col, target), self._column_bias(docs))

    def _column_bias(self, docs: torch.Tensor) -> torch.Tensor | None:
        return None if self._bias is None else self._bias.index_select(0, docs)

    def _relevant_columns(self, queries: torch.Tensor, slot: torch.Tensor | None, target: torch.Tensor):
        """(rows, cols): the logits of S(q_b)'s documents that have a column, the row's positive
        itself included (the mask writes the target's logit back). Compact (the CPU): S(q_b)'s
        entries listed flat, rows (S,) and columns (S,), S = sum |S(q_b)|. Otherwise rows is None
        and cols the padded (B, L) table, an entry without a column pointing at its row's target:
        no shape depends on the batch."""
        if self.compact:
            rows, docs = self._flat(queries)                                       # (S,), (S,)
            if slot is None:  # full: column j is document j
                return rows, docs
            col = slot.index_select(0, docs)                                       # (S,), -1: none
            keep = (col >= 0).nonzero().squeeze(1)
            return rows.index_select(0, keep), col.index_select(0, keep)
        rel = self.table.doc.index_select(0, queries)                              # (B, L), pad n
        if slot is None:
            return None, torch.where(rel < self.n, rel, target[:, None])
        col = _lookup(slot, rel)                                                   # (B, L), -1: none
        return None, torch.where(col >= 0, col, target[:, None])

    def _flat(self, queries: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(row, document) of every entry of S(q_b), from the closure's rows (CSR), by numpy on
        the host: the compact (CPU) way, where tensors and arrays share memory."""
        c = self.closure
        rows, at = expand_rows(c.ptr, queries.cpu().numpy())
        return (torch.from_numpy(rows).to(queries.device),
                torch.from_numpy(c.doc[at].astype(np.int64)).to(queries.device))

    def _in_batch_mask(self, queries: torch.Tensor, positives: torch.Tensor):
        if self.masking == "none":
            return _no_mask
        b = len(positives)
        if self.masking == "duplicates":
            masked = positives[None, :] == positives[:, None]                      # (B, B): same document
        else:
            slot = self._slot
            slot.index_copy_(0, positives, torch.arange(b, device=positives.device))
            rep = slot.index_select(0, positives)        # (B,) one column per document: its representative
            col = _lookup(slot, self.table.doc.index_select(0, queries))  # (B, L) representatives of S(q_b), -1 absent
            slot.index_fill_(0, positives, -1)
            relevant = torch.zeros(b, b + 1, dtype=torch.bool, device=positives.device)
            relevant.scatter_(1, torch.where(col >= 0, col, b), True)              # (B, B + 1); column b: absent
            masked = relevant.index_select(1, rep)                                 # (B, B): doc_c in S(q_b)
        masked.fill_diagonal_(False)

        def mask(z, z_target):
            z.masked_fill_(masked, -torch.inf)

        return mask

    def loss(self, qv: torch.Tensor, dv: torch.Tensor, cols: Columns, temperature: float) -> torch.Tensor:
        """Mean loss from query vectors (B, d) and the columns' document vectors (C, d)."""
        if self.normalize_queries:  # ranking per query ignores its norm; doc norms stay free
            qv = torch.nn.functional.normalize(qv, dim=-1)
        # the temperature scales the (B, d) queries, not the (B, C) logits: one pass fewer
        qv = qv * temperature if self.mode == "scale" else qv / temperature
        return MaskedSoftmaxCE.apply(qv, dv, cols.target, cols.mask, cols.bias)

    def __call__(self, model: DualEncoder, queries: torch.Tensor, positives: torch.Tensor, cols: Columns,
                 temperature: float) -> torch.Tensor:
        """The loss of ``model`` on a batch whose columns are ``cols``."""
        qv = model.query(queries)                                                  # (B, d)
        dv = model.doc(cols.docs)                                                  # (C, d)
        return self.loss(qv, dv, cols, temperature)


def _no_mask(z, z_target) -> None:
    pass


def _lookup(slot: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """``slot[ids]`` for ids of any shape, as one flat index_select (faster on the CPU)."""
    return slot.index_select(0, ids.reshape(-1)).view(ids.shape)


def _table_mask(repeated, col, target):
    """The mask of full or sampled columns: the later copies of a document (``repeated``, (C,))
    and every column of S(q_b) but the target (``col``: :meth:`SoftmaxLoss._relevant_columns`)."""
    if repeated is None and col is None:
        return _no_mask

    def mask(z, z_target):
        if repeated is not None:
            z.masked_fill_(repeated[None, :], -torch.inf)
        if col is not None:  # every relevant column, the target's included; then the target's logit back
            rows, cols = col
            if rows is None:
                z.scatter_(1, cols, -torch.inf)
            else:  # (flat: index_fill_ is many times faster than z[rows, cols] = ... on the CPU)
                z.view(-1).index_fill_(0, rows * z.shape[1] + cols, -torch.inf)
            z.scatter_(1, target[:, None], z_target[:, None])

    return mask


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


class MaskedSoftmaxCE(torch.autograd.Function):
    """mean_b [logsumexp_c z[b, c] - z[b, target_b]] with z = qv @ dv.T (+ bias[c], the logQ
    correction, when given) and the entries ``mask`` names set to -inf.

    Fused by hand: the (B, C) logits are written once by the matrix product, masked in
    place, reduced once for the log-sum-exp, and turned into the gradient (softmax minus
    one-hot) in place in the backward pass. Autograd's version makes several more passes
    and copies over that matrix, which dominates a step on large hierarchies.
    """

    @staticmethod
    def forward(ctx, qv, dv, target, mask, bias=None):
        z = qv @ dv.T                                                            # (B, C)
        if bias is not None:  # a constant on every row (target included): the gradient is still softmax - one-hot
            z.add_(bias.to(z.dtype)[None, :])
        z_target = z.gather(1, target[:, None]).squeeze(1)                       # (B,)
        mask(z, z_target)
        zmax = z.amax(dim=1, keepdim=True)                                       # (B, 1)
        p = z.sub_(zmax).exp_()  # unnormalised softmax, in place (masked: exp(-inf) = 0)
        total = p.sum(dim=1)                                                     # (B,)
        loss = (zmax.squeeze(1) + total.log() - z_target).mean()
        ctx.save_for_backward(qv, dv, p, total, target)
        return loss

    @staticmethod
    def backward(ctx, grad):
        """Gradients for qv (B, d) and dv (C, d): (softmax - one-hot) / B, formed in place."""
        qv, dv, p, total, target = ctx.saved_tensors
        b = len(target)
        g = p.mul_((grad / b) / total[:, None])                                  # (B, C)
        g.scatter_add_(1, target[:, None], (-grad / b).expand(b, 1).to(g.dtype))
        return g @ dv, g.T @ qv, None, None, None
