"""The recipe study: where standard training loses the long distance, and where pretrain-finetune
repairs it. Runs the sweeps in ``bench/specs/recipes-*.toml`` (resumable: finished cells are
skipped) and writes ``bench/results/recipes.md`` with PNG phase diagrams.

    .venv/bin/python bench/recipes.py [--db results/study.duckdb] [--run] [--only headline,b-mammal]

Without ``--run`` it only reads the store and writes the report (the sweeps can also be run one
by one: ``python -m hrviz sweep bench/specs/recipes-headline.toml --db results/study.duckdb``).
Every number is a finished run in the store; cells over seeds show mean ± standard deviation.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from hrviz.store import Store  # noqa: E402
from hrviz.sweep import cell_table, load_spec, run_sweep, sweep_runs  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "bench" / "specs"
OUT = ROOT / "bench" / "results"
PARTS = ["headline", "a-mammal", "a-exact", "a-size", "b-mammal", "d-tree"]
SHOW = [0, 1, 2, 4, 6, 8]


def frame(store: Store, part: str) -> pd.DataFrame:
    """Finished runs of one sweep, with their settings and recall by distance as columns."""
    runs = sweep_runs(store, f"recipes-{part}")
    return cell_table(runs) if len(runs) else runs


def summarise(df: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Mean and std over seeds of each cell."""
    cols = [c for c in [f"d{t}" for t in SHOW] + ["min", "overall", "seconds"] if c in df and df[c].notna().any()]
    g = df.groupby(by, dropna=False)
    out = g[cols].mean().add_suffix("_mean").join(g[cols].std().add_suffix("_std")).join(g.size().rename("seeds"))
    return out.reset_index()


def _cell(mean, std, pct=True) -> str:
    if mean is None or (isinstance(mean, float) and np.isnan(mean)):
        return "-"
    f = 100 if pct else 1
    s = f"{mean * f:.1f}" if pct else f"{mean:.1f}"
    if std is not None and not np.isnan(std) and std > 0:
        s += f" ± {std * f:.1f}" if pct else f" ± {std:.1f}"
    return s


def table(summary: pd.DataFrame, by: list[str]) -> str:
    metrics = [c[:-5] for c in summary.columns if c.endswith("_mean")]
    head = by + [m if m != "seconds" else "s" for m in metrics] + ["seeds"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, r in summary.iterrows():
        vals = [str(r[b]) for b in by]
        vals += [_cell(r[f"{m}_mean"], r[f"{m}_std"], pct=m != "seconds") for m in metrics]
        lines.append("| " + " | ".join(vals + [str(int(r["seeds"]))]) + " |")
    return "\n".join(lines)


def heatmap(summary: pd.DataFrame, rows: str, cols: str, value: str, title: str, path: Path,
            facet: str | None = None) -> None:
    """A phase diagram: ``value`` (a recall, mean over seeds) over two settings."""
    facets = [None] if facet is None else sorted(summary[facet].dropna().unique())
    fig, axes = plt.subplots(1, len(facets), figsize=(4.2 * len(facets), 3.4), squeeze=False)
    for ax, fv in zip(axes[0], facets):
        sub = summary if fv is None else summary[summary[facet] == fv]
        grid = sub.pivot_table(index=rows, columns=cols, values=f"{value}_mean", aggfunc="mean")
        im = ax.imshow(grid.values * 100, vmin=0, vmax=100, cmap="viridis", aspect="auto")
        ax.set_xticks(range(grid.shape[1]), [str(c) for c in grid.columns])
        ax.set_yticks(range(grid.shape[0]), [str(i) for i in grid.index])
        ax.set_xlabel(cols)
        ax.set_ylabel(rows)
        for i in range(grid.shape[0]):
            for j in range(grid.shape[1]):
                v = grid.values[i, j]
                if not np.isnan(v):
                    ax.text(j, i, f"{v * 100:.0f}", ha="center", va="center",
                            color="white" if v < 0.6 else "black", fontsize=9)
        ax.set_title(title if fv is None else f"{title}\n{facet} = {fv}", fontsize=10)
    fig.colorbar(im, ax=axes[0].tolist(), label=f"{value} recall (%)")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def by_distance_chart(df: pd.DataFrame, groups: dict[str, pd.DataFrame], title: str, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for label, sub in groups.items():
        ds = [t for t in range(15) if f"d{t}" in sub and sub[f"d{t}"].notna().any()]
        mean = np.array([sub[f"d{t}"].mean() for t in ds]) * 100
        std = np.array([sub[f"d{t}"].std() if len(sub) > 1 else 0 for t in ds]) * 100
        ax.errorbar(ds, mean, yerr=std, marker="o", capsize=3, label=f"{label} (n={len(sub)})")
    ax.set_xlabel("distance from query to ancestor")
    ax.set_ylabel("recall@auto (%)")
    ax.set_ylim(0, 102)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


SECTIONS = {
    "headline": ("Headline: the Home story's cells (mammals, d=64, 300 + 600 steps, batch 256)",
                 ["regime", "recipe"]),
    "a-mammal": ("(a) Where standard training loses the long distance: paper regime (in-batch, dense "
                 "Adam), masking x pair draw x steps x d, mammals", ["masking", "pairs", "steps", "dim"]),
    "a-exact": ("(a) The exact regime on the same hierarchy (full softmax, hierarchy-masked, lazy Adam)",
                ["pairs", "steps"]),
    "a-size": ("(a) Hierarchy size: paper regime, d=64, batch 256, one seed", ["source", "recipe", "steps"]),
    "b-mammal": ("(b) Where pretrain-finetune repairs it: threshold x lr ratio x finetune temperature "
                 "(mammals, paper regime, 300 + 600 steps, seed 0)",
                 ["long_threshold", "finetune_lr_ratio", "finetune_temperature"]),
    "d-tree": ("(d) The synthetic tree, d=3, W=5 (H counted as edges: tree:H=4; as levels: tree:H=3)",
               ["source", "regime", "pairs", "recipe"]),
}


def write_report(db: str) -> Path:
    parts = {}
    with Store(db) as store:
        for part in PARTS:
            df = frame(store, part)
            if len(df):
                parts[part] = df
    lines = ["# The recipe study", "",
             f"Store `{db}`, commit `{_commit()}`, {platform.processor() or platform.machine()}, "
             "2 cores shared with other work (seconds are indicative only). Produced by "
             "`.venv/bin/python bench/recipes.py --run`; every cell is a finished run, tagged with "
             "its sweep (`bench/specs/recipes-*.toml`). Recall is recall@auto (k = |S(q)|), in %, "
             "mean ± standard deviation over seeds; *min* is the minimum over distances.", ""]
    for part, (title, by) in SECTIONS.items():
        if part not in parts:
            lines += [f"## {title}", "", "_not run yet_", ""]
            continue
        summary = summarise(parts[part], by)
        lines += [f"## {title}", "", table(summary, by), ""]
        if part == "headline":
            df = parts[part]
            groups = {f"{g} {r}": df[(df.regime == g) & (df.recipe == r)]
                      for g, r in [("paper", "standard"), ("paper", "pretrain-finetune"), ("exact", "standard")]}
            by_distance_chart(df, groups, "mammals, d=64: the failure, the repair, the cause removed",
                              OUT / "recipes_headline.png")
            lines += ["![headline](recipes_headline.png)", ""]
        if part == "a-mammal":
            s = summary.copy()
            s["draw x masking"] = s["pairs"] + " / " + s["masking"]
            heatmap(s[s.dim == 64], "draw x masking", "steps", "min", "standard, d=64: min recall",
                    OUT / "recipes_a_min.png")
            heatmap(s[s.dim == 64], "draw x masking", "steps", "d8", "standard, d=64: distance 8",
                    OUT / "recipes_a_d8.png")
            lines += ["![min](recipes_a_min.png) ![d8](recipes_a_d8.png)", ""]
        if part == "b-mammal":
            for value in ("min", "d0", "d1"):
                heatmap(summary, "long_threshold", "finetune_lr_ratio", value, f"pretrain-finetune: {value}",
                        OUT / f"recipes_b_{value}.png", facet="finetune_temperature")
                lines += [f"![{value}](recipes_b_{value}.png)", ""]
    # every finished cell, for the app's Study page on a fresh checkout (no training needed)
    cells = pd.concat([df.assign(sweep=f"recipes-{p}") for p, df in parts.items()], ignore_index=True)
    cells.to_csv(OUT / "recipes_cells.csv", index=False)
    path = OUT / "recipes.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default=str(ROOT / "results" / "study.duckdb"))
    ap.add_argument("--run", action="store_true", help="train the unfinished cells first")
    ap.add_argument("--only", default=",".join(PARTS), help="comma-separated parts")
    args = ap.parse_args()
    if args.run:
        for part in args.only.split(","):
            spec = load_spec(SPECS / f"recipes-{part}.toml")
            out = run_sweep(spec, args.db, progress=lambda d, t, p=part: print(f"{p}: {d}/{t}", flush=True))
            print(f"{part}: {len(out['trained'])} trained, {out['skipped']} skipped, {len(out['failed'])} failed",
                  file=sys.stderr)
    print(write_report(args.db))


if __name__ == "__main__":
    main()
