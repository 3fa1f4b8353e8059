"""Benchmark: PCA and UMAP time on WordNet-sized vectors (the maps of the Embeddings page).

Run: ``.venv/bin/python bench/projection.py [--sizes 5000,20000,82115] [--dim 64]``. Writes
``bench/results/projection.md``. Not a test: it never asserts a time.

The vectors are the query vectors of the theorem's construction on the WordNet noun hierarchy
(``hrviz.geometry.construct``, d=64, seed 0): unit vectors with real hierarchical structure, the
same shape as a trained d=64 model's. Each size is a seeded sample of nodes
(``hrviz.map_points.sample_nodes``, the page's own sampler; 82,115 is all of them).

Measured per size: PCA (median of 3), one UMAP fit with the page's defaults (n_neighbors=15,
min_dist=0.1, cosine, seed 0, umap's default epochs: 500 below 10,000 points, 200 above) and
reading that result back from the disk cache. Measured once: importing umap and the first fit
in this process (4,500 points, 10 epochs), which is mostly numba compilation; the page never pays it inside
a request (UMAP runs in a background thread).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from hrviz import map_points, projection
from hrviz.geometry import construct
from hrviz.sources import wordnet

ROOT = Path(__file__).resolve().parents[1]

OUT = ROOT / "bench" / "results" / "projection.md"


def timed(fn, reps: int = 1) -> tuple[float, object]:
    times, out = [], None
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="5000,20000,82115", help="comma-separated sample sizes")
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--no-umap", action="store_true", help="PCA only")
    ap.add_argument("--umap-max", type=int, default=None,
                    help="run UMAP only on sizes up to this many points (PCA on all)")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    load0 = os.getloadavg()[0]
    t_load, h = timed(wordnet)
    t_vec, c = timed(lambda: construct(h, args.dim, seed=0))
    x_all = c.query_vectors
    print(f"WordNet {h.n:,} nodes loaded in {t_load:.1f} s; construction d={args.dim} in {t_vec:.1f} s", flush=True)

    warm = None
    if not args.no_umap:
        t_import, _ = timed(lambda: __import__("umap"))
        # 4,500 points: above umap's 4,096-point switch to NN-descent, so that is compiled too
        small = x_all[map_points.sample_nodes(h.n, 4_500, seed=1)]
        t_first, _ = timed(lambda: projection.umap_project(small, n_epochs=10))
        warm = (t_import, t_first)
        print(f"import umap {t_import:.1f} s, first fit (4,500 points, compiles) {t_first:.1f} s", flush=True)

    rows = []
    with tempfile.TemporaryDirectory() as cache:
        for n in sizes:
            x = x_all[map_points.sample_nodes(h.n, n, seed=0)]
            t_pca, _ = timed(lambda: projection.pca(x), reps=3)
            row = {"n": len(x), "pca": t_pca}
            if not args.no_umap and (args.umap_max is None or len(x) <= args.umap_max):
                t_umap, _ = timed(lambda: projection.umap_project(x, cache_dir=cache))
                t_read, _ = timed(lambda: projection.umap_project(x, cache_dir=cache), reps=3)
                row.update(umap=t_umap, read=t_read, epochs=500 if len(x) < 10_000 else 200)
            rows.append(row)
            print(row, flush=True)

    lines = [
        "# Projection benchmark (PCA and UMAP)",
        "",
        f"`bench/projection.py`, {time.strftime('%Y-%m-%d %H:%M')}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, load average {load0:.1f} at the start (the machine is shared: "
        "times are upper bounds).",
        "",
        f"Vectors: query vectors of the theorem's construction on WordNet nouns ({h.n:,} nodes, "
        f"d={args.dim}, unit norm); each size a seeded sample (`sample_nodes`, seed 0). UMAP with "
        "the page's defaults: n_neighbors=15, min_dist=0.1, metric=cosine, seed=0 (single-threaded "
        "when seeded), umap's default epochs.",
        "",
    ]
    if warm:
        lines += [f"- `import umap`: {warm[0]:.1f} s; first fit in a process (4,500 points, 10 epochs, "
                  f"mostly numba compilation): {warm[1]:.1f} s. The app pays this once per process, "
                  "in the background thread.", ""]
    head = "| points | PCA (s) |" + (" UMAP fit (s) | epochs | cache read (s) | UMAP / PCA |" if warm else "")
    lines += [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        line = f"| {r['n']:,} | {r['pca']:.3f} |"
        if warm:
            line += (f" {r['umap']:.1f} | {r['epochs']} | {r['read']:.4f} | {r['umap'] / r['pca']:,.0f}x |"
                     if "umap" in r else " not run (`--umap-max`) | | | |")
        lines.append(line)
    lines += ["", "PCA: median of 3. UMAP fit: one run after the warm-up. Cache read: median of 3 "
              "(`umap_project` with the cache holding the result: hash the array, `np.load`)."]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
