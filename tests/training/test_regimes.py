"""Training regimes: each masking's loss against a brute-force computation, the pair draws'
distributions, the optimisers, the presets and their overrides."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hrviz.errors import InputError
from hrviz.models.dual_encoder import DualEncoder
from hrviz.pairs import GroupedSampler, all_pairs, regular_sampler
from hrviz.sources import perfect_tree, random_dag
from hrviz.training import REGIMES, SoftmaxLoss, TrainConfig, fit, make_optimizer, table_step
from hrviz.training.config import regime_values


def brute_in_batch(model, closure, queries, positives, T, masking):
    """In-batch loss by definition: row b against the B columns positives[0..B-1]."""
    qv = model.query(torch.from_numpy(queries)).detach()
    dv = model.doc(torch.from_numpy(positives)).detach()
    total = 0.0
    for b in range(len(queries)):
        rel = set(closure.of(int(queries[b]))[0].tolist())
        keep = []
        for c in range(len(positives)):
            if c == b:
                keep.append(c)
            elif masking == "duplicates" and positives[c] == positives[b]:
                continue
            elif masking == "hierarchy" and int(positives[c]) in rel:
                continue
            else:
                keep.append(c)
        z = torch.stack([T * (qv[b] @ dv[c]) for c in keep])
        total += -(z[keep.index(b)] - torch.logsumexp(z, 0)).item()
    return total / len(queries)


def batch(h, size=24, seed=0):
    c = h.closure()
    rng = np.random.default_rng(seed)
    # draw from a few queries so that duplicates and relevant in-batch documents occur
    idx = rng.integers(0, c.n_pairs, size=size)
    return c, c.query[idx].astype(np.int64), c.doc[idx].astype(np.int64)


@pytest.mark.parametrize("masking", ["none", "duplicates", "hierarchy"])
def test_in_batch_loss_matches_brute_force(masking):
    h = perfect_tree(4, 2)  # 15 nodes: a batch of 24 repeats documents and holds ancestors
    c, queries, positives = batch(h)
    assert len(set(positives.tolist())) < len(positives)
    model = DualEncoder(h.n, 4, seed=2)
    loss_fn = SoftmaxLoss(c, h.n, negatives="in-batch", masking=masking)
    q, p = torch.from_numpy(queries), torch.from_numpy(positives)
    cols = loss_fn.columns(torch.Generator().manual_seed(0), q, p)
    assert cols.docs.tolist() == positives.tolist()  # one column per pair, duplicates kept
    got = loss_fn(model, q, p, cols, 5.0).item()
    assert got == pytest.approx(brute_in_batch(model, c, queries, positives, 5.0, masking), rel=1e-5)


def test_maskings_order_the_in_batch_loss():
    """Masking removes terms from the denominator: none >= duplicates >= hierarchy."""
    h = perfect_tree(4, 2)
    c, queries, positives = batch(h, size=32, seed=1)
    model = DualEncoder(h.n, 4, seed=0)
    losses = {}
    for masking in ("none", "duplicates", "hierarchy"):
        loss_fn = SoftmaxLoss(c, h.n, negatives="in-batch", masking=masking)
        q, p = torch.from_numpy(queries), torch.from_numpy(positives)
        losses[masking] = loss_fn(model, q, p, loss_fn.columns(None, q, p), 5.0).item()
    assert losses["none"] > losses["duplicates"] > losses["hierarchy"]


@pytest.mark.parametrize("negatives", ["in-batch", "sampled"])
@pytest.mark.parametrize("masking", ["none", "duplicates", "hierarchy"])
def test_table_step_gradient_matches_autograd(negatives, masking):
    """The row-gathering step (repeated rows, their gradients summed) gives autograd's gradient
    of the whole tables: SGD moves every row as dense SGD would."""
    h = random_dag(nodes=30, depth=4, parents=2, p_extra=0.4, seed=1)
    c, queries, positives = batch(h, size=20, seed=3)
    q, p = torch.from_numpy(queries), torch.from_numpy(positives)
    loss_fn = SoftmaxLoss(c, h.n, negatives=negatives, masking=masking, n_negatives=12)
    ref = DualEncoder(h.n, 5, seed=4)
    loss = loss_fn(ref, q, p, loss_fn.columns(torch.Generator().manual_seed(7), q, p), 7.0)
    loss.backward()
    lr = 0.1
    want_q = ref.q.detach() - lr * ref.q.grad
    want_d = ref.d.detach() - lr * ref.d.grad
    model = DualEncoder(h.n, 5, seed=4)
    got = table_step(make_optimizer(model, lr, "sgd"), loss_fn, q, p, 7.0, torch.Generator().manual_seed(7))
    assert float(got) == pytest.approx(loss.item(), rel=1e-6)
    assert torch.allclose(model.q.detach(), want_q, atol=1e-6)
    assert torch.allclose(model.d.detach(), want_d, atol=1e-6)


def test_lazy_adam_sums_repeated_rows_like_unique_rows():
    """A row drawn twice moves as one row with the summed gradient (the moments too)."""
    torch.manual_seed(0)
    grads = torch.randn(3, 4)
    once, twice = DualEncoder(6, 4, seed=0), DualEncoder(6, 4, seed=0)
    a, b = make_optimizer(once, 0.05, "lazy-adam"), make_optimizer(twice, 0.05, "lazy-adam")
    for _ in range(3):
        a.begin()
        a.update("q", torch.tensor([1, 4]), torch.stack([grads[0] + grads[2], grads[1]]))
        b.begin()
        b.update("q", torch.tensor([1, 4, 1]), grads)
    assert torch.allclose(once.q.detach(), twice.q.detach(), atol=1e-6)
    assert torch.equal(twice.q.detach()[0], DualEncoder(6, 4, seed=0).q.detach()[0])  # untouched


@pytest.mark.parametrize("kind", ["adagrad", "adam", "sgd"])
def test_each_optimizer_trains(kind):
    from hrviz.evaluate import evaluate

    h = perfect_tree(4, 3)
    untrained = DualEncoder(h.n, 6, seed=0)
    before = evaluate(untrained.query_vectors(), untrained.doc_vectors(), h.closure()).overall
    res = fit(h, TrainConfig(dim=6, recipe="standard", optimizer=kind, lr=0.5 if kind == "adagrad" else 0.05,
                             steps=200, eval_every=100))
    after = evaluate(res.model.query_vectors(), res.model.doc_vectors(), h.closure()).overall
    assert after > before + 0.2


# ----- pair draws -----------------------------------------------------------------------------
def test_per_document_draw_gives_every_document_the_same_share():
    h = perfect_tree(4, 3)
    pairs = all_pairs(h)
    draws = GroupedSampler(pairs, "doc").sample(torch.Generator().manual_seed(0), 200_000).numpy()
    share = np.bincount(pairs.doc[draws], minlength=h.n) / len(draws)
    assert np.allclose(share, 1 / h.n, atol=0.003)
    # the root is one document in 40: its share of pairs is far below uniform's
    uniform_share = (pairs.doc == h.roots[0]).mean()
    assert share[h.roots[0]] < uniform_share / 5


def test_per_query_draw_gives_every_query_the_same_share():
    h = perfect_tree(4, 3)
    pairs = all_pairs(h)
    draws = regular_sampler(pairs, "per-query").sample(torch.Generator().manual_seed(1), 200_000).numpy()
    share = np.bincount(pairs.query[draws], minlength=h.n) / len(draws)
    assert np.allclose(share, 1 / h.n, atol=0.003)
    # inside a query, its relevant documents are equally likely
    leaf = int(h.leaves[0])
    mine = pairs.doc[draws][pairs.query[draws] == leaf]
    counts = np.bincount(mine, minlength=h.n)[counts_nonzero := np.flatnonzero(np.bincount(mine, minlength=h.n))]
    assert len(counts_nonzero) == 4 and counts.min() > 0.8 * counts.max()


def test_unknown_pair_draw_is_a_clear_error():
    with pytest.raises(InputError, match="pairs"):
        TrainConfig(pairs="per-leaf").resolved(perfect_tree(3, 2))


# ----- presets -------------------------------------------------------------------------------
def test_regime_presets_fill_fields_and_explicit_values_override():
    h = random_dag(nodes=40, depth=3, seed=0)  # not a synthetic tree: the general presets
    paper = TrainConfig(regime="paper").resolved(h)
    for name, value in REGIMES["paper"].items():
        if value is not None:  # None: filled from the hierarchy's size (steps, long threshold)
            assert getattr(paper, name) == value, name
    tree = TrainConfig(regime="paper").resolved(perfect_tree(3, 2))  # tree:... too: no preset by name
    for name, value in regime_values("paper").items():
        if value is not None:
            assert getattr(tree, name) == value, name
    exact = TrainConfig().resolved(h)
    assert (exact.regime, exact.masking, exact.negatives) == ("exact", "hierarchy", "full")
    mixed = TrainConfig(regime="paper", masking="hierarchy", lr=0.2).resolved(h)
    assert mixed.masking == "hierarchy" and mixed.lr == 0.2 and mixed.negatives == "in-batch"
    with pytest.raises(InputError, match="regime"):
        TrainConfig(regime="fast").resolved(h)


def test_every_field_has_help_text():
    from dataclasses import fields

    assert all(TrainConfig.help(f.name) for f in fields(TrainConfig))


def test_fits_set_the_thread_count_while_they_run_and_restore_it():
    import threading

    before = torch.get_num_threads()
    h = perfect_tree(3, 3)
    try:
        torch.set_num_threads(2)
        seen = []
        fit(h, TrainConfig(dim=4, recipe="standard", steps=20, eval_every=10, threads=1),
            callback=lambda e: seen.append(torch.get_num_threads()))
        assert set(seen) == {1} and torch.get_num_threads() == 2
        # two fits at once: both finish, neither runs with more threads than it asked for
        torch.set_num_threads(3)
        during = {1: [], 2: []}
        ts = [threading.Thread(target=fit, args=(h, TrainConfig(dim=4, recipe="standard", steps=50, eval_every=10,
                                                                threads=t)),
                               kwargs={"callback": lambda e, t=t: during[t].append(torch.get_num_threads())})
              for t in (1, 2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert set(during[1]) == {1} and set(during[2]) <= {1, 2}, during
        # and nothing is left behind: the count is back, and the next fit gets what it asks for
        after = []
        fit(h, TrainConfig(dim=4, recipe="standard", steps=20, eval_every=10, threads=2),
            callback=lambda e: after.append(torch.get_num_threads()))
        assert torch.get_num_threads() == 3 and set(after) == {2}
    finally:
        torch.set_num_threads(before)  # the other tests keep this process's count
