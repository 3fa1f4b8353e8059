"""Exact evaluation speed on WordNet (82,115 queries, distance <= 8) at d=64, whatever the model.

Three models: random vectors (every pair in the tail of its row: the worst case), a model in
between (the exact embedding's vectors plus noise), and a near-perfect one. For each, the full
exact evaluation (:func:`hrviz.evaluate.evaluate`: recall by distance, mean rank, MAP), and on
a sample of 2,048 queries the ratio against the earlier way of counting ranks (a ``topk``
head per row, then one numpy comparison per missed pair against its row), both run here.
Writes bench/results/eval_speed.md and eval_speed.json.

    python bench/eval_speed.py
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from hrviz.evaluate import evaluate, pair_ranks
from hrviz.sparse import expand_rows
from hrviz.sources import load_source

OUT = Path(__file__).parent / "results"


@torch.no_grad()
def head_and_numpy_tail(q_vecs, d_vecs, closure, queries, chunk=2048):
    """The earlier counting, kept here as the baseline: topk head, numpy count for the tail."""
    n = d_vecs.shape[0]
    Q, D = torch.from_numpy(q_vecs), torch.from_numpy(d_vecs)
    sizes = np.diff(closure.ptr)
    ranks = []
    for lo in range(0, len(queries), chunk):
        qs = queries[lo: lo + chunk]
        owner, pidx = expand_rows(closure.ptr, qs)
        S = Q[torch.from_numpy(qs)] @ D.T
        r = torch.from_numpy(owner)
        s = S[r, torch.from_numpy(closure.doc[pidx].astype(np.int64))]
        kh = min(n, max(2 * int(sizes[qs].max()) + 1, 64))
        top = torch.topk(S, kh, dim=1, sorted=True).values
        in_head = s > top[r, kh - 1]
        rank = torch.full(s.shape, n + 1, dtype=torch.int64)
        hi = in_head.nonzero().squeeze(1)
        rank[hi] = (top[r[hi]] >= s[hi, None]).sum(1)
        tail = (~in_head).nonzero().squeeze(1).numpy()
        S_np, s_np, rank_np = S.numpy(), s.numpy(), rank.numpy()
        for t0 in range(0, len(tail), 256):
            t = tail[t0: t0 + 256]
            rank_np[t] = np.count_nonzero(S_np[owner[t]] >= s_np[t, None], axis=1)
        ranks.append(rank_np)
    return np.concatenate(ranks)


def models(h, dim=64, seed=0):
    """(name, q, d): random; the hierarchy's own structure blurred by noise; nearly exact."""
    rng = np.random.default_rng(seed)
    rand = rng.standard_normal((h.n, dim)).astype(np.float32)
    # documents: random unit vectors; queries: the sum of their relevant documents' vectors
    docs = rand / np.linalg.norm(rand, axis=1, keepdims=True)
    c = h.closure(8)
    qv = np.zeros_like(docs)
    np.add.at(qv, c.query, docs[c.doc])
    noisy = qv + 0.6 * rng.standard_normal(qv.shape).astype(np.float32)
    return [("random", rand, rng.standard_normal((h.n, dim)).astype(np.float32)),
            ("noisy", noisy.astype(np.float32), docs), ("structured", qv, docs)]


def main():
    torch.set_num_threads(os.cpu_count() or 1)
    h = load_source("wordnet")
    c = h.closure(8)
    rows, sample = [], np.sort(np.random.default_rng(0).choice(h.n, 2048, replace=False))
    for name, q, d in models(h):
        t0 = time.perf_counter()
        ev = evaluate(q, d, c)
        full = time.perf_counter() - t0
        t0 = time.perf_counter()
        _, new_rank, _ = pair_ranks(q, d, c, sample)
        t_new = time.perf_counter() - t0
        t0 = time.perf_counter()
        old_rank = head_and_numpy_tail(q, d, c, sample)
        t_old = time.perf_counter() - t0
        assert np.array_equal(np.minimum(old_rank, h.n + 1), new_rank), "the two counts disagree"
        rows.append({"model": name, "overall": round(ev.overall, 4), "min": round(ev.min, 4),
                     "mean_rank": round(ev.mean_rank, 1), "map": round(ev.map, 4),
                     "full_exact_seconds": round(full, 1), "sample_new_seconds": round(t_new, 2),
                     "sample_old_seconds": round(t_old, 2), "speedup": round(t_old / t_new, 1)})
        print(json.dumps(rows[-1]), flush=True)
    OUT.mkdir(exist_ok=True)
    (OUT / "eval_speed.json").write_text(json.dumps({"machine": platform.machine(), "cores": os.cpu_count(),
                                                     "rows": rows}, indent=1))
    lines = ["# Exact evaluation speed (WordNet, 82,115 queries, distance <= 8, d=64)", "",
             "`python bench/eval_speed.py`. Full: every rank exact, recall by distance, mean rank and "
             "MAP over all queries. Sample: the rank counts of 2,048 queries, the new counter against the "
             "earlier topk head + numpy tail count, in the same process (the two agree exactly).", "",
             "| model | overall | min | mean rank | MAP | full exact eval (s) | sample: new (s) | sample: earlier (s) | ratio |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['overall']:.3f} | {r['min']:.3f} | {r['mean_rank']} | {r['map']:.3f} | "
                     f"{r['full_exact_seconds']} | {r['sample_new_seconds']} | {r['sample_old_seconds']} | {r['speedup']}x |")
    lines += ["", f"Machine: {os.cpu_count()} cores ({platform.machine()}); other processes may have shared them."]
    (OUT / "eval_speed.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
