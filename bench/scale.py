"""Scale ladder on the CPU: random DAGs of 10^4, 10^5, 10^6 nodes (depth 10, max distance 8).

For each: closure time and memory, training pairs/s (d=64, the exact regime's sampled
negatives with hierarchy masking, lazy Adam, the training loop on the CPU), and evaluation time: exact
recall@auto over all queries where that is practical (<= 10^5 nodes), else *sampled*
evaluation (a seeded sample of 10,000 queries ranked against all documents, 95% bootstrap
interval over queries). Writes bench/results/scale.md, scale.jsonl and scale.png.

    .venv/bin/python bench/scale.py [--sizes 10000,100000,1000000] [--steps 60]

Training runs ``--steps`` steps per size and reports pairs/s; the time of one epoch
(pairs / batch steps) is measured where it is short and otherwise extrapolated from the
measured rate, and labelled so. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np
import torch

from hrviz.evaluate import evaluate
from hrviz.sources import random_dag
from hrviz.training import TrainConfig, fit
from hrviz.training.device import sampled_evaluation

OUT = Path(__file__).parent / "results"


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one(n: int, steps: int, batch: int, negatives: int, dim: int, epoch_budget_s: float) -> dict:
    t0 = time.perf_counter()
    h = random_dag(n, depth=10, seed=0)
    t_gen = time.perf_counter() - t0
    t0 = time.perf_counter()
    c = h.closure(8)
    t_closure = time.perf_counter() - t0
    closure_mb = sum(a.nbytes for a in (c.ptr, c.query, c.doc, c.distance)) / 2**20
    pairs = c.n_pairs
    epoch_steps = int(np.ceil(pairs / batch))
    run_steps = epoch_steps if epoch_steps * 0.15 < epoch_budget_s else steps
    cfg = TrainConfig(dim=dim, recipe="standard", regime="exact", max_distance=8, steps=run_steps,
                      batch_size=batch, negatives="sampled", n_negatives=negatives, eval_every=10**9,
                      eval_queries=200, device="cpu", threads=torch.get_num_threads())
    t0 = time.perf_counter()
    r = fit(h, cfg)
    t_train = time.perf_counter() - t0
    pairs_s = run_steps * batch / r.seconds
    q, d = r.model.query_vectors(), r.model.doc_vectors()
    row = {"nodes": n, "closure_pairs": pairs, "max_S": int(np.diff(c.ptr).max()), "generate_s": t_gen,
           "closure_s": t_closure, "closure_mb": closure_mb, "dim": dim, "batch": batch,
           "n_negatives": negatives, "train_steps": run_steps, "train_s": t_train,
           "pairs_per_s": pairs_s, "epoch_steps": epoch_steps,
           "epoch_s": t_train if run_steps == epoch_steps else epoch_steps * batch / pairs_s,
           "epoch": "measured" if run_steps == epoch_steps else "extrapolated"}
    if n <= 100_000:
        ev = evaluate(q, d, c, ranks=False)
        row.update(evaluation="exact", queries=n, eval_s=ev.seconds, overall=ev.overall, min=ev.min)
    else:
        s = sampled_evaluation(q, d, c, queries=10_000, seed=0, device="cpu")
        row.update(evaluation="sampled", queries=s["queries"], eval_s=s["seconds"], overall=s["overall"],
                   min=s["min"], ci95=s["ci95"])
    row["peak_rss_mb"] = rss_mb()
    return row


def write(rows: list[dict]) -> None:
    OUT.mkdir(exist_ok=True)
    with open(OUT / "scale.jsonl", "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    lines = ["# Scale ladder (CPU)", "",
             f"Random DAGs `dag:n=N,depth=10` (seed 0), `--max-distance 8`, d={rows[0]['dim']}, batch "
             f"{rows[0]['batch']}, sampled negatives ({rows[0]['n_negatives']}) with hierarchy masking, lazy Adam, "
             f"the training loop on the CPU; {torch.get_num_threads()} torch threads on a 2-core machine shared with other work. "
             "Produced by `.venv/bin/python bench/scale.py`.", "",
             "| nodes | closure pairs | max S(q) | closure s | closure MB | pairs/s | epoch s | evaluation | "
             "queries | eval s | overall (95% CI) | peak RSS MB |",
             "|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---|---:|"]
    for r in rows:
        ci = r.get("ci95", {}).get("overall")
        ov = f"{r['overall']:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")
        lines.append(f"| {r['nodes']:,} | {r['closure_pairs']:,} | {r['max_S']} | {r['closure_s']:.2f} | "
                     f"{r['closure_mb']:.0f} | {r['pairs_per_s']:,.0f} | {r['epoch_s']:.0f} ({r['epoch']}) | "
                     f"{r['evaluation']} | {r['queries']:,} | {r['eval_s']:.1f} | {ov} | {r['peak_rss_mb']:,.0f} |")
    big = rows[-1]
    lines += ["", "Sampled rows rank each sampled query exactly against all documents; the interval is a "
              "bootstrap over queries (1,000 resamples). Recall after a short training is low: the ladder "
              "measures cost, not quality.", "",
              f"Goal at {big['nodes']:,} nodes, d=64: one epoch + sampled evaluation of 10,000 queries <= 60 s, "
              f"peak memory <= 8 GB. Measured: epoch {big['epoch_s']:.0f} s ({big['epoch']}) + evaluation "
              f"{big['eval_s']:.0f} s = {big['epoch_s'] + big['eval_s']:.0f} s, peak RSS "
              f"{big['peak_rss_mb'] / 1024:.1f} GB.", "", "![scale](scale.png)", ""]
    (OUT / "scale.md").write_text("\n".join(lines))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = [r["nodes"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 4))
    for key, label in (("closure_s", "closure (s)"), ("epoch_s", "one epoch (s)"), ("eval_s", "evaluation (s)"),
                       ("closure_mb", "closure (MB)")):
        ax.plot(x, [r[key] for r in rows], marker="o", label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("nodes")
    ax.set_title("hrviz scale ladder, 2 CPU cores (evaluation at 10^6: sampled)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(OUT / "scale.png", dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--batch", type=int, default=2048)
    ap.add_argument("--negatives", type=int, default=2048)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--epoch-budget", type=float, default=90.0, help="run the whole epoch when it should take less")
    a = ap.parse_args()
    old = OUT / "scale.jsonl"
    sizes = [int(x) for x in a.sizes.split(",")]
    rows = [json.loads(line) for line in old.read_text().splitlines()] if old.exists() else []
    rows = [r for r in rows if r["nodes"] not in sizes]  # rows of other sizes are kept
    for n in sizes:
        rows.append(one(n, a.steps, a.batch, a.negatives, a.dim, a.epoch_budget))
        rows.sort(key=lambda r: r["nodes"])
        print(json.dumps(next(r for r in rows if r["nodes"] == n)), flush=True)
        write(rows)


if __name__ == "__main__":
    main()
