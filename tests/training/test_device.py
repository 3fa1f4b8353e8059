"""The one training stack on every device: evaluation on the device, the samplers' draws, and
whole fits, here on the CPU and again on CUDA under the ``gpu`` marker (skipped without a GPU:
CI has none). What a GPU does differently (sampled columns kept at a fixed size, later copies
masked, instead of compacted) also runs here on the CPU: ``compact_columns`` switched off."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from hrviz.errors import InputError
from hrviz.evaluate import evaluate
from hrviz.sources import load_source
from hrviz.training import TrainConfig, fit
from hrviz.training import loss as L
from hrviz.training.device import evaluate_on_device, resolve_device, sampled_evaluation

GPU = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here")
DEVICES = ["cpu", pytest.param("cuda", marks=[pytest.mark.gpu, GPU])]


def test_resolve_device():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(InputError):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(InputError):
            resolve_device("cuda")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without a GPU")
def test_cli_cuda_without_gpu_exits_2(tmp_path):
    p = subprocess.run([sys.executable, "-m", "hrviz", "train", "tree:H=3,W=2", "--dim", "4", "--device", "cuda",
                        "--db", str(tmp_path / "x.duckdb")], capture_output=True, text=True)
    assert p.returncode == 2
    assert len(p.stderr.strip().splitlines()) == 1 and "cuda" in p.stderr


@pytest.mark.parametrize("device", DEVICES)
def test_evaluate_on_device_matches_exact(device):
    h = load_source("dag:n=300,depth=5,seed=1")
    c = h.closure(3)
    rng = np.random.default_rng(0)
    q = rng.standard_normal((h.n, 4)).astype(np.float32)
    d = rng.standard_normal((h.n, 4)).astype(np.float32)
    d[5] = d[7]  # a tie
    mask = rng.random(c.n_pairs) < 0.5
    for kw in (dict(), dict(k=5), dict(pair_mask=mask), dict(queries=np.arange(0, h.n, 3)), dict(ranks=False)):
        a = evaluate(q, d, c, **kw)
        b = evaluate_on_device(q, d, c, device=device, chunk=64, **kw)
        assert (a.hits, a.pairs, a.n_queries) == (b.hits, b.pairs, b.n_queries)
        assert a.mean_rank == pytest.approx(b.mean_rank) and a.map == pytest.approx(b.map)


def test_sampled_evaluation_labelled_with_interval():
    h = load_source("dag:n=2000,depth=6,seed=2")
    c = h.closure(4)
    rng = np.random.default_rng(1)
    v = rng.standard_normal((h.n, 8)).astype(np.float32)
    out = sampled_evaluation(v, v, c, queries=500, seed=3, boot=200)
    assert out["evaluation"] == "sampled" and out["queries"] == 500
    lo, hi = out["ci95"]["overall"]
    assert lo <= out["overall"] <= hi
    full = evaluate(v, v, c, ranks=False)
    assert abs(full.overall - out["overall"]) < 0.1


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("regime,negatives", [("exact", "full"), ("exact", "sampled"), ("paper", "in-batch")])
def test_the_gpu_way_learns_like_the_cpu_way(device, regime, negatives, monkeypatch):
    """The same fit on ``device`` with the GPU's fixed-size columns (on the CPU: compaction
    switched off) against the CPU's default: the same recall within 0.1, the exact regime
    solving the tree."""
    h = load_source("tree:H=4,W=4")
    cfg = TrainConfig(dim=8, recipe="pretrain-finetune", regime=regime, negatives=negatives, n_negatives=40,
                      steps=300, finetune_steps=100, device="cpu")
    a = fit(h, cfg)
    monkeypatch.setattr(L, "compact_columns", lambda device: False)
    b = fit(h, TrainConfig(**{**cfg.__dict__, "device": device}))
    ea = evaluate(a.model.query_vectors(), a.model.doc_vectors(), h.closure())
    eb = evaluate(b.model.query_vectors(), b.model.doc_vectors(), h.closure())
    assert abs(ea.overall - eb.overall) < 0.1
    if regime == "exact":
        assert eb.min > 0.9


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("pairs", ["uniform", "per-query", "per-document"])
def test_samplers_draw_their_distribution_on_every_device(device, pairs):
    """The share of each distance among the draws is the one the sampler states (pair_probability)."""
    from hrviz.pairs import all_pairs, regular_sampler

    p = all_pairs(load_source("tree:H=4,W=3"))
    s = regular_sampler(p, pairs)
    want = np.bincount(p.distance, weights=s.pair_probability(), minlength=4)
    g = torch.Generator(device=device).manual_seed(0)
    draws = s.sample(g, 40_000)
    assert draws.device.type == device and draws.dtype == torch.int64
    got = np.bincount(p.distance[draws.cpu().numpy()], minlength=4) / 40_000
    assert np.abs(got - want).max() < 0.01
    # seeded: the same generator state, the same draws
    assert torch.equal(s.sample(torch.Generator(device=device).manual_seed(0), 40_000), draws)


def test_train_cli_device_cpu_json(tmp_path):
    p = subprocess.run([sys.executable, "-m", "hrviz", "train", "tree:H=4,W=4", "--dim", "8", "--device", "cpu",
                        "--steps", "200", "--finetune-steps", "50", "--json", "--db", str(tmp_path / "r.duckdb")],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["device"] == "cpu" and out["dim"] == 8
    # a 4-level tree at d=8 is easy: exact recall 1.0 at every distance (seeds 0 and 1); a broken
    # CLI path falls far below (untrained, 2 steps: overall 0.12)
    assert out["overall"] >= 0.95 and out["min"] >= 0.9, out
    e = subprocess.run([sys.executable, "-m", "hrviz", "eval", str(out["run_id"]), "--device", "cpu",
                        "--sample-queries", "40", "--json", "--db", str(tmp_path / "r.duckdb")],
                       capture_output=True, text=True, timeout=120)
    assert e.returncode == 0, e.stderr
    s = json.loads(e.stdout.strip().splitlines()[-1])
    assert s["evaluation"] == "sampled" and s["queries"] == 40 and "ci95" in s
    lo, hi = s["ci95"]["overall"]
    assert lo <= s["overall"] <= hi and s["overall"] >= 0.9, s  # the same model, 40 of its queries
