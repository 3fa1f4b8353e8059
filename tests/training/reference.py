"""The training loss written from its definition, for the tests to hold the fused, masked,
device-side loss against: explicit logits, an explicit mask, autograd's cross-entropy."""

from __future__ import annotations

import numpy as np
import torch


def reference(qt, dt, closure, queries, positives, cols, *, negatives, masking, T, log_q=None, alpha=0.0):
    """(loss, gradient per query row (B, d), gradient per document (n, d)) of the softmax loss
    by definition, for the batch (queries, positives) and the candidate documents ``cols``
    draws (its set of documents; in-batch: one column per pair).

    ``qt``, ``dt``: float64 tables (n, d), scores are plain dot products times ``T``;
    ``log_q``: (n,) log of each document's proposal probability, corrected with ``alpha``.
    """
    queries = np.asarray(queries.cpu() if torch.is_tensor(queries) else queries)
    positives = np.asarray(positives.cpu() if torch.is_tensor(positives) else positives)
    n = qt.shape[0]
    if negatives == "in-batch":
        docs = positives
        target = np.arange(len(positives))
    else:
        docs = np.arange(n) if cols.docs is None else np.unique(cols.docs.cpu().numpy())
        target = np.searchsorted(docs, positives)
    masked = np.zeros((len(queries), len(docs)), dtype=bool)
    for b in range(len(queries)):
        rel = set(closure.of(int(queries[b]))[0].tolist())
        for c, y in enumerate(docs.tolist()):
            if c == target[b]:
                continue
            if masking == "duplicates" and negatives == "in-batch" and y == positives[b]:
                masked[b, c] = True
            if masking == "hierarchy" and y in rel:
                masked[b, c] = True
    qv = qt[torch.as_tensor(queries)].clone().requires_grad_(True)                  # (B, d)
    dv = dt[torch.as_tensor(docs)].clone().requires_grad_(True)                     # (C, d)
    z = T * qv @ dv.T                                                               # (B, C)
    if log_q is not None:
        z = z - alpha * torch.as_tensor(log_q[docs], dtype=z.dtype)[None, :]
    z = z.masked_fill(torch.as_tensor(masked), -torch.inf)
    loss = torch.nn.functional.cross_entropy(z, torch.as_tensor(target))
    loss.backward()
    per_doc = torch.zeros_like(dt).index_add_(0, torch.as_tensor(docs), dv.grad)
    return loss.detach(), qv.grad, per_doc


def under_test(loss_fn, qt, dt, queries, positives, cols, T):
    """(loss, gradient per query row, gradient per document) of ``loss_fn`` on its ``cols``,
    the tables moved to the loss's device."""
    dev = loss_fn.device
    q_all, d_all = qt.to(dev), dt.to(dev)
    qv = q_all[queries].clone().requires_grad_(True)                                # (B, d)
    dv = (d_all if cols.docs is None else d_all[cols.docs]).clone().requires_grad_(True)  # (C, d)
    loss = loss_fn.loss(qv, dv, cols, T)
    loss.backward()
    docs = torch.arange(len(d_all), device=dev) if cols.docs is None else cols.docs
    per_doc = torch.zeros_like(d_all).index_add_(0, docs, dv.grad)
    return loss.detach().cpu(), qv.grad.cpu(), per_doc.cpu()
