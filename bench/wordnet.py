"""WordNet nouns at full scale: the paper's table, throughput against the machine's GEMM rate.

    .venv/bin/python bench/wordnet.py [--settings 64:standard,64:pretrain-finetune,...] [-- --steps N]
    .venv/bin/python bench/wordnet.py --speed-only [--quick] [--against REV --reps R --speed-steps N]

1. Measures this machine's float32 GEMM rate (torch, same process) and the training step's
   throughput (pairs/s and effective GFLOP/s of its three matrix products), and quotes the ratio.
2. Runs each setting through the CLI contract (``python -m hrviz train wordnet --max-distance 8
   --dim D --recipe R --json``, one subprocess each, so wall time and peak memory are the whole
   run's: training plus exact evaluation of all 82,115 queries).
3. Writes ``bench/results/wordnet.md`` (the paper's table layout beside the paper's rows, wall
   time, peak memory, MAP and mean rank) and ``bench/results/wordnet.png``.
Extra ``train`` flags can follow ``--`` (e.g. ``-- --steps 2000``) to trade quality for time.
``--speed-only`` writes only step 1 (``bench/results/wordnet_speed.md``); ``--against REV`` adds
the step of hrviz at git revision REV, imported beside this checkout in the same process and
timed on the same batches, interleaved, so a change to the step is measured against what it
replaced.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from hrviz import paper

ROOT = Path(__file__).resolve().parents[1]

OUT = ROOT / "bench/results"


def gemm_rate(m=2048, n=8192, k=64, reps=20) -> float:
    """GFLOP/s of torch float32 (m x k) @ (k x n): the training step's shape."""
    import torch

    a, b = torch.randn(m, k), torch.randn(k, n)
    for _ in range(3):
        a @ b
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * m * n * k * reps / (time.perf_counter() - t) / 1e9


def _wordnet_step_setup():
    """WordNet, its closure and its pairs at distance <= 8: the timed step's data."""
    from hrviz.pairs import all_pairs
    from hrviz.sources import load_source

    h = load_source("wordnet")
    return h, h.closure(8), all_pairs(h, 8)


def step_throughput(dim=64, batch=2048, negatives=8192, steps=15) -> dict:
    """The training step of :func:`hrviz.training.table_step` (columns, fused masked softmax,
    lazy Adam), timed from the columns to the update (the batch's pair draw excluded)."""
    import torch

    from hrviz.models.dual_encoder import DualEncoder
    from hrviz.pairs import UniformSampler
    from hrviz.training import RowOptimizer, SoftmaxLoss, table_step

    h, c, pairs = _wordnet_step_setup()
    model = DualEncoder(h.n, dim)
    opt = RowOptimizer(model, 0.05)
    loss_fn = SoftmaxLoss(c, h.n, negatives="sampled", n_negatives=negatives)
    gen = torch.Generator().manual_seed(0)
    counting = torch.Generator().manual_seed(1)  # the candidate count, apart from the step's draws
    sampler = UniformSampler(pairs)
    pq, pd = torch.from_numpy(c.query.astype(np.int64)), torch.from_numpy(c.doc.astype(np.int64))
    times, cands = [], []
    for i in range(steps + 3):
        idx = sampler.sample(gen, batch)
        q, p = pq[idx], pd[idx]
        t = time.perf_counter()
        table_step(opt, loss_fn, q, p, 20.0, gen)
        if i >= 3:
            times.append(time.perf_counter() - t)
            cands.append(len(torch.unique(torch.cat([p, torch.randint(0, h.n, (negatives,), generator=counting)]))))
    sec = float(np.median(times))
    flops = 3 * 2 * batch * float(np.mean(cands)) * dim  # forward + two backward products
    return {"seconds_per_step": sec, "pairs_per_second": batch / sec, "gflops": flops / sec / 1e9,
            "batch": batch, "candidates": float(np.mean(cands)), "dim": dim, "threads": torch.get_num_threads()}


def package_at(rev: str):
    """hrviz as it was at git revision ``rev``, imported beside this one under another name
    (``hrviz_at_<sha>``; its imports are relative), so both steps run in one process."""
    import atexit
    import importlib
    import io
    import shutil
    import tarfile
    import tempfile

    sha = subprocess.run(["git", "rev-parse", "--short=10", rev], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.strip()
    name = f"hrviz_at_{sha}"
    if name not in sys.modules:
        tmp = Path(tempfile.mkdtemp(prefix="hrviz-at-"))
        atexit.register(shutil.rmtree, tmp, ignore_errors=True)
        data = subprocess.run(["git", "archive", sha, "hrviz"], cwd=ROOT, capture_output=True, check=True).stdout
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            tar.extractall(tmp, members=[m for m in tar.getmembers() if m.isfile() or m.isdir()])
        (tmp / "hrviz").rename(tmp / name)
        sys.path.insert(0, str(tmp))
    return importlib.import_module(name), sha


def step_against(rev: str, dim=64, batch=2048, negatives=8192, steps=10, reps=5) -> dict:
    """The step of this checkout against the step of hrviz at ``rev``, in this process, on the
    same batches: ``reps`` rounds of ``steps`` batches, each batch a step of one then a step of
    the other (the order alternating: A B, B A, ...), after 3 warm-up steps each. Returns the
    per-step medians and their ratio (this / then), each round's ratio of medians, and the
    median of the per-batch ratios with a 95% bootstrap interval over batches."""
    import importlib

    import torch

    from hrviz.models.dual_encoder import DualEncoder
    from hrviz.training import RowOptimizer, SoftmaxLoss, table_step

    old, sha = package_at(rev)
    old_training = importlib.import_module(old.__name__ + ".training")
    old_models = importlib.import_module(old.__name__ + ".models.dual_encoder")
    h, c, pairs = _wordnet_step_setup()
    draw = np.random.default_rng(0)

    def batches(k):
        idx = draw.integers(0, len(pairs), size=(k, batch))
        return [(c.query[i].astype(np.int64), c.doc[i].astype(np.int64)) for i in idx]

    # then: the step of hrviz at rev (numpy columns and masks, unique rows)
    m_old = old_models.DualEncoder(h.n, dim)
    o_old = old_training.RowOptimizer(m_old, 0.05)
    l_old = old_training.SoftmaxLoss(c, h.n, negatives="sampled", n_negatives=negatives)
    rng_old = np.random.default_rng(1)

    def then(q, p):
        cand = l_old.candidates(rng_old, p)
        o_old.step(l_old, q, p, cand, 20.0)

    # now: this checkout's step
    m_new = DualEncoder(h.n, dim)
    o_new = RowOptimizer(m_new, 0.05)
    l_new = SoftmaxLoss(c, h.n, negatives="sampled", n_negatives=negatives)
    gen = torch.Generator().manual_seed(1)

    def now(q, p):
        table_step(o_new, l_new, torch.from_numpy(q), torch.from_numpy(p), 20.0, gen)

    def timed(fn, work):
        out = []
        for q, p in work:
            t = time.perf_counter()
            fn(q, p)
            out.append(time.perf_counter() - t)
        return out

    for fn in (then, now):
        timed(fn, batches(3))
    t_then, t_now, rounds = [], [], []
    for r in range(reps):
        a, b = [], []
        for i, (q, p) in enumerate(batches(steps)):  # the same batch for both, the order alternating
            first, second = ((then, a), (now, b)) if (r * steps + i) % 2 == 0 else ((now, b), (then, a))
            for fn, out in (first, second):
                out += timed(fn, [(q, p)])
        t_then += a
        t_now += b
        rounds.append(float(np.median(b) / np.median(a)))
    a, b = float(np.median(t_then)), float(np.median(t_now))
    paired = np.array(t_now) / np.array(t_then)  # each batch's two steps, taken back to back
    boot = np.random.default_rng(0).choice(paired, size=(2000, len(paired)))
    lo, hi = np.percentile(np.median(boot, axis=1), [2.5, 97.5])
    return {"rev": rev, "sha": sha, "then": a, "now": b, "ratio": b / a, "rounds": rounds, "reps": reps,
            "steps": steps, "threads": torch.get_num_threads(), "paired": float(np.median(paired)),
            "paired_ci95": [float(lo), float(hi)]}


def baseline_throughput(dim=64, batch=2048, negatives=8192, steps=8) -> dict:
    """The same step written the plain autograd way: logits * T, masked copy, cross_entropy,
    dense Adam over both tables. The baseline the fused step is quoted against."""
    import torch

    from hrviz.models.dual_encoder import DualEncoder
    from hrviz.pairs import UniformSampler
    from hrviz.training import SoftmaxLoss

    h, c, pairs = _wordnet_step_setup()
    model = DualEncoder(h.n, dim)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    loss_fn = SoftmaxLoss(c, h.n, negatives="sampled", n_negatives=negatives)
    gen = torch.Generator().manual_seed(0)
    sampler = UniformSampler(pairs)
    pq, pd = torch.from_numpy(c.query.astype(np.int64)), torch.from_numpy(c.doc.astype(np.int64))
    times = []
    for i in range(steps + 2):
        idx = sampler.sample(gen, batch)
        q, p = pq[idx], pd[idx]
        t = time.perf_counter()
        cols = loss_fn.columns(gen, q, p)
        z = (model.query(q) @ model.doc(cols.docs).T) * 20.0                    # (B, C)
        masked = z.detach().clone()
        cols.mask(masked, masked[torch.arange(batch), cols.target])
        z = z.masked_fill(torch.isneginf(masked), -torch.inf)
        loss = torch.nn.functional.cross_entropy(z, cols.target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i >= 2:
            times.append(time.perf_counter() - t)
    sec = float(np.median(times))
    return {"seconds_per_step": sec, "pairs_per_second": batch / sec}


def speed_report(quick: bool = False, against: str | None = None, steps: int = 15, reps: int = 5) -> None:
    """GEMM rate, the fused step and the autograd baseline, all in this process; ``quick``
    leaves out the baseline and the peak GEMM; ``against``: also this step against the step of
    hrviz at that git revision, interleaved in this process (:func:`step_against`)."""
    gemm = gemm_rate()
    peak = None if quick else gemm_rate(2048, 2048, 2048, reps=5)
    fast = step_throughput(steps=steps)
    base = None if quick else baseline_throughput()
    lines = [
        "# WordNet training step: throughput against GEMM and against the autograd baseline",
        "",
        f"Produced by `.venv/bin/python bench/wordnet.py --speed-only{' --quick' if quick else ''}"
        f"{f' --against {against}' if against else ''}` (one process, WordNet, distance <= 8,",
        f"d={fast['dim']}, batch {fast['batch']}, {fast['candidates']:.0f} candidates, {fast['threads']} threads).",
        "",
        "| what | value |",
        "|---|---|",
        f"| float32 GEMM at the step's shape (2048x64 @ 64x8192) | {gemm:.1f} GFLOP/s |",
        f"| hrviz step (fused masked softmax, row-sparse Adam) | {fast['seconds_per_step'] * 1000:.0f} ms, "
        f"{fast['pairs_per_second']:.0f} pairs/s, {fast['gflops']:.1f} GFLOP/s |",
        f"| step's effective rate / same-shape GEMM | {fast['gflops'] / gemm:.0%} |",
    ]
    if not quick:
        lines += [
            f"| float32 GEMM 2048^3 (practical peak) | {peak:.1f} GFLOP/s |",
            f"| autograd baseline (logits x T, masked copy, cross_entropy, dense Adam) | "
            f"{base['seconds_per_step'] * 1000:.0f} ms, {base['pairs_per_second']:.0f} pairs/s |",
            f"| speed-up over the baseline | {base['seconds_per_step'] / fast['seconds_per_step']:.1f}x |",
            f"| step's effective rate / peak GEMM | {fast['gflops'] / peak:.0%} |",
        ]
    if against:
        ab = step_against(against, reps=reps, steps=steps)
        lines += [
            "",
            f"## This step against the step at {ab['rev']} ({ab['sha']}), same process, same batches, "
            f"{ab['threads']} thread{'s' if ab['threads'] > 1 else ''}",
            "",
            f"{ab['reps']} rounds of {ab['steps']} batches, each batch one step of each (the order "
            f"alternating: A B, B A, ...); medians over all {ab['reps'] * ab['steps']} steps of each.",
            "",
            "| what | value |",
            "|---|---|",
            f"| step at {ab['sha']} | {ab['then'] * 1000:.0f} ms |",
            f"| this step | {ab['now'] * 1000:.0f} ms |",
            f"| ratio (this / then) | {ab['ratio']:.3f} |",
            f"| median of the per-batch ratios (95% bootstrap interval) | {ab['paired']:.3f} "
            f"({ab['paired_ci95'][0]:.3f} to {ab['paired_ci95'][1]:.3f}) |",
            f"| ratio per round | {', '.join(f'{r:.3f}' for r in ab['rounds'])} |",
        ]
    (OUT / "wordnet_speed.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def run_setting(dim: int, recipe: str, db: Path, extra: list[str]) -> dict:
    cmd = [sys.executable, "-m", "hrviz", "train", "wordnet", "--max-distance", "8", "--dim", str(dim),
           "--recipe", recipe, "--db", str(db), "--json", *extra]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["wall"] = wall
    res["cmd"] = " ".join(["python", *cmd[1:]]).replace(str(ROOT) + "/", "")
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--settings", default="64:pretrain-finetune,64:standard,32:pretrain-finetune,32:standard,10:pretrain-finetune")
    ap.add_argument("--db", default=str(OUT / "wordnet.duckdb"))
    ap.add_argument("--append", action="store_true",
                    help="keep the runs already in bench/results/wordnet.jsonl and add these")
    ap.add_argument("extra", nargs="*", help="extra train flags after --")
    ap.add_argument("--speed-only", action="store_true", help="only the throughput report (wordnet_speed.md)")
    ap.add_argument("--quick", action="store_true", help="with --speed-only: no autograd baseline, no peak GEMM")
    ap.add_argument("--against", metavar="REV", help="with --speed-only: also time the step of hrviz at git "
                    "revision REV in this process, interleaved with this one (e.g. --against HEAD~1)")
    ap.add_argument("--speed-steps", type=int, default=15, help="timed steps per measurement (per round with --against)")
    ap.add_argument("--reps", type=int, default=5, help="rounds of the --against comparison")
    ap.add_argument("--replot", action="store_true", help="rewrite wordnet.md/png from wordnet.jsonl, no runs")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    if args.speed_only:
        speed_report(args.quick, args.against, args.speed_steps, args.reps)
        return
    log = OUT / "wordnet.jsonl"
    keep = (args.append or args.replot) and log.exists()
    results = [json.loads(line) for line in log.read_text().splitlines() if line.strip()] if keep else []
    machine = OUT / "wordnet_machine.json"
    if args.replot:
        m = json.loads(machine.read_text())
        write(results, m["gemm"], m["peak"], m["thr"], args.extra)
        return
    if not args.append:
        log.write_text("")
    gemm = gemm_rate()
    peak = gemm_rate(2048, 2048, 2048, reps=5)
    thr = step_throughput()
    machine.write_text(json.dumps({"gemm": gemm, "peak": peak, "thr": thr}))
    print(f"GEMM {gemm:.1f} GFLOP/s; step {thr['seconds_per_step']:.3f}s, {thr['pairs_per_second']:.0f} pairs/s, "
          f"{thr['gflops']:.1f} GFLOP/s ({thr['gflops'] / gemm:.0%} of GEMM)", flush=True)
    for item in args.settings.split(","):
        d, r = item.split(":")
        res = run_setting(int(d), r, Path(args.db), args.extra)
        print(json.dumps(res), flush=True)
        with open(log, "a") as f:
            f.write(json.dumps(res) + "\n")
        results.append(res)
        write(results, gemm, peak, thr, args.extra)


def write(results: list[dict], gemm: float, peak: float, thr: dict, extra: list[str]) -> None:
    dists = [str(t) for t in range(9)]
    head = "| setting | " + " | ".join(f"d{t}" for t in dists) + " | min | overall | MAP | mean rank | wall s | peak MB |"
    lines = [
        "# WordNet nouns (82,115 synsets, distance <= 8): recall@auto by distance, in %",
        "",
        "Produced by `.venv/bin/python bench/wordnet.py` on this machine (2 cores). Exact evaluation of all",
        "82,115 queries and all 750,566 relevant pairs (self pairs included). Paper rows from",
        "You et al. 2025.",
        "",
        f"- float32 GEMM, torch, same process: **{gemm:.1f} GFLOP/s** at the step's shape (2048x64 @ 64x8192),"
        f" {peak:.1f} GFLOP/s for 2048^3 (the machine's practical peak)",
        f"- training step (batch {thr['batch']}, {thr['candidates']:.0f} candidates, d={thr['dim']}, "
        f"{thr['threads']} threads): {thr['seconds_per_step'] * 1000:.0f} ms, **{thr['pairs_per_second']:.0f} pairs/s**, "
        f"{thr['gflops']:.1f} GFLOP/s effective = **{thr['gflops'] / gemm:.0%} of the same-shape GEMM, "
        f"{thr['gflops'] / peak:.0%} of peak** (the backward products have a long inner dimension)",
        f"- extra train flags: `{' '.join(extra) or 'none (project defaults)'}`",
        "",
        head,
        "|---|" + "---|" * (len(dists) + 6),
    ]
    for res in results:
        rbd = res["recall_by_distance"]
        lines.append(f"| hrviz d={res['dim']} {res['recipe']} | " + " | ".join(f"{100 * rbd[t]:.1f}" for t in dists)
                     + f" | {100 * res['min']:.1f} | {100 * res['overall']:.1f} | {res['map']:.4f} | {res['mean_rank']:.3f}"
                     f" | {res['wall']:.0f} | {res.get('peak_rss_mb', float('nan')):.0f} |")
    for (d, r), ref in paper.WORDNET.items():
        rbd = ref["recall_by_distance"]
        lines.append(f"| paper d={d} {r} | " + " | ".join(f"{100 * rbd[int(t)]:.1f}" for t in dists)
                     + f" | {100 * ref['min']:.1f} | {100 * ref['overall']:.1f} | - | - | - | - |")
    lines += ["", "Wall time is the whole CLI run (training, exact evaluation, model file); runs go one after another",
              "on an otherwise idle machine unless a note below says otherwise.",
              "", f"Poincaré embeddings (Nickel & Kiela 2017) reconstruction MAP at d=10: {paper.POINCARE_MAP_D10}.",
              "", "Commands:", ""] + [f"- `{r['cmd']}`" for r in results]
    (OUT / "wordnet.md").write_text("\n".join(lines) + "\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for res in results:
        ax.plot(range(9), [res["recall_by_distance"][t] for t in dists], marker="o",
                label=f"hrviz d={res['dim']} {res['recipe']}")
    for (d, r), ref in paper.WORDNET.items():
        ax.plot(range(9), [ref["recall_by_distance"][t] for t in range(9)], ls="--", alpha=0.5, label=f"paper d={d} {r}")
    ax.set_xlabel("distance")
    ax.set_ylabel("recall@auto")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(OUT / "wordnet.png", dpi=120)


if __name__ == "__main__":
    main()
