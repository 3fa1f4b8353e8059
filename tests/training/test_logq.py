"""The logQ correction (TrainConfig.logq): the corrected loss against brute force (the CPU's
compacted columns and the GPU's fixed-size ones, on every device), the samplers' marginals
against their draws, logq=0 unchanged, and one end-to-end check that it raises far recall in
the paper regime."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hrviz.evaluate import evaluate
from hrviz.pairs import (DistanceWeightedSampler, LongDistanceSampler, MixtureSampler, all_pairs,
                         rebalanced_weights, regular_sampler)
from hrviz.sources import load_source
from hrviz.training import SoftmaxLoss, TrainConfig, fit
from hrviz.training import loss as L
from hrviz.training.loss import logq_bias
from tests.training.reference import reference, under_test

T = 5.0
GPU = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here")
DEVICES = ["cpu", pytest.param("cuda", marks=[pytest.mark.gpu, GPU])]


def _batch(c, b=32, seed=0):
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, c.n_pairs, b)
    return c.query[idx].astype(np.int64), c.doc[idx].astype(np.int64)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("compact", [True, False], ids=["compact", "fixed-size"])
@pytest.mark.parametrize("negatives,masking", [("in-batch", "none"), ("in-batch", "duplicates"),
                                               ("in-batch", "hierarchy"), ("sampled", "none"),
                                               ("sampled", "hierarchy")])
@pytest.mark.parametrize("alpha", [1.0, 0.5])
def test_corrected_loss_matches_brute_force(device, compact, negatives, masking, alpha):
    h = load_source("tree:H=3,W=3")
    c = h.closure()
    p = all_pairs(h)
    share = regular_sampler(p, "uniform").doc_marginal(h.n)  # the root: 1 in 3 positives
    queries, positives = _batch(c)
    B, K = len(queries), 10
    loss_fn = SoftmaxLoss(c, h.n, negatives=negatives, masking=masking, n_negatives=K, logq=alpha, device=device,
                          compact=compact)
    loss_fn.set_proposal(share, B)
    qd, pd = torch.as_tensor(queries, device=device), torch.as_tensor(positives, device=device)
    cols = loss_fn.columns(torch.Generator(device=device).manual_seed(1), qd, pd)
    # q_j written out independently of logq_bias
    if negatives == "in-batch":
        log_q = np.log(share)
    else:
        log_q = np.log(1 - (1 - share) ** B * (1 - 1 / h.n) ** K)
    torch.manual_seed(0)
    qt = torch.randn(h.n, 6, dtype=torch.float64)
    dt = torch.randn(h.n, 6, dtype=torch.float64)
    got = under_test(loss_fn, qt, dt, qd, pd, cols, T)
    want = reference(qt, dt, c, queries, positives, cols, negatives=negatives, masking=masking, T=T,
                     log_q=log_q, alpha=alpha)
    # the bias is float32: agreement to float32 precision of the logits
    assert float(got[0]) == pytest.approx(float(want[0]), rel=1e-6)
    assert torch.allclose(got[1], want[1], atol=1e-6)
    assert torch.allclose(got[2], want[2], atol=1e-6)
    # and the correction does something
    plain = reference(qt, dt, c, queries, positives, cols, negatives=negatives, masking=masking, T=T)
    assert abs(float(plain[0]) - float(want[0])) > 1e-3


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


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ["uniform", "per-query", "per-document", "rebalanced", "long", "joint"])
def test_sampler_marginals_match_their_draws(device, name):
    h = load_source("dag:n=60,depth=4,seed=1") if name == "per-query" else load_source("tree:H=3,W=3")
    p = all_pairs(h)
    s = _samplers(p)[name]
    m = s.doc_marginal(h.n)
    assert m.sum() == pytest.approx(1.0)
    draws = 200_000
    idx = s.sample(torch.Generator(device=device).manual_seed(0), draws).cpu().numpy()
    freq = np.bincount(p.doc[idx], minlength=h.n) / draws
    # binomial standard error at most 0.0011 here
    assert np.abs(freq - m).max() < 0.006
    if name == "uniform":  # exactly the document's count among the training pairs / pairs
        assert np.allclose(m, np.bincount(p.doc, minlength=h.n) / len(p), rtol=1e-12, atol=0)


def test_logq_zero_is_the_uncorrected_loss_bit_for_bit():
    h = load_source("tree:H=3,W=3")
    c = h.closure()
    queries, positives = (torch.from_numpy(a) for a in _batch(c))
    share = regular_sampler(all_pairs(h), "uniform").doc_marginal(h.n)
    old = SoftmaxLoss(c, h.n, negatives="in-batch", masking="none")
    new = SoftmaxLoss(c, h.n, negatives="in-batch", masking="none", logq=0.0)
    new.set_proposal(share, len(queries))
    assert new.bias is None and new.columns(None, queries, positives).bias is None
    torch.manual_seed(0)
    qt, dt = torch.randn(h.n, 6), torch.randn(h.n, 6)
    out = [under_test(fn, qt, dt, queries, positives, fn.columns(None, queries, positives), T) for fn in (old, new)]
    assert all(torch.equal(a, b) for a, b in zip(*out))
    # a whole fit: logq=0 takes no other path than a config without it
    cfg = dict(dim=8, recipe="pretrain-finetune", regime="paper", steps=60, finetune_steps=20, eval_every=20)
    a, b = fit(h, TrainConfig(**cfg)), fit(h, TrainConfig(**cfg, logq=0.0))
    assert np.array_equal(a.model.query_vectors(), b.model.query_vectors())
    assert np.array_equal(a.model.doc_vectors(), b.model.doc_vectors())


@pytest.mark.parametrize("device", DEVICES)
def test_the_gpu_way_trains_with_logq(device, monkeypatch):
    """Sampled negatives with logQ: the fit on ``device`` with the GPU's fixed-size columns (on
    the CPU: compaction off) reaches the CPU default's recall within 0.1."""
    h = load_source("tree:H=3,W=4")
    cfg = TrainConfig(dim=8, recipe="pretrain-finetune", regime="paper", negatives="sampled", n_negatives=30,
                      steps=300, finetune_steps=100, device="cpu", logq=1.0)
    a = fit(h, cfg)
    monkeypatch.setattr(L, "compact_columns", lambda device: False)
    b = fit(h, TrainConfig(**{**cfg.__dict__, "device": device}))
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
        calls.append((share.copy(), self.bias))

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
