"""Stored runs of the Poincaré model: train, evaluate, save, all written to the results store.

The Poincaré twin of :func:`hrviz.experiment.run_training`: the same run row (recipe
``standard``, or ``pretrain-finetune`` with a finetune stage; ``params["model"] ==
"poincare"`` records the model kind), the same final stage (recall by distance on all pairs,
summary with mean rank and MAP, model file ``models/run-ID.safetensors``, top-10 lists of a
seeded query sample), all computed on the lifted d + 2 features (:mod:`.poincare`), so
``hrviz eval``, Results and the query inspector read a Poincaré run like any other.
Metrics are logged per epoch (``step`` = epoch).
"""

from __future__ import annotations

import threading
import time
from typing import Callable

from ..hierarchy import Hierarchy
from .poincare import PoincareConfig, fit_poincare


def create_poincare_run(source: str, cfg: PoincareConfig, store, h: Hierarchy, *, name: str | None = None) -> int:
    """The run row of a Poincaré run (status running); returns its id."""
    recipe = "pretrain-finetune" if cfg.finetune_epochs else "standard"
    return store.create_run(source=source, hierarchy_hash=h.hash, recipe=recipe, dim=cfg.dim,
                            seed=cfg.seed, params=cfg.params(), name=name)


def run_poincare_training(source: str, cfg: PoincareConfig, store, *, hierarchy: Hierarchy | None = None,
                          stop: threading.Event | None = None, name: str | None = None,
                          progress: Callable[[dict], None] | None = None, run_id: int | None = None) -> int:
    """Train a Poincaré model, evaluate it, save it; returns the run id (errors mark it failed).

    ``run_id``: a row made by :func:`create_poincare_run` (the background launch), else a new one.
    ``stop`` (a ``threading.Event``) ends training at the next epoch; the run is then evaluated
    and marked ``stopped``. Besides the loss, each epoch logs ``progress`` (0..1 of all epochs)
    and ``eta_seconds``, which the Train page's live view reads.
    """
    from ..evaluate import evaluate
    from ..experiment import _log_retrievals, failures_recorded, models_dir
    from ..sources import load_source

    h = hierarchy or load_source(source)
    if run_id is None:
        run_id = create_poincare_run(source, cfg, store, h, name=name)
    total = max(1, cfg.burn_in + cfg.epochs + cfg.finetune_epochs)
    t0 = time.perf_counter()
    with failures_recorded(store, run_id, t0):
        def on_event(e: dict) -> None:
            if e["kind"] == "loss":
                done = min(1.0, e["epoch"] / total)
                eta = e["seconds"] / e["epoch"] * (total - e["epoch"]) if e["epoch"] else 0.0
                store.log_metrics(run_id, e["stage"], e["epoch"],
                                  {"loss": e["loss"], "progress": done, "eta_seconds": max(0.0, eta)})
            elif e["kind"] == "stage":
                store.log_metrics(run_id, e["stage"], 0, {"lr": e["lr"]})
            if progress:
                progress(e)

        result = fit_poincare(h, cfg, callback=on_event, stop=stop)
        q, d = result.model.query_vectors(), result.model.doc_vectors()
        closure = h.closure(cfg.max_distance)
        ev = evaluate(q, d, closure)
        last = max([e.get("epoch", 0) for e in result.history] + [0])
        store.log_recall(run_id, "final", last, "all", "auto", ev.hits, ev.pairs)
        path = models_dir(store) / f"run-{run_id}.safetensors"
        result.model.save(path, hierarchy_hash=h.hash, source=source, params={**cfg.params(), "run_id": run_id})
        store.set_model_path(run_id, str(path))
        _log_retrievals(store, run_id, h, closure, q, d, cfg.seed)
        summary = {**ev.summary(), "train_seconds": result.seconds, "best_epoch": result.best_epoch,
                   "model": "poincare"}
        store.finish_run(run_id, status="stopped" if result.stopped else "finished", summary=summary,
                         seconds=time.perf_counter() - t0)
    return run_id


def launch_poincare(source: str, cfg: PoincareConfig, store, h: Hierarchy, *,
                    stop: threading.Event | None = None, name: str | None = None) -> tuple[int, threading.Thread]:
    """:func:`hrviz.experiment.launch` for a :class:`PoincareConfig`: the run row now, training in
    a daemon thread that honours ``stop``; returns (run_id, thread)."""
    from ..experiment import in_background

    run_id = create_poincare_run(source, cfg, store, h, name=name)
    return run_id, in_background(run_id, "poincare", lambda: run_poincare_training(
        source, cfg, store, hierarchy=h, stop=stop, run_id=run_id))


def cmd_train_poincare(args) -> int:
    """``python -m hrviz train SOURCE --model poincare --dim D [--epochs E] [--json]``.

    Shares the dual encoder's flags where they mean the same: ``--seed``, ``--max-distance``,
    ``--lr``, ``--batch-size``, ``--finetune-lr-ratio``, ``--threads``; ``--recipe`` is not
    used (``--finetune-epochs E`` > 0 adds the finetune stage, recorded as pretrain-finetune).
    """
    import json
    import sys

    from ..cli.runs import _peak_rss_mb, _print_recall, _result_json
    from ..sources import load_source
    from ..store import Store

    kw = {"dim": args.dim, "seed": args.seed, "max_distance": args.max_distance, "threads": args.threads or 1}
    for flag, key in (("epochs", "epochs"), ("burn_in", "burn_in"), ("finetune_epochs", "finetune_epochs"),
                      ("lr", "lr"), ("batch_size", "batch"), ("finetune_lr_ratio", "finetune_lr_ratio")):
        if getattr(args, flag, None) is not None:
            kw[key] = getattr(args, flag)
    cfg = PoincareConfig(**kw)
    h = load_source(args.source)

    def progress(e: dict) -> None:
        if not args.json and e["kind"] == "loss" and e["epoch"] % 10 == 0:
            print(f"  [{e['stage']} epoch {e['epoch']}] loss {e['loss']:.3f}", file=sys.stderr)

    with Store(args.db) as store:
        run_id = run_poincare_training(args.source, cfg, store, hierarchy=h, name=args.name, progress=progress)
        run = store.run(run_id)
    res = _result_json(run, run["summary"], run["seconds"])
    res["model"] = "poincare"
    res["peak_rss_mb"] = _peak_rss_mb()
    print(json.dumps(res)) if args.json else _print_recall(res)
    return 0
