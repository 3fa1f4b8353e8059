"""hrviz.training.loss: the softmax loss against its definition (every negatives x masking, the
CPU's compacted columns and the GPU's fixed-size ones, on every device), false negatives
masked, temperature modes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hrviz.models.dual_encoder import DualEncoder
from hrviz.sources import perfect_tree, random_dag
from hrviz.training import SoftmaxLoss
from tests.training.reference import reference, under_test

GPU = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here")
DEVICES = ["cpu", pytest.param("cuda", marks=[pytest.mark.gpu, GPU])]
CASES = [("full", "none"), ("full", "hierarchy"), ("sampled", "none"), ("sampled", "hierarchy"),
         ("in-batch", "none"), ("in-batch", "duplicates"), ("in-batch", "hierarchy")]


def _batch(c, size, seed=0):
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, c.n_pairs, size=size)
    return c.query[idx].astype(np.int64), c.doc[idx].astype(np.int64)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("compact", [True, False], ids=["compact", "fixed-size"])
@pytest.mark.parametrize("negatives,masking", CASES)
def test_loss_and_gradients_match_the_definition(device, compact, negatives, masking):
    """A DAG with several parents per node, a batch that repeats documents and holds their
    ancestors: loss and gradients (per query row, summed per document) equal the definition's."""
    h = random_dag(nodes=40, depth=4, parents=2, p_extra=0.5, seed=3)
    c = h.closure()
    queries, positives = _batch(c, 24)
    assert len(set(positives.tolist())) < len(positives)
    # the CPU's way (unique columns) or the GPU's (copies masked)
    loss_fn = SoftmaxLoss(c, h.n, negatives=negatives, masking=masking, n_negatives=10, device=device, compact=compact)
    qd, pd = torch.as_tensor(queries, device=device), torch.as_tensor(positives, device=device)
    cols = loss_fn.columns(torch.Generator(device=device).manual_seed(0), qd, pd)
    if negatives == "sampled":
        drawn = cols.docs.cpu().numpy()
        assert set(positives.tolist()) <= set(drawn.tolist()) and len(np.unique(drawn)) < h.n
        assert (len(np.unique(drawn)) == len(drawn)) == compact
    torch.manual_seed(0)
    qt = torch.randn(h.n, 5, dtype=torch.float64)
    dt = torch.randn(h.n, 5, dtype=torch.float64)
    got = under_test(loss_fn, qt, dt, qd, pd, cols, 7.0)
    want = reference(qt, dt, c, queries, positives, cols, negatives=negatives, masking=masking, T=7.0)
    assert float(got[0]) == pytest.approx(float(want[0]), rel=1e-9)
    assert torch.allclose(got[1], want[1]) and torch.allclose(got[2], want[2])


def test_sampled_negatives_at_least_n_are_the_full_softmax():
    h = perfect_tree(3, 2)
    c = h.closure()
    loss_fn = SoftmaxLoss(c, h.n, negatives="sampled", n_negatives=h.n)
    cols = loss_fn.columns(torch.Generator().manual_seed(0), torch.tensor([1, 2]), torch.tensor([1, 0]))
    assert loss_fn.full and cols.docs is None and cols.target.tolist() == [1, 0]


def test_unmasked_loss_differs_when_false_negatives_exist():
    h = perfect_tree(4, 2)
    c = h.closure()
    model = DualEncoder(h.n, 4, seed=0)
    leaf = int(h.leaves[0])
    queries = torch.tensor([leaf])
    positives = torch.tensor([leaf])  # its ancestors are false negatives for this pair
    gen = torch.Generator().manual_seed(0)
    losses = {}
    for masking in ("hierarchy", "none"):
        loss_fn = SoftmaxLoss(c, h.n, masking=masking)
        losses[masking] = loss_fn(model, queries, positives, loss_fn.columns(gen, queries, positives), 20.0).item()
    assert losses["none"] > losses["hierarchy"]


def test_temperature_modes():
    h = perfect_tree(3, 2)
    c = h.closure()
    model = DualEncoder(h.n, 3, seed=0, normalize=False)
    q, p = torch.tensor([1]), torch.tensor([1])
    gen = torch.Generator().manual_seed(0)
    scale = SoftmaxLoss(c, h.n, temperature_mode="scale")
    divide = SoftmaxLoss(c, h.n, temperature_mode="divide")
    a = scale(model, q, p, scale.columns(gen, q, p), 4.0).item()
    b = divide(model, q, p, divide.columns(gen, q, p), 0.25).item()
    assert a == pytest.approx(b, rel=1e-6)


def test_a_stage_masking_shares_the_ancestor_table():
    h = perfect_tree(3, 3)
    loss_fn = SoftmaxLoss(h.closure(), h.n, negatives="in-batch", masking="none")
    other = loss_fn.with_masking("hierarchy")
    assert other.masking == "hierarchy" and loss_fn.masking == "none"
    assert other.table is loss_fn.table
