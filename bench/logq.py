"""The logQ correction beside pretrain-finetune in the paper regime (in-batch negatives, no
masking, dense Adam): recall by distance per recipe, per seed, on WordNet subtrees.

    .venv/bin/python bench/logq.py [--groups mammal,mammal-300,animal,artifact] [--seeds 0,1] [--jobs 1]
    .venv/bin/python bench/logq.py --replot        # rewrite logq.md/png from logq.jsonl, no runs

Every cell is one ``python -m hrviz train SOURCE --dim 64 --max-distance 8 --regime paper
--recipe R [--logq] --seed S --threads 1 --json`` subprocess (the engine's numbers, training
and exact evaluation of every query; seconds are the run's own, on a machine shared with other
work: indicative only). Cells already in ``bench/results/logq.jsonl`` (same group, recipe,
seed) are kept, so an interrupted bench resumes; ``--redo`` runs them again.

Writes ``bench/results/logq.jsonl`` (one line per run), ``bench/results/logq.md`` (a table
per hierarchy: d0, d1, d2, d4, d6, d8, min, overall, seconds, per seed) and
``bench/results/logq.png`` (recall by distance per recipe, mean over seeds, one panel per
hierarchy).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench/results"

#: the recipes compared: (label, --recipe, extra flags)
RECIPES = [
    ("standard", "standard", []),
    ("standard+logQ", "standard", ["--logq"]),
    ("pretrain-finetune", "pretrain-finetune", []),
    ("pretrain-finetune+logQ", "pretrain-finetune", ["--logq"]),
    ("standard+logQ 0.5", "standard", ["--logq", "0.5"]),
    ("standard+logQ 0.75", "standard", ["--logq", "0.75"]),
]
#: groups of cells: source, extra train flags (beyond the user's defaults), recipes
GROUPS = {
    # the defaults a user gets (4,000 steps, batch 256, lr 0.01)
    "mammal": ("wordnet:mammal.n.01", [], [r[0] for r in RECIPES[:4]]),
    # the yardstick's setting (../shared/tools/logq.py --steps 300): a cross-check, and the
    # strength alpha (--logq 0.5 / 0.75 / 1)
    "mammal-300": ("wordnet:mammal.n.01", ["--steps", "300"],
                   ["standard", "standard+logQ 0.5", "standard+logQ 0.75", "standard+logQ"]),
    # the defaults a user gets (4,000 steps, batch 256)
    "animal": ("wordnet:animal.n.01", [], [r[0] for r in RECIPES[:4]]),
    # batch 2048 by default here (54k pairs): 2,000 steps (half the default) keep a run near 5 min
    "artifact": ("wordnet:artifact.n.01", ["--steps", "2000"], [r[0] for r in RECIPES[:4]]),
}
COLS = [0, 1, 2, 4, 6, 8]


def run_cell(group: str, label: str, seed: int, db: str) -> dict:
    source, extra, _ = GROUPS[group]
    _, recipe, flags = next(r for r in RECIPES if r[0] == label)
    cmd = [sys.executable, "-m", "hrviz", "train", source, "--dim", "64", "--max-distance", "8",
           "--regime", "paper", "--recipe", recipe, *flags, *extra, "--seed", str(seed),
           "--threads", "1", "--json", "--db", db]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"group": group, "source": source, "label": label, "seed": seed,
            "cmd": " ".join(["python", *cmd[1:]]).replace(f" --db {db}", ""),
            **{k: res[k] for k in ("recall_by_distance", "overall", "min", "seconds", "map")}}


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def pct(x) -> str:
    return "" if x is None else f"{100 * x:.1f}"


def write_md(rows: list[dict], path: Path, png: Path) -> None:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=ROOT).stdout.strip()
    L = ["# logQ correction vs pretrain-finetune (paper regime)", "",
         f"Produced by `.venv/bin/python bench/logq.py` (commit `{commit}`), 1 torch thread per run on a "
         "2-core machine shared with other work (seconds are indicative only). Every cell is one "
         "`python -m hrviz train SOURCE --dim 64 --max-distance 8 --regime paper --recipe R [--logq] "
         "--seed S --threads 1 --json` run: in-batch negatives, no masking, dense Adam, T=20 on cosine; "
         "`--logq` alone is the full correction (alpha 1). Recall is recall@auto (k = |S(q)|) in %, "
         "over every query; *far* is distance 8; *min* is the minimum over distances; *s* the run's "
         "seconds (training, validation and the final evaluation).", ""]
    for group in GROUPS:
        sub = [r for r in rows if r["group"] == group]
        if not sub:
            continue
        source, extra, labels = GROUPS[group]
        L += [f"## {source}" + (f" ({' '.join(extra)})" if extra else " (the defaults)"), ""]
        L += ["| recipe | seed | " + " | ".join(f"d{t}" for t in COLS) + " | min | overall | s |",
              "|---|---|" + "---|" * (len(COLS) + 3)]
        for label in labels:
            for r in sorted((r for r in sub if r["label"] == label), key=lambda r: r["seed"]):
                rbd = r["recall_by_distance"]
                L.append(f"| {label} | {r['seed']} | " + " | ".join(pct(rbd.get(str(t))) for t in COLS)
                         + f" | {pct(r['min'])} | {pct(r['overall'])} | {r['seconds']:.0f} |")
        L += ["", "Commands:", ""]
        L += [f"    {r['cmd']}" for r in sorted(sub, key=lambda r: (labels.index(r['label']), r['seed']))]
        L.append("")
    L += [f"![recall by distance]({png.name})", ""]
    path.write_text("\n".join(L))


def plot(rows: list[dict], png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    groups = [g for g in GROUPS if any(r["group"] == g for r in rows)]
    colour = {r[0]: f"C{i}" for i, r in enumerate(RECIPES)}  # one colour per recipe in every panel
    fig, axes = plt.subplots(1, len(groups), figsize=(4.2 * len(groups), 4.0), sharey=True, squeeze=False)
    handles = {}
    for ax, group in zip(axes[0], groups):
        source, extra, labels = GROUPS[group]
        for label in labels:
            sub = [r for r in rows if r["group"] == group and r["label"] == label]
            if not sub:
                continue
            ts = sorted({int(t) for r in sub for t in r["recall_by_distance"]})
            y = [100 * np.mean([r["recall_by_distance"][str(t)] for r in sub]) for t in ts]
            (line,) = ax.plot(ts, y, marker="o", ms=3, color=colour[label], label=label,
                              ls="-" if "logQ" in label else "--")
            handles.setdefault(label, line)
        seeds = sorted({r["seed"] for r in rows if r["group"] == group})
        ax.set_title(f"{source.split(':')[-1]} {' '.join(extra)} (mean of seeds {seeds})".replace("  ", " "),
                     fontsize=9)
        ax.set_xlabel("distance")
        ax.set_ylim(0, 102)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("recall@auto (%)")
    order = [r[0] for r in RECIPES if r[0] in handles]
    fig.legend([handles[k] for k in order], order, loc="lower center", ncol=len(order), fontsize=8)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(png, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--groups", default="mammal,mammal-300,animal,artifact")
    ap.add_argument("--recipes", default=None, help="comma-separated labels (default: each group's)")
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--jobs", type=int, default=1, help="runs at once")
    ap.add_argument("--db", default="/tmp/logq.duckdb")
    ap.add_argument("--redo", action="store_true", help="run cells already in the jsonl again")
    ap.add_argument("--replot", action="store_true", help="only rewrite logq.md/png from logq.jsonl")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    jsonl, md, png = OUT / "logq.jsonl", OUT / "logq.md", OUT / "logq.png"
    rows = load(jsonl)
    if not args.replot:
        done = {(r["group"], r["label"], r["seed"]) for r in rows}
        todo = [(g, label, int(s)) for g in args.groups.split(",") for label in GROUPS[g][2]
                if args.recipes is None or label in args.recipes.split(",")
                for s in args.seeds.split(",") if args.redo or (g, label, int(s)) not in done]
        lock = threading.Lock()

        def one(cell):
            res = run_cell(*cell, args.db)
            with lock:  # re-read: another bench process may have added cells meanwhile
                rows[:] = [r for r in load(jsonl) if (r["group"], r["label"], r["seed"]) != cell] + [res]
                tmp = jsonl.with_suffix(".tmp")
                tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
                tmp.replace(jsonl)
                print(f"{cell}: min {pct(res['min'])} overall {pct(res['overall'])} "
                      f"far {pct(res['recall_by_distance'].get('8'))} {res['seconds']:.0f} s", flush=True)

        with ThreadPoolExecutor(max(1, args.jobs)) as pool:
            list(pool.map(one, todo))
    write_md(rows, md, png)
    plot(rows, png)
    print(f"wrote {md}, {png}")


if __name__ == "__main__":
    main()
