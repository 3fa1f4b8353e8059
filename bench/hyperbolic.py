"""Poincaré embeddings beside the dual encoder on WordNet: bench/results/hyperbolic.md (+ PNG).

For each d: hrviz's Poincaré model (Nickel & Kiela 2017; hrviz/models/poincare.py) with the
gensim settings (epochs, 10 negatives, burn-in 10), evaluated by hrviz's dot-product evaluator
on the lifted (d + 2) features, checked against a float64 ranking by distance; hrviz's
lookup-table dual encoder (standard recipe) at its default length and at about the Poincaré
wall-clock; Poincaré with a long-distance finetune stage (pretrain-finetune on/off); and,
where ``--gensim-python`` has gensim, gensim's PoincareModel on the same closure.

    .venv/bin/python bench/hyperbolic.py [--source wordnet:mammal.n.01] [--dims 2,5,10]
        [--epochs 50] [--gensim-python /work/gensim-venv/bin/python]

Single-threaded (torch threads = 1) so that times compare on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from hrviz.models.poincare import PoincareModel
from hrviz.models.poincare_fit import PoincareConfig, evaluate_poincare, fit_poincare
from hrviz.evaluate import evaluate
from hrviz.sources import load_source
from hrviz.training import TrainConfig, fit

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results"


def exact_metrics(x: np.ndarray, closure) -> tuple[float, float]:
    """Mean rank and MAP from float64 distances (no lifting), hrviz's definitions."""
    from hrviz.evaluate import rank_metrics

    X = torch.from_numpy(x.astype(np.float64))
    pidx_all, rank_all, score_all = [], [], []
    sq = (X * X).sum(1)
    for lo in range(0, len(X), 512):
        q = np.arange(lo, min(lo + 512, len(X)))
        U = X[q]
        s = ((U[:, None, :] - X[None]) ** 2).sum(-1)
        z = 2 * s / ((1 - sq[q])[:, None] * (1 - sq)[None])
        S = -torch.log1p(z + torch.sqrt(z * (z + 2)))  # (Q, n) minus distance
        for i, qi in enumerate(q):
            lo_p, hi_p = closure.ptr[qi], closure.ptr[qi + 1]
            docs = closure.doc[lo_p:hi_p]
            sc = S[i, docs]
            rank = (S[i][None, :] >= sc[:, None]).sum(1)
            pidx_all.append(np.arange(lo_p, hi_p)); rank_all.append(rank.numpy()); score_all.append(sc.numpy())
    pidx = np.concatenate(pidx_all)
    return rank_metrics(closure.query[pidx], closure.distance[pidx], np.concatenate(rank_all),
                         np.concatenate(score_all))


def row(name, d, ev, seconds, **extra):
    return {"model": name, "dim": d, "seconds": round(seconds, 2), "overall": ev.overall, "min": ev.min,
            "mean_rank": ev.mean_rank, "map": ev.map,
            "recall_by_distance": {str(t): r for t, r in ev.recall_by_distance.items()}, **extra}


def run_gensim(py: str, h, closure, d: int, epochs: int, ours: np.ndarray | None = None):
    anc = closure.distance >= 1
    with tempfile.TemporaryDirectory() as tmp:
        tsv = Path(tmp) / "pairs.tsv"
        tsv.write_text("".join(f"{h.names[q]}\t{h.names[a]}\n" for q, a in zip(closure.query[anc], closure.doc[anc])))
        out = Path(tmp) / "x.npz"
        extra = []
        if ours is not None:
            np.savez(Path(tmp) / "ours.npz", names=np.array(h.names), x=ours)
            extra = [str(Path(tmp) / "ours.npz")]
        p = subprocess.run([py, str(ROOT / "bench" / "hyperbolic_gensim.py"), str(tsv), str(out), str(d), str(epochs),
                            *extra],
                           capture_output=True, text=True, env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
        if p.returncode:
            raise RuntimeError(p.stderr[-2000:])
        info = json.loads(p.stdout.strip().splitlines()[-1])
        z = np.load(out)
        x = np.zeros((h.n, d))
        for name, v in zip(z["names"], z["x"]):
            x[h.id_of(str(name))] = v
    m = PoincareModel(h.n, d)
    m.load_state({"x": torch.from_numpy(x)})
    return m, info


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", default="wordnet:mammal.n.01")
    ap.add_argument("--dims", default="2,5,10")
    ap.add_argument("--epochs", type=int, default=50)
    ap.add_argument("--finetune-epochs", type=int, default=10)
    ap.add_argument("--gensim-python", default="/work/gensim-venv/bin/python")
    ap.add_argument("--gensim-dims", default="10")
    ap.add_argument("--variants", default="poincare,finetune,de,de-time,gensim",
                    help="which rows to run (poincare always runs)")
    ap.add_argument("--batch", type=int, default=64, help="Poincaré positive pairs per step")
    ap.add_argument("--out", default=str(OUT / "hyperbolic.md"))
    a = ap.parse_args()
    torch.set_num_threads(1)
    h = load_source(a.source)
    closure = h.closure()
    rows = []
    want = set(a.variants.split(","))
    for d in [int(x) for x in a.dims.split(",")]:
        cfg = PoincareConfig(dim=d, epochs=a.epochs, seed=0, threads=1, batch=a.batch)
        r = fit_poincare(h, cfg)
        ev = evaluate_poincare(r.model, closure)
        mr64, map64 = exact_metrics(r.model.points(), closure) if h.n <= 20_000 else (None, None)
        rows.append(row("poincare", d, ev, r.seconds, mean_rank_f64=mr64, map_f64=map64))
        print(json.dumps(rows[-1]), flush=True)
        mine = rows[-1]
        if "finetune" in want:
            rf = fit_poincare(h, PoincareConfig(dim=d, epochs=a.epochs, seed=0, threads=1, batch=a.batch,
                                                finetune_epochs=a.finetune_epochs))
            evf = evaluate_poincare(rf.model, closure)
            rows.append(row("poincare+finetune", d, evf, rf.seconds, best_epoch=rf.best_epoch))
            print(json.dumps(rows[-1]), flush=True)
        de_cfg = TrainConfig(dim=d, recipe="standard", seed=0, threads=1).resolved(h)
        if "de" in want:
            de = fit(h, de_cfg)
            eva = evaluate(de.model.query_vectors(), de.model.doc_vectors(), closure)
            rows.append(row("dual encoder", d, eva, de.seconds, steps=de_cfg.steps))
            print(json.dumps(rows[-1]), flush=True)
        if "de-time" in want:
            # steps for about the Poincaré time: from a short timed run
            probe = fit(h, TrainConfig(dim=d, recipe="standard", seed=0, threads=1, steps=100, eval_every=100))
            budget = max(50, int(100 * r.seconds / probe.seconds))
            de2 = fit(h, TrainConfig(dim=d, recipe="standard", seed=0, threads=1, steps=budget))
            evb = evaluate(de2.model.query_vectors(), de2.model.doc_vectors(), closure)
            rows.append(row("dual encoder (Poincaré time)", d, evb, de2.seconds, steps=budget))
            print(json.dumps(rows[-1]), flush=True)
        if "gensim" in want and Path(a.gensim_python).exists() and str(d) in a.gensim_dims.split(","):
            gm, info = run_gensim(a.gensim_python, h, closure, d, a.epochs, ours=r.model.points())
            mine["gensim_mean_rank"], mine["gensim_map"] = info["other_mean_rank"], info["other_map"]
            evg = evaluate_poincare(gm, closure)
            rows.append(row("gensim", d, evg, info["seconds"], gensim_mean_rank=info["mean_rank"],
                            gensim_map=info["map"]))
            print(json.dumps(rows[-1]), flush=True)
    Path(a.out).with_suffix(".jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    write_report(rows, a, h, closure, Path(a.out))


def write_report(rows, a, h, closure, out: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dims = sorted({r["dim"] for r in rows})
    fig, axes = plt.subplots(1, len(dims), figsize=(4.2 * len(dims), 3.4), squeeze=False)
    for ax, d in zip(axes[0], dims):
        for r in rows:
            if r["dim"] != d:
                continue
            ts = sorted(int(t) for t in r["recall_by_distance"])
            ax.plot(ts, [r["recall_by_distance"][str(t)] for t in ts], marker="o", ms=3, label=r["model"])
        ax.set_title(f"{a.source}, d={d}")
        ax.set_xlabel("distance"); ax.set_ylim(0, 1.02); ax.grid(alpha=.3)
    axes[0][0].set_ylabel("recall@auto")
    axes[0][-1].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    png = out.with_suffix(".png")
    fig.savefig(png, dpi=110)
    ft_png = None
    pairs = [(r, f) for r in rows for f in rows if r["model"] == "poincare" and f["model"] == "poincare+finetune"
             and r["dim"] == f["dim"]]
    if pairs:  # the open question: pretrain-finetune on Poincaré, on or off
        fig, axes = plt.subplots(1, len(pairs), figsize=(4.2 * len(pairs), 3.2), squeeze=False)
        for ax, (r, f) in zip(axes[0], pairs):
            ts = sorted(int(t) for t in r["recall_by_distance"])
            ax.plot(ts, [r["recall_by_distance"][str(t)] for t in ts], marker="o", ms=3, label="finetune off")
            ax.plot(ts, [f["recall_by_distance"][str(t)] for t in ts], marker="s", ms=3, ls="--",
                    label=f"finetune on (kept epoch {f.get('best_epoch')})")
            ax.set_title(f"Poincaré d={r['dim']}"); ax.set_xlabel("distance"); ax.set_ylim(0, 1.02)
            ax.grid(alpha=.3)
        axes[0][0].set_ylabel("recall@auto")
        axes[0][-1].legend(fontsize=7, loc="lower right")
        fig.tight_layout()
        ft_png = out.with_name(out.stem + "_finetune.png")
        fig.savefig(ft_png, dpi=110)

    def f(x, p=3):
        return "" if x is None else f"{x:.{p}f}"

    lines = [f"# Poincaré embeddings beside the dual encoder: `{a.source}`", "",
             f"Generated by `.venv/bin/python bench/hyperbolic.py --source {a.source} --dims {a.dims} "
             f"--epochs {a.epochs} --batch {a.batch} --variants {a.variants}` ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}); "
             f"{h.n:,} nodes, {closure.n_ancestor_pairs:,} ancestor pairs, reconstruction "
             "(every pair is both trained on and evaluated), one torch thread, 2 shared cores.", "",
             "Poincaré: burn-in 10 epochs (lr x 1/10, degree^0.75 negatives) + the epochs shown, 10 "
             f"masked negatives, RSGD lr 0.3, batch {a.batch}. `+finetune`: then up to "
             f"{a.finetune_epochs} epochs on pairs at distance >= 2 at lr x 1/10, best epoch by overall "
             "recall (0 = the pretrained model kept). Dual encoder: `TrainConfig(dim=d, "
             "recipe=\"standard\")` at its default steps, and again with steps scaled to the Poincaré "
             "wall-clock (from a timed 100-step probe). gensim 4.4.0: `PoincareModel(size=d, negative=10, burn_in=10)`, "
             "`train(epochs, batch_size=10)`, single worker.", "",
             "Mean rank and MAP are hrviz's (`hrviz/evaluate.py`, ties count against); for Poincaré "
             "they are computed on the lifted d+2 features by the dot-product evaluator; the `f64` "
             "columns recompute them from float64 distances. `gensim's evaluator` is gensim's "
             "ReconstructionEvaluation, run on gensim's model and on ours: it counts the query itself "
             "(distance 0) as a negative ranked above every ancestor, so its mean rank is hrviz's + 1 "
             "and its MAP is lower; compare like with like.", "",
             "| model | d | seconds | overall | min | mean rank | MAP | mean rank f64 | MAP f64 | gensim's evaluator MR / MAP | note |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        note = (f"best finetune epoch {r['best_epoch']}" if "best_epoch" in r else
                f"{r['steps']} steps" if "steps" in r else "")
        own = (f"{r['gensim_mean_rank']:.2f} / {r['gensim_map']:.3f}" if "gensim_map" in r else "")
        lines.append(f"| {r['model']} | {r['dim']} | {r['seconds']:.1f} | {f(r['overall'])} | {f(r['min'])} | "
                     f"{f(r['mean_rank'], 2)} | {f(r['map'])} | {f(r.get('mean_rank_f64'), 2)} | "
                     f"{f(r.get('map_f64'))} | {own} | {note} |")
    ts = sorted({int(t) for r in rows for t in r["recall_by_distance"]})
    lines += ["", "Recall@auto by distance:", "",
              "| model | d | " + " | ".join(f"d{t}" for t in ts) + " |", "|---|---|" + "---|" * len(ts)]
    for r in rows:
        lines.append(f"| {r['model']} | {r['dim']} | " + " | ".join(
            f(r["recall_by_distance"].get(str(t))) for t in ts) + " |")
    lines += ["", f"![recall by distance]({png.name})", ""]
    if ft_png:
        lines += [f"![pretrain-finetune on Poincaré, on or off]({ft_png.name})", ""]
    # hand-written reading of the numbers survives a regeneration: everything from the marker on
    marker = "<!-- notes -->"
    old = out.read_text() if out.exists() else ""
    if marker in old:
        lines += [old[old.index(marker):].rstrip(), ""]
    out.write_text("\n".join(lines))
    print(f"wrote {out} and {png}")


if __name__ == "__main__":
    main()
