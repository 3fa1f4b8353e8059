"""hrviz.training.loss: the softmax loss against a brute-force computation, false negatives
masked, temperature modes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hrviz.models.dual_encoder import DualEncoder
from hrviz.sources import perfect_tree, random_dag
from hrviz.training import SoftmaxLoss


def brute_force_loss(model, closure, queries, positives, cand, T):
    qv = model.query(torch.from_numpy(queries)).detach()
    dv = model.doc().detach()
    total = 0.0
    for b in range(len(queries)):
        rel = set(closure.of(int(queries[b]))[0].tolist())
        allowed = [y for y in cand.tolist() if y == positives[b] or y not in rel]
        z = torch.stack([T * (qv[b] @ dv[y]) for y in allowed])
        total += -(z[allowed.index(int(positives[b]))] - torch.logsumexp(z, 0)).item()
    return total / len(queries)


@pytest.mark.parametrize("negatives", ["full", "sampled"])
def test_loss_matches_brute_force_with_false_negatives_masked(negatives):
    h = random_dag(nodes=40, depth=4, parents=2, p_extra=0.5, seed=3)
    c = h.closure()
    model = DualEncoder(h.n, 5, seed=1)
    rng = np.random.default_rng(0)
    idx = rng.integers(0, c.n_pairs, size=16)
    queries, positives = c.query[idx].astype(np.int64), c.doc[idx].astype(np.int64)
    loss_fn = SoftmaxLoss(c, h.n, negatives=negatives, n_negatives=10)
    cand = loss_fn.candidates(rng, positives)
    if negatives == "sampled":
        assert set(positives.tolist()) <= set(cand.tolist()) and len(cand) < h.n
    got = loss_fn(model, queries, positives, cand, 7.0).item()
    assert got == pytest.approx(brute_force_loss(model, c, queries, positives, cand, 7.0), rel=1e-5)


def test_unmasked_loss_differs_when_false_negatives_exist():
    h = perfect_tree(4, 2)
    c = h.closure()
    model = DualEncoder(h.n, 4, seed=0)
    leaf = int(h.leaves[0])
    queries = np.array([leaf])
    positives = np.array([leaf])  # its ancestors are false negatives for this pair
    cand = np.arange(h.n)
    masked = SoftmaxLoss(c, h.n)(model, queries, positives, cand, 20.0).item()
    unmasked = SoftmaxLoss(c, h.n, masking="none")(model, queries, positives, cand, 20.0).item()
    assert unmasked > masked


def test_temperature_modes():
    h = perfect_tree(3, 2)
    c = h.closure()
    model = DualEncoder(h.n, 3, seed=0, normalize=False)
    q, p = np.array([1]), np.array([1])
    cand = np.arange(h.n)
    a = SoftmaxLoss(c, h.n, temperature_mode="scale")(model, q, p, cand, 4.0).item()
    b = SoftmaxLoss(c, h.n, temperature_mode="divide")(model, q, p, cand, 0.25).item()
    assert a == pytest.approx(b, rel=1e-6)
