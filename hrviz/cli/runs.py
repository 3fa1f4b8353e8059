"""CLI commands on stored runs: ``eval``, ``runs`` and ``export`` (``train`` makes them:
:mod:`hrviz.cli.train`)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from ..errors import InputError
from ..experiment import evaluate_run, export_projector, load_run_model
from ..pairs import split_pairs
from ..sources import load_source
from ..store import Store
from ..training.device import resolve_device, sampled_evaluation
from ..write_errors import writing
from .options import add_db
from .output import print_recall, result_json


def register(sub) -> None:
    p = sub.add_parser("eval", help="evaluate a stored run exactly, on the pairs its final numbers count (held-out ones in generalisation mode)")
    p.add_argument("run_id", type=int)
    p.add_argument("--k", default="auto", help="auto (k = |S(q)|) or an integer")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                   help="where the evaluation runs: auto (CUDA when present), cpu, cuda")
    p.add_argument("--sample-queries", type=int, default=None,
                   help="sampled evaluation: this many seeded queries ranked against all documents, "
                        "recall with a 95%% bootstrap interval (labelled sampled)")
    add_db(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("runs", help="list the runs in the store")
    add_db(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_runs)

    p = sub.add_parser("export", help="export a run: tables (parquet/csv) or projector TSVs")
    p.add_argument("run_id", type=int)
    add_db(p)
    p.add_argument("--format", choices=["projector", "parquet", "csv"], required=True)
    p.add_argument("--out", required=True, help="output folder")
    p.set_defaults(func=cmd_export)


def cmd_eval(args) -> int:
    k = args.k
    if k != "auto":
        try:
            k = int(k)
        except ValueError:
            k = 0
        if k < 1:
            raise InputError(f"--k must be auto or an integer >= 1, got {args.k!r}", hint="e.g. --k auto or --k 10")

    t0 = time.perf_counter()
    if args.sample_queries is not None:
        return _eval_sampled(args, k, resolve_device(args.device), t0)
    with Store(args.db, read_only=True) as store:
        ev, run = evaluate_run(store, args.run_id, k=k, device=resolve_device(args.device))
    res = result_json(run, ev.summary(), time.perf_counter() - t0)
    print(json.dumps(res)) if args.json else print_recall(res)
    return 0


def _eval_sampled(args, k, device: str, t0: float) -> int:
    """``eval --sample-queries N``: recall of a seeded query sample, labelled "sampled"."""


    if args.sample_queries < 1:
        raise InputError(f"--sample-queries must be at least 1, got {args.sample_queries}")
    with Store(args.db, read_only=True) as store:
        model, run = load_run_model(store, args.run_id)
    h = load_source(run["source"])
    model.check_hierarchy(h.hash, where=f"run {args.run_id}")
    params = run.get("params") or {}
    closure = split_pairs(h, params.get("max_distance")).train.closure
    out = sampled_evaluation(model.query_vectors(), model.doc_vectors(), closure, queries=args.sample_queries,
                             seed=int(params.get("seed", 0)), device=device, k=k)
    res = {"run_id": int(run["run_id"]), "recipe": run["recipe"], "dim": int(run["dim"]), **out,
           "seconds": time.perf_counter() - t0, "device": device}
    if args.json:
        print(json.dumps(res))
    else:
        lo, hi = out["ci95"]["overall"]
        print(f"run {res['run_id']}  {out['metric']}  SAMPLED evaluation of {out['queries']:,} queries")
        print(f"  overall {out['overall']:.3f} (95% CI {lo:.3f}-{hi:.3f})  min {out['min']:.3f}")
    return 0


def cmd_runs(args) -> int:
    if not Path(args.db).exists():
        rows = []
    else:
        with Store(args.db, read_only=True) as store:
            df = store.runs()
        df["params"] = [json.dumps(p, sort_keys=True) for p in df["params"]]  # --json: params as stored (JSON text)
        rows = json.loads(df.to_json(orient="records", date_format="iso"))
    if args.json:
        print(json.dumps(rows))
        return 0
    if not rows:
        print(f"no runs in {args.db}")
        return 0
    print(f"{'id':>4}  {'status':11} {'recipe':18} {'dim':>4}  {'overall':>7} {'min':>6}  source")
    for r in rows:
        ov = f"{r['overall']:.3f}" if r.get("overall") is not None else "-"
        mn = f"{r['min']:.3f}" if r.get("min") is not None else "-"
        print(f"{r['run_id']:>4}  {r['status']:11} {r['recipe']:18} {r['dim']:>4}  {ov:>7} {mn:>6}  {r['source']}")
    return 0


def cmd_export(args) -> int:
    with Store(args.db, read_only=True) as store, writing(args.out, "the export"):
        if args.format == "projector":
            paths = export_projector(store, args.run_id, args.out)
        else:
            paths = store.export(args.run_id, args.out, fmt=args.format)
    for p in paths:
        print(p)
    return 0
