"""The logQ correction (TrainConfig.logq): the corrected loss against brute force, the samplers'
marginals against their draws, the device loss against the table loss, logq=0 unchanged, and
one end-to-end check that it raises far recall in the paper regime."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hrviz.evaluate import evaluate
from hrviz.pairs import (DistanceWeightedSampler, LongDistanceSampler, MixtureSampler, all_pairs,
                         rebalanced_weights, regular_sampler)
from hrviz.sources import load_source
from hrviz.training import SoftmaxLoss, TrainConfig, fit
from hrviz.training.device_train import AncestorTable, DeviceSoftmaxLoss
from hrviz.training.loss import logq_bias

T = 5.0
GPU = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here")
DEVICES = ["cpu", pytest.param("cuda", marks=[pytest.mark.gpu, GPU])]


def _batch(c, b=32, seed=0):
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, c.n_pairs, b)
    return c.query[idx].astype(np.int64), c.doc[idx].astype(np.int64)


def _brute(qt, dt, queries, cand, target, masked, log_q, alpha):
    """Plain autograd cross-entropy on explicit corrected logits: (loss, grad q rows, grad d rows)."""
    qv = qt[queries].clone().requires_grad_(True)                             # (B, d)
    dv = dt[cand].clone().requires_grad_(True)                                # (C, d)
    z = T * qv @ dv.T - alpha * torch.as_tensor(log_q[cand])[None, :]         # (B, C)
    z = z.masked_fill(torch.as_tensor(masked), -torch.inf)
    loss = torch.nn.functional.cross_entropy(z, torch.as_tensor(target))
    loss.backward()
    return loss, qv.grad, dv.grad


def _masked(b, c, rows, cols):
    m = np.zeros((b, c), dtype=bool)
    m[rows, cols] = True
    return m


@pytest.mark.parametrize("negatives,masking", [("in-batch", "none"), ("in-batch", "duplicates"),
                                               ("in-batch", "hierarchy"), ("sampled", "none"),
                                               ("sampled", "hierarchy")])
@pytest.mark.parametrize("alpha", [1.0, 0.5])
def test_corrected_loss_matches_brute_force(negatives, masking, alpha):
    h = load_source("tree:H=3,W=3")
    c = h.closure()
    p = all_pairs(h)
    share = regular_sampler(p, "uniform").doc_marginal(h.n)  # the root: 1 in 3 positives
    queries, positives = _batch(c)
    B, K = len(queries), 10
    loss_fn = SoftmaxLoss(c, h.n, negatives=negatives, masking=masking, n_negatives=K, logq=alpha)
    loss_fn.set_proposal(share, B)
    cand = loss_fn.candidates(np.random.default_rng(1), positives)
    rows, cols, target = loss_fn.mask(queries, positives, cand)
    # q_j written out independently of logq_bias
    if negatives == "in-batch":
        log_q = np.log(share)
    else:
        log_q = np.log(1 - (1 - share) ** B * (1 - 1 / h.n) ** K)
    torch.manual_seed(0)
    qt = torch.randn(h.n, 6, dtype=torch.float64)
    dt = torch.randn(h.n, 6, dtype=torch.float64)
    qv = qt[queries].clone().requires_grad_(True)
    dv = dt[cand].clone().requires_grad_(True)
    loss = loss_fn.logits_loss(qv, dv, rows, cols, target, T, loss_fn.column_bias(cand))
    loss.backward()
    ref, gq, gd = _brute(qt, dt, queries, cand, target, _masked(B, len(cand), rows, cols), log_q, alpha)
    # the bias is float32: agreement to float32 precision of the logits
    assert float(loss.detach()) == pytest.approx(float(ref.detach()), rel=1e-6)
    assert torch.allclose(qv.grad, gq, atol=1e-6)
    assert torch.allclose(dv.grad, gd, atol=1e-6)
    # and the correction does something
    plain = SoftmaxLoss(c, h.n, negatives=negatives, masking=masking, n_negatives=K)
    assert abs(float(plain.logits_loss(qt[queries], dt[cand], rows, cols, target, T)) - float(ref.detach())) > 1e-3


def test_full_softmax_has_nothing_to_correct():
    share = np.full(10, 0.1)
    assert logq_bias(share, 1.0, negatives="full", batch_size=4) is None
    assert logq_bias(share, 1.0, negatives="sampled", batch_size=4, n_negatives=10) is None
    assert logq_bias(share, 0.0, negatives="in-batch", batch_size=4) is None


def _samplers(p):
    long = LongDistanceSampler(p, 2)
    return {"uniform": regular_sampler(p, "uniform"), "per-query": regular_sampler(p, "per-query"),
            "per-document": regular_sampler(p, "per-document"),
            "rebalanced": DistanceWeightedSampler(p, rebalanced_weights(p, 0.03)),
            "long": long, "joint": MixtureSampler([regular_sampler(p, "uniform"), long], [0.7, 0.3])}


@pytest.mark.parametrize("name", ["uniform", "per-query", "per-document", "rebalanced", "long", "joint"])
def test_sampler_marginals_match_their_draws(name):
    h = load_source("dag:n=60,depth=4,seed=1") if name == "per-query" else load_source("tree:H=3,W=3")
    p = all_pairs(h)
    s = _samplers(p)[name]
    m = s.doc_marginal(h.n)
    assert m.sum() == pytest.approx(1.0)
    draws = 200_000
    freq = np.bincount(p.doc[s.sample(np.random.default_rng(0), draws)], minlength=h.n) / draws
    # binomial standard error at most 0.0011 here
    assert np.abs(freq - m).max() < 0.006
    if name == "uniform":  # exactly the document's count among the training pairs / pairs
        assert np.allclose(m, np.bincount(p.doc, minlength=h.n) / len(p), rtol=1e-12, atol=0)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("negatives,masking", [("in-batch", "none"), ("in-batch", "duplicates"),
                                               ("sampled", "none"), ("sampled", "hierarchy")])
def test_device_loss_matches_table_loss_with_logq(device, negatives, masking):
    """One batch, the same candidates: the device loss and gradients equal the table loss's."""
    h = load_source("tree:H=3,W=3")
    c = h.closure()
    share = regular_sampler(all_pairs(h), "uniform").doc_marginal(h.n)
    queries, positives = _batch(c, 24)
    ref = SoftmaxLoss(c, h.n, negatives=negatives, masking=masking, n_negatives=10, logq=1.0)
    dev = DeviceSoftmaxLoss(AncestorTable(c, h.n, device), negatives=negatives, masking=masking,
                            n_negatives=10, logq=1.0)
    ref.set_proposal(share, 24)
    dev.set_proposal(share, 24)
    qd, pd = torch.as_tensor(queries, device=device), torch.as_tensor(positives, device=device)
    cand_t, rep, target = dev.candidates(torch.Generator(device=device).manual_seed(0), pd)
    cand = positives if negatives == "in-batch" else np.unique(cand_t.cpu().numpy())
    rows, cols, tgt = ref.mask(queries, positives, cand)
    torch.manual_seed(0)
    qt = torch.randn(h.n, 6, dtype=torch.float64)
    dt = torch.randn(h.n, 6, dtype=torch.float64)
    qv1 = qt[queries].clone().requires_grad_(True)
    dv1 = dt[cand].clone().requires_grad_(True)
    l1 = ref.logits_loss(qv1, dv1, rows, cols, tgt, T, ref.column_bias(cand))
    l1.backward()
    qv2 = qt.to(device)[qd].clone().requires_grad_(True)
    dv2 = dt.to(device)[cand_t].clone().requires_grad_(True)
    l2 = dev.logits_loss(qv2, dv2, dev.masker(qd, pd, cand_t, rep, target), target, T, dev.column_bias(cand_t))
    l2.backward()
    assert float(l1.detach()) == pytest.approx(float(l2.detach()), rel=1e-9)
    assert torch.allclose(qv1.grad, qv2.grad.cpu())
    g2 = dv2.grad.cpu()
    if negatives == "sampled":  # repeated columns get no gradient: sum per document
        g2 = torch.zeros(h.n, 6, dtype=g2.dtype).index_add_(0, cand_t.cpu(), g2)[torch.as_tensor(cand)]
    assert torch.allclose(dv1.grad, g2)


def test_logq_zero_is_the_uncorrected_loss_bit_for_bit():
    h = load_source("tree:H=3,W=3")
    c = h.closure()
    queries, positives = _batch(c)
    share = regular_sampler(all_pairs(h), "uniform").doc_marginal(h.n)
    old = SoftmaxLoss(c, h.n, negatives="in-batch", masking="none")
    new = SoftmaxLoss(c, h.n, negatives="in-batch", masking="none", logq=0.0)
    new.set_proposal(share, len(queries))
    assert new.column_bias(positives) is None
    torch.manual_seed(0)
    qt, dt = torch.randn(h.n, 6), torch.randn(h.n, 6)
    out = []
    for fn in (old, new):
        qv = qt[queries].clone().requires_grad_(True)
        dv = dt[positives].clone().requires_grad_(True)
        rows, cols, target = fn.mask(queries, positives, positives)
        loss = fn.logits_loss(qv, dv, rows, cols, target, T, fn.column_bias(positives))
        loss.backward()
        out.append((loss.detach(), qv.grad, dv.grad))
    assert all(torch.equal(a, b) for a, b in zip(*out))
    # a whole fit: logq=0 takes no other path than a config without it
    cfg = dict(dim=8, recipe="pretrain-finetune", regime="paper", steps=60, finetune_steps=20, eval_every=20)
    a, b = fit(h, TrainConfig(**cfg)), fit(h, TrainConfig(**cfg, logq=0.0))
    assert np.array_equal(a.model.query_vectors(), b.model.query_vectors())
    assert np.array_equal(a.model.doc_vectors(), b.model.doc_vectors())


def test_device_loop_trains_with_logq():
    h = load_source("tree:H=3,W=4")
    cfg = TrainConfig(dim=8, recipe="pretrain-finetune", regime="paper", steps=300, finetune_steps=100,
                      device="cpu", logq=1.0)
    a = fit(h, cfg)
    b = fit(h, cfg, device_loop=True)
    ea = evaluate(a.model.query_vectors(), a.model.doc_vectors(), h.closure())
    eb = evaluate(b.model.query_vectors(), b.model.doc_vectors(), h.closure())
    assert abs(ea.overall - eb.overall) < 0.1


def test_cli_flag_alone_means_full_correction():
    from hrviz.cli import build_parser

    p = build_parser()
    assert p.parse_args(["train", "x", "--dim", "3"]).logq == 0.0
    assert p.parse_args(["train", "x", "--dim", "3", "--logq"]).logq == 1.0
    assert p.parse_args(["train", "x", "--dim", "3", "--logq", "0.5", "--steps", "3"]).logq == 0.5


def test_logq_raises_far_recall_in_the_paper_regime():
    """Mammals, d=32, 300 steps of standard training in the paper regime: distance 8 is lost
    (about 5%); with logQ it comes back (about 90%), as on the full tree (science-notes)."""
    h = load_source("wordnet:mammal.n.01")
    cfg = dict(dim=32, recipe="standard", regime="paper", max_distance=8, steps=300, eval_every=300,
               eval_queries=10, threads=1)
    c = h.closure(8)
    ev = {}
    for alpha in (0.0, 1.0):
        r = fit(h, TrainConfig(**cfg, logq=alpha))
        ev[alpha] = evaluate(r.model.query_vectors(), r.model.doc_vectors(), c, ranks=False)
    far = max(ev[0.0].recall_by_distance)
    assert ev[1.0].recall_by_distance[far] > ev[0.0].recall_by_distance[far] + 0.4
    assert ev[1.0].min > ev[0.0].min + 0.3
    assert ev[1.0].overall > ev[0.0].overall


def test_text_tower_gets_each_stages_correction(monkeypatch):
    """The tower's loop sets the bias from each stage's own sampler (pretrain: all pairs;
    finetune: long pairs only) and trains with it."""
    from hrviz.models.text_fit import TowerConfig, fit_text

    calls = []
    orig = SoftmaxLoss.set_proposal

    def spy(self, share, batch_size):
        orig(self, share, batch_size)
        calls.append((share.copy(), self._bias))

    monkeypatch.setattr(SoftmaxLoss, "set_proposal", spy)
    h = load_source("tree:H=4,W=3")
    # in-batch negatives, every node a query, no self pairs in the finetune: over the tree preset
    cfg = TrainConfig(dim=16, recipe="pretrain-finetune", regime="paper", steps=40, finetune_steps=20,
                      eval_every=20, logq=1.0, long_threshold=2, negatives="in-batch", queries="all",
                      finetune_self_share=0.0)
    r = fit_text(h, "hashing:dim=64", cfg, TowerConfig(head="linear"), cache_dir=None)
    assert len(calls) == 2 and all(b is not None for _, b in calls)
    pre, fine = calls[0][0], calls[1][0]
    assert pre.sum() == pytest.approx(1) and fine.sum() == pytest.approx(1)
    assert fine[h.leaves].sum() == 0 and pre[h.leaves].sum() > 0  # leaves are never 2 hops up
    assert r.seen is not None
