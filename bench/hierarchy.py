"""Benchmark: WordNet load, ancestor closure (full and max_distance=8), file parsing, peak memory.

Run: ``.venv/bin/python bench/hierarchy.py [--reps N]``. Writes ``bench/results/hierarchy.md``.
Targets: closure under 3 s, peak memory under 1 GB. Not a test: it never asserts a time.

Each repetition loads WordNet afresh twice (the loader's cache is cleared; both loads are
timed) and times the capped closure from scratch on the first hierarchy, then the full
closure and the capped closure derived from it (the cache path) on the second. Memory: the process's peak resident
set (``ru_maxrss``) after each phase, and the peak of traced Python/numpy allocations
(``tracemalloc``) during one untimed load + full closure.
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

from hrviz.sources import parse_upload
from hrviz.sources.wordnet import EDGES, find_data_dir, wordnet

ROOT = Path(__file__).resolve().parents[1]

CAP = 8


def rss_mib() -> float:
    """Peak resident set of this process so far (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "hierarchy.md"))
    args = ap.parse_args()

    rss = {"after imports": rss_mib()}
    times: dict[str, list[float]] = {k: [] for k in (
        "load WordNet (82,115 nodes)", f"closure max_distance={CAP}, from scratch", "closure full",
        f"closure max_distance={CAP}, from cached full", "parse WordNet edges as an uploaded .tsv.gz")}
    keys = list(times)
    edges_gz = find_data_dir().joinpath(EDGES).read_bytes()
    info = capped = full = None
    for rep in range(args.reps):
        wordnet.cache_clear()
        h, t = timed(wordnet)
        times[keys[0]].append(t)
        rss.setdefault("after load", rss_mib())
        capped, t = timed(lambda: h.closure(CAP))
        times[keys[1]].append(t)
        wordnet.cache_clear()  # a second fresh hierarchy: full closure first, then the capped one
        h, t = timed(wordnet)
        times[keys[0]].append(t)
        full, t = timed(lambda: h.closure())
        times[keys[2]].append(t)
        rss.setdefault("after closures", rss_mib())
        derived, t = timed(lambda: h.closure(CAP))
        times[keys[3]].append(t)
        assert np.array_equal(derived.doc, capped.doc)
        up, t = timed(lambda: parse_upload(edges_gz, "wordnet_edges.tsv.gz"))
        times[keys[4]].append(t)
        info = h.info()
        print(f"rep {rep + 1}/{args.reps}: " + ", ".join(f"{times[k][-1]:.3f}" for k in keys), flush=True)
    rss["end"] = rss_mib()

    del h, up, capped, full, derived
    wordnet.cache_clear()
    tracemalloc.start()
    h = wordnet()
    h.closure()
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    closure_mib = sum(getattr(h.closure(), f).nbytes for f in ("ptr", "query", "doc", "distance")) / 2**20

    nproc = os.cpu_count()
    lines = [
        "# Hierarchy benchmark (WordNet nouns)",
        "",
        f"`.venv/bin/python bench/hierarchy.py --reps {args.reps}` on {platform.machine()}, nproc = {nproc}, "
        f"Python {platform.python_version()}, numpy {np.__version__}, {time.strftime('%Y-%m-%d')}.",
        f"WordNet: {info['nodes']:,} nodes, {info['edges']:,} edges, max depth {info['max_depth']}, "
        f"{info['closure_pairs']:,} ancestor pairs (self excluded); "
        f"{h.closure(CAP).n_ancestor_pairs:,} within distance {CAP}.",
        "",
        "| operation | median ms | min ms | max ms |",
        "|---|---:|---:|---:|",
    ]
    for k, v in times.items():
        lines.append(f"| {k} | {1e3 * statistics.median(v):.1f} | {1e3 * min(v):.1f} | {1e3 * max(v):.1f} |")
    lines += [
        "",
        "| memory | MiB |",
        "|---|---:|",
    ]
    for k, v in rss.items():
        lines.append(f"| peak RSS {k} | {v:.0f} |")
    lines += [
        f"| tracemalloc peak during load + full closure | {traced_peak / 2**20:.0f} |",
        f"| full closure arrays (ptr, query, doc, distance) | {closure_mib:.1f} |",
        "",
        "Targets: closure under 3 s, peak memory under 1 GB.",
        "",
    ]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines))
    print("\n".join(lines))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
