"""The Poincaré-ball model: distance and gradient, ball constraint, lifted ranking, a small tree."""

import numpy as np
import pytest
import torch

from hrviz.errors import InputError
from hrviz.models import poincare_ball, poincare_fit
from hrviz.models.poincare import PoincareModel
from hrviz.sources import load_source


def _ball(n, d, seed, max_norm=0.95):
    g = np.random.default_rng(seed)
    x = g.normal(size=(n, d))
    r = g.uniform(0, max_norm, size=(n, 1))
    return x / np.linalg.norm(x, axis=1, keepdims=True) * r


def _brute(u, v):
    uu, vv = (u * u).sum(-1), (v * v).sum(-1)
    s = ((u - v) ** 2).sum(-1)
    return torch.arccosh(1 + 2 * s / ((1 - uu) * (1 - vv)))


def test_distance_matches_formula_and_known_value():
    u = torch.tensor(_ball(50, 4, 0))
    v = torch.tensor(_ball(50, 4, 1))
    assert torch.allclose(poincare_ball.poincare_distance(u, v), _brute(u, v), rtol=1e-10, atol=1e-10)
    # from the origin: d(0, x) = 2 artanh(|x|)
    x = torch.tensor([[0.3, 0.4]], dtype=torch.float64)
    assert float(poincare_ball.poincare_distance(torch.zeros_like(x), x)) == pytest.approx(2 * np.arctanh(0.5))
    assert float(poincare_ball.poincare_distance(x, x)) == 0.0


def test_gradient_against_finite_differences():
    u = torch.tensor(_ball(6, 3, 2), requires_grad=True)
    v = torch.tensor(_ball(6, 3, 3), requires_grad=True)
    assert torch.autograd.gradcheck(poincare_ball.poincare_distance, (u, v), eps=1e-7, atol=1e-6)
    # broadcasting (the training shape: (B, 1, d) against (B, 1 + K, d))
    w = torch.tensor(_ball(6, 3, 4).reshape(2, 3, 3), requires_grad=True)
    uu = u[:2, None, :].detach().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(poincare_ball.poincare_distance, (uu, w), eps=1e-7, atol=1e-6)


def test_step_gradient_equals_autograd_loss():
    """One RSGD step moves each row by -lr (1-|x|^2)^2/4 times the autograd gradient of the loss."""
    x0 = torch.tensor(_ball(8, 3, 5, max_norm=0.7))
    u, v = torch.tensor([0, 1, 0]), torch.tensor([2, 3, 4])
    neg = torch.tensor([[5, 6], [7, 0], [1, 6]])
    ok = torch.tensor([[True, True], [True, False], [True, True]])
    xa = x0.clone().requires_grad_(True)
    cand = torch.cat([v[:, None], neg], 1)
    logits = (-_brute(xa[u][:, None, :], xa[cand])).masked_fill(
        torch.cat([torch.zeros(3, 1, dtype=torch.bool), ~ok], 1), float("-inf"))
    loss = -torch.log_softmax(logits, 1)[:, 0].sum()
    loss.backward()
    lr = 1e-3
    expect = x0 - lr * (1 - (x0 * x0).sum(1, keepdim=True)) ** 2 / 4 * xa.grad
    x = x0.clone()
    got_loss = poincare_fit.sgd_step(x, u, v, neg, ok, lr, 1e-5)
    assert got_loss == pytest.approx(float(loss.detach()))
    assert torch.allclose(x, expect, atol=1e-12)


def test_ball_constraint_after_every_step():
    x = torch.tensor(_ball(10, 2, 6, max_norm=0.999))
    u, v = torch.arange(5), torch.arange(5, 10)
    neg = torch.randint(10, (5, 4), generator=torch.Generator().manual_seed(0))
    ok = torch.ones(5, 4, dtype=torch.bool)
    for _ in range(30):  # a huge lr throws points at the boundary
        poincare_fit.sgd_step(x, u, v, neg, ok, 50.0, 1e-5)
        assert float(x.norm(dim=1).max()) <= 1 - 1e-5 + 1e-12
    h = load_source("tree:H=3,W=3")
    r = poincare_fit.fit_poincare(h, poincare_fit.PoincareConfig(dim=2, epochs=3, burn_in=1, lr=5.0, batch=4))
    assert float(r.model.x.norm(dim=1).max()) <= 1 - 1e-5 + 1e-12


def test_lifted_dot_product_ranks_like_distance():
    x = torch.tensor(_ball(200, 5, 7, max_norm=0.99))
    dist = _brute(x[:, None, :], x[None, :, :]).numpy()  # (200, 200)
    s = poincare_ball.lift_queries(x.numpy()) @ poincare_ball.lift_docs(x.numpy()).T
    for q in range(0, 200, 7):
        assert np.array_equal(np.argsort(dist[q], kind="stable"), np.argsort(-s[q], kind="stable"))
    # and the model's own scores (minus distance) agree with the brute force
    m = PoincareModel(200, 5)
    m.load_state({"x": x})
    assert np.allclose(-m.scores(torch.arange(200)).numpy(), dist, atol=1e-9)


def test_small_tree_reconstructed_at_d2(tmp_path):
    h = load_source("tree:H=3,W=3")
    r = poincare_fit.fit_poincare(h, poincare_fit.PoincareConfig(dim=2, epochs=200, burn_in=10, seed=0))
    ev = poincare_fit.evaluate_poincare(r.model, h.closure())
    assert ev.map >= 0.95
    assert float(r.model.x.norm(dim=1).max()) < 1
    # save / load round trip and the hierarchy guard
    path = r.model.save(tmp_path / "p.safetensors", hierarchy_hash=h.hash, source="tree",
                        params={"model": "poincare", "seed": 0})
    m = PoincareModel.load(path)
    assert torch.equal(m.x, r.model.x) and m.meta["params"]["model"] == "poincare"
    m.check_hierarchy(h.hash)
    with pytest.raises(InputError):
        m.check_hierarchy("other")


def test_finetune_stage_keeps_best_checkpoint():
    """The finetune stage returns the checkpoint with the best validation criterion (select_by
    "overall"), not the last one nor the worst. A finetune lr this high makes the recall jump
    around: with seed 1 its best epoch is neither the first nor the last."""
    h = load_source("tree:H=4,W=3")
    seen = []
    r = poincare_fit.fit_poincare(h, poincare_fit.PoincareConfig(dim=2, epochs=5, burn_in=2, finetune_epochs=4, finetune_lr_ratio=5.0,
                                           seed=1, threads=1), callback=seen.append)
    scores = [e["overall"] for e in seen if e["kind"] == "recall"]  # [0]: the pretrained model
    best = scores.index(max(scores))
    assert len(scores) == 5
    assert 0 < best < len(scores) - 1 and min(scores) < max(scores), f"pick another seed: {scores}"
    assert poincare_fit.evaluate_poincare(r.model, h.closure(), ranks=False).overall == max(scores)
    assert r.best_epoch == best


def test_negatives_are_never_relevant():
    h = load_source("tree:H=4,W=3")
    c = h.closure()
    s = poincare_fit.NegativeSampler(h, c, retries=10)
    q = torch.arange(h.n)
    neg, ok = s.sample(q, 10, torch.Generator().manual_seed(0))
    rel = {(int(a), int(b)) for a, b in zip(c.query, c.doc)}
    for i in range(h.n):
        for j, good in zip(neg[i].tolist(), ok[i].tolist()):
            assert not good or (i, j) not in rel


def test_bad_config_is_an_input_error():
    with pytest.raises(InputError):
        poincare_fit.PoincareConfig(dim=0).resolved()
    with pytest.raises(InputError):
        poincare_fit.PoincareConfig(select_by="best").resolved()


def test_cli_train_and_eval_a_poincare_run(tmp_path, capsys):
    import json

    from hrviz.cli import main

    db = str(tmp_path / "r.duckdb")
    assert main(["train", "tree:H=3,W=3", "--model", "poincare", "--dim", "2", "--epochs", "100",
                 "--db", db, "--json"]) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["model"] == "poincare" and res["dim"] == 2 and res["map"] >= 0.9
    assert set(res) >= {"run_id", "recipe", "metric", "recall_by_distance", "overall", "min", "mean_rank", "seconds"}
    assert main(["eval", str(res["run_id"]), "--db", db, "--json"]) == 0
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert again["overall"] == pytest.approx(res["overall"]) and again["map"] == pytest.approx(res["map"])
