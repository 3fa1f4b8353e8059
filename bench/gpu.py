"""GPU bench (run on a machine with a CUDA GPU): writes bench/results/gpu.md naming the card.

    .venv/bin/python bench/gpu.py [--dim 64] [--steps N]

Measures, in one process on one GPU:
1. WordNet d=64, pretrain-finetune, exact regime, end to end (``fit`` on ``device="cuda"``,
   then exact evaluation of all 82,115 queries with mean rank and MAP) (goal <= 60 s);
2. exact evaluation alone (recall@auto with ranks, :func:`evaluate_on_device`) (goal <= 2 s);
3. training pairs/s of the training loop on the GPU, and the rate of the same-shape GEMM (batch x
   candidates x d, forward + two backward products) in the same process, and their ratio.
Without CUDA it writes nothing and exits 2 (a CPU run would not measure what is asked).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

OUT = Path(__file__).parent / "results"


def sync():
    torch.cuda.synchronize()


def gemm_rate(b: int, c: int, d: int, reps: int = 50) -> float:
    """Seconds per step-shaped GEMM triple: z = q @ D.T (b, c), g @ D (b, d), g.T @ q (c, d)."""
    q = torch.randn(b, d, device="cuda")
    D = torch.randn(c, d, device="cuda")
    for _ in range(3):
        z = q @ D.T
        z @ D, z.T @ q
    sync()
    t = time.perf_counter()
    for _ in range(reps):
        z = q @ D.T
        z @ D, z.T @ q
    sync()
    return (time.perf_counter() - t) / reps


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--steps", type=int, default=None, help="pretrain steps (default: the exact regime's)")
    a = ap.parse_args()
    if not torch.cuda.is_available():
        print("bench/gpu.py: no CUDA GPU here; nothing measured", file=sys.stderr)
        return 2
    from hrviz.kinds.tables import final_evaluation
    from hrviz.sources import load_source
    from hrviz.training import TrainConfig, fit
    from hrviz.training.device import evaluate_on_device, device_name

    card = torch.cuda.get_device_name(0)
    h = load_source("wordnet")
    cfg = TrainConfig(dim=a.dim, recipe="pretrain-finetune", regime="exact", steps=a.steps, device="cuda")
    res = cfg.resolved(h)
    t0 = time.perf_counter()
    r = fit(h, cfg)
    sync()
    t_fit = time.perf_counter() - t0
    q, d = r.model.query_vectors(), r.model.doc_vectors()
    t1 = time.perf_counter()
    final = final_evaluation(h, res, q, d, device=res.device)
    ev, closure = final.evaluation, final.closure
    t_final = time.perf_counter() - t1
    t_end_to_end = time.perf_counter() - t0
    # exact evaluation alone, warm
    t2 = time.perf_counter()
    ev2 = evaluate_on_device(q, d, closure, device="cuda", ranks=True)
    sync()
    t_eval = time.perf_counter() - t2
    t3 = time.perf_counter()
    evaluate_on_device(q, d, closure, device="cuda", ranks=False)
    sync()
    t_eval_recall = time.perf_counter() - t3
    steps = res.total_steps()
    pairs_s = steps * res.batch_size / r.seconds
    C = h.n if res.negatives == "full" else res.batch_size + res.n_negatives
    g = gemm_rate(res.batch_size, C, a.dim)
    gemm_pairs_s = res.batch_size / g
    row = {"card": card, "device": device_name("cuda"), "dim": a.dim, "steps": steps, "batch": res.batch_size,
           "negatives": res.negatives, "candidates": C, "fit_s": t_fit, "final_eval_s": t_final,
           "end_to_end_s": t_end_to_end, "exact_eval_ranks_s": t_eval, "exact_eval_recall_s": t_eval_recall,
           "pairs_per_s": pairs_s, "gemm_pairs_per_s": gemm_pairs_s, "ratio_to_gemm": pairs_s / gemm_pairs_s,
           "overall": ev.overall, "min": ev.min, "map": ev2.map, "recall_by_distance": ev.summary()["recall_by_distance"]}
    OUT.mkdir(exist_ok=True)
    (OUT / "gpu.md").write_text("\n".join([
        f"# GPU bench: {card}", "", "Produced by `.venv/bin/python bench/gpu.py`.", "",
        f"WordNet (82,115 nouns) d={a.dim}, pretrain-finetune, exact regime ({res.negatives} negatives, "
        f"masking {res.masking}, {res.optimizer}), {steps:,} steps of batch {res.batch_size:,}.", "",
        "| measure | value | goal |", "|---|---:|---:|",
        f"| end to end (train + exact evaluation of all queries) | {t_end_to_end:.1f} s | <= 60 s |",
        f"| training | {t_fit:.1f} s | |",
        f"| exact evaluation with ranks (mean rank, MAP) | {t_eval:.2f} s | <= 2 s |",
        f"| exact recall@auto only | {t_eval_recall:.2f} s | |",
        f"| training pairs/s | {pairs_s:,.0f} | |",
        f"| same-shape GEMM (B={res.batch_size}, C={C:,}, d={a.dim}) pairs/s | {gemm_pairs_s:,.0f} | |",
        f"| ratio training / GEMM | {pairs_s / gemm_pairs_s:.2f} | |",
        f"| overall / min recall@auto | {ev.overall:.3f} / {ev.min:.3f} | |", "",
        "```json", json.dumps(row, indent=1), "```", ""]))
    print(json.dumps(row))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
