"""CLI commands ``train``, ``eval``, ``runs`` and ``export``.

Every hyper-parameter of :class:`hrviz.training.TrainConfig` is a flag (``--batch-size``,
``--finetune-lr-ratio``, ...), with the same default; ``python -m hrviz train -h`` lists them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import typing
from dataclasses import MISSING, fields
from pathlib import Path

from ..errors import InputError
from ..experiment import evaluate_run, export_projector, load_run_model, run_training
from ..pairs import split_pairs
from ..sources import load_source
from ..store import Store
from ..training import RECIPES, TrainConfig, apply_threads, fit
from ..models.poincare_fit import PoincareConfig
from ..training.config import DEFAULT_DIM
from ..training.device import resolve_device, sampled_evaluation
from ..write_errors import writing
from .options import add_db
from .output import peak_rss_mb, print_recall, result_json
from .poincare import cmd_train_poincare
from .text import add_train_args, cmd_train_text

_SKIP = {"dim", "recipe", "seed", "max_distance"}


def _config_args(p: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig field, with the field's own help text and choices."""
    hints = typing.get_type_hints(TrainConfig)
    g = p.add_argument_group("hyper-parameters")
    for f in fields(TrainConfig):
        if f.name in _SKIP:
            continue
        flag = "--" + f.name.replace("_", "-")
        default = f.default if f.default is not MISSING else None
        kind = hints[f.name]
        text = TrainConfig.help(f.name)
        if kind is bool or bool in typing.get_args(kind):  # bool | None: None means the regime's
            g.add_argument(flag, action=argparse.BooleanOptionalAction, default=default, help=text)
            continue
        base = next((t for t in typing.get_args(kind) if t is not type(None)), kind)
        choices = TrainConfig.choices(f.name)
        shown = "" if default is None else f" [default: {default}]"
        const = TrainConfig.const(f.name)
        if const is not None:  # the bare flag means `const`: --logq is --logq 1
            g.add_argument(flag, type=base, default=default, nargs="?", const=const, help=f"{text}{shown}")
            continue
        g.add_argument(flag, type=base, default=default, choices=choices, help=f"{text}{shown}")


def register(sub) -> None:
    p = sub.add_parser("train", help="train a dual encoder and store the run")
    p.add_argument("source", help="tree:H=4,W=5 | dag:... | wordnet | wordnet:SYNSET | FILE")
    p.add_argument("--dim", type=int, default=None,
                   help="embedding dimension d [default: 64 for lookup tables and text towers, "
                        "10 for --model poincare]")
    p.add_argument("--recipe", choices=list(RECIPES), default="pretrain-finetune",
                   help=TrainConfig.help("recipe"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-distance", type=int, default=None, help="cap on ancestor distance")
    p.add_argument("--name", default=None, help="a free-text name for the run")
    add_db(p)
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.add_argument("--model", choices=["dual-encoder", "poincare"], default="dual-encoder",
                   help="model kind: lookup-table dual encoder, or Poincaré ball (hrviz/models/poincare.py)")
    pg = p.add_argument_group("poincare (with --model poincare)")
    pg.add_argument("--epochs", type=int, default=None, help="regular epochs after burn-in [default: 50]")
    pg.add_argument("--burn-in", type=int, default=None, help="burn-in epochs at lr x 1/10 [default: 10]")
    pg.add_argument("--finetune-epochs", type=int, default=None,
                    help="epochs of the long-distance finetune stage, 0 = off [default: 0]")

    add_train_args(p)  # --encoder NAME [--holdout-nodes F]: a text tower (hrviz/cli/text.py)
    _config_args(p)
    p.set_defaults(func=cmd_train)

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


def default_dim(model: str) -> int:
    """``--dim`` when none is given: 10 for a Poincaré ball (Nickel & Kiela's), else
    :data:`hrviz.training.config.DEFAULT_DIM` (64: lookup tables and text towers)."""
    return PoincareConfig.dim if model == "poincare" else DEFAULT_DIM


def cmd_train(args) -> int:
    if args.dim is None:
        args.dim = default_dim(getattr(args, "model", "dual-encoder"))
    if getattr(args, "encoder", "lookup") not in (None, "", "lookup"):
        return cmd_train_text(args)
    if getattr(args, "holdout_nodes", None) is not None:
        raise InputError("--holdout-nodes holds out whole nodes of a text tower", hint="add --encoder NAME")
    if getattr(args, "model", "dual-encoder") == "poincare":

        return cmd_train_poincare(args)

    cfg_kwargs = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if hasattr(args, f.name)}
    cfg = TrainConfig(**cfg_kwargs)
    h = load_source(args.source)
    resolved = cfg.resolved(h)
    apply_threads(resolved)
    bar = None
    if not args.json and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=resolved.total_steps(), unit="step", file=sys.stderr)

    def progress(e: dict) -> None:
        if bar is not None and e["kind"] == "loss":
            bar.n = e["step"]
            bar.set_postfix(stage=e["stage"], loss=f"{e['loss']:.3f}")
            bar.refresh()
        elif not args.json and e["kind"] == "recall" and bar is None:
            print(f"  [{e['stage']} step {e['step']}] val overall {e['overall']:.3f} min {e['min']:.3f}", file=sys.stderr)

    if resolved.distributed:
        from ..training import distributed

        rank, _ = distributed.init(resolved.device)
        if rank != 0:  # only rank 0 writes to the store; the others train in lockstep
            fit(h, resolved)
            distributed.finish()
            return 0
    with Store(args.db) as store:
        run_id = run_training(args.source, resolved, store, hierarchy=h, name=args.name, progress=progress)
        if bar is not None:
            bar.close()
        run = store.run(run_id)
    res = result_json(run, run["summary"], run["seconds"])
    res["peak_rss_mb"] = peak_rss_mb()
    res["device"] = resolved.device
    if resolved.distributed:
        from ..training import distributed

        res["world_size"] = distributed.dist.get_world_size()
        distributed.finish()
    print(json.dumps(res)) if args.json else print_recall(res)
    return 0


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
