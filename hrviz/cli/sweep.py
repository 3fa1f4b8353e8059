"""CLI command ``sweep``: train every cell of a TOML grid into the store, resumable."""

from __future__ import annotations

import json
import sys

from ..errors import InputError
from ..store import Store
from ..sweep import finished_cells, load_spec, run_sweep
from ..training.device import resolve_device
from .options import add_db


def register(sub) -> None:
    p = sub.add_parser("sweep", help="train a grid of runs from a TOML spec (finished cells are skipped)")
    p.add_argument("spec", help="SPEC.toml (see hrviz.sweep for the format)")
    add_db(p)
    p.add_argument("--jobs", type=int, default=None, help="cells trained in parallel [default: the spec's, else 1]")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default=None,
                   help="where every cell trains (overrides the spec): auto, cpu, cuda")
    p.add_argument("--dry-run", action="store_true", help="list the cells and which are done, train nothing")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.set_defaults(func=cmd_sweep)


def cmd_sweep(args) -> int:
    spec = load_spec(args.spec)
    if args.device is not None:

        resolve_device(args.device)  # --device cuda without a GPU: exit 2 before any cell
        for c in spec.cells:
            c.config.device = args.device
    if args.jobs is not None and args.jobs < 1:
        raise InputError(f"--jobs must be at least 1, got {args.jobs}")
    if args.dry_run:
        with Store(args.db) as store:
            done = finished_cells(store, spec.name)
        rows = [{"cell": c.settings, "run_id": done.get(c.key)} for c in spec.cells]
        if args.json:
            print(json.dumps({"sweep": spec.name, "cells": rows}))
        else:
            for r in rows:
                print(f"{'done ' + str(r['run_id']) if r['run_id'] else 'todo':>9}  {json.dumps(r['cell'])}")
        return 0
    bar = None
    if not args.json and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=len(spec.cells), unit="cell", file=sys.stderr, desc=spec.name)

    def progress(done: int, todo: int) -> None:
        if bar is not None:
            bar.n = len(spec.cells) - todo + done
            bar.refresh()
        elif not args.json:
            print(f"  {spec.name}: {done}/{todo} cells", file=sys.stderr)

    out = run_sweep(spec, args.db, jobs=args.jobs, progress=progress)
    if bar is not None:
        bar.close()
    res = {"sweep": spec.name, "cells": len(spec.cells), "trained": out["trained"],
           "skipped": out["skipped"], "failed": [{"cell": json.loads(k), "error": e} for k, e in out["failed"]]}
    if args.json:
        print(json.dumps(res))
    else:
        print(f"sweep {spec.name}: {len(out['trained'])} trained, {out['skipped']} skipped, "
              f"{len(out['failed'])} failed")
        for k, e in out["failed"]:
            print(f"  failed {k}: {e.splitlines()[0]}")
    return 1 if out["failed"] else 0
