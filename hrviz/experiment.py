"""Runs: training + final evaluation + model file, everything written to the store.

This is the one place that ties the layers together for the CLI and the app:
:func:`run_training` (blocking), :func:`launch` (background thread), :func:`evaluate_run`
(re-evaluate a stored run) and :func:`export_projector` (TensorBoard projector TSVs). The
runs a first start trains for Home are :mod:`hrviz.story`'s.

What a run writes (see ``hrviz/store/schema.py`` for the schema):
- metrics ``loss``, ``progress`` (0..1), ``eta_seconds`` per stage and step; ``lr`` and
  ``temperature`` at each stage start; ``best_step`` when a checkpoint is selected;
- recall rows, split ``val``, k ``auto``, during training (a seeded sample of queries);
- at the end, stage ``final``: recall on all evaluation pairs (split ``all``, or
  ``heldout`` in generalisation mode), the summary (overall, min, mean rank, MAP) on
  the run, the model file (``models/run-ID.safetensors`` beside the DB), and the top-10
  lists of a seeded sample of queries in ``retrievals``.
A crash marks the run ``failed`` with the error; a stop marks it ``stopped`` after
evaluating the model it has.
"""

from __future__ import annotations

import threading
import time
import traceback
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from .errors import InputError
from .hierarchy import Hierarchy
from .store import Store
from .training import TrainConfig, fit

DEMO_SOURCE = "tree:H=4,W=5"  # the paper's synthetic tree: a new session's hierarchy
DEMO_RECIPES = ("standard", "pretrain-finetune")


def models_dir(store: Store) -> Path:
    base = Path(store.path).parent if str(store.path) != ":memory:" else Path("results")
    return base / "models"


def _final_eval(h: Hierarchy, cfg: TrainConfig, q: np.ndarray, d: np.ndarray, *, k: str | int = "auto"):
    """(Evaluation, split name, closure) of a run's vectors, as the stored final numbers count them.

    In generalisation mode only the held-out pairs are counted (split "heldout"); every other
    mode counts all pairs. The final evaluation and ``hrviz eval`` both go through here.
    """
    from .evaluate import evaluate
    from .pairs import split_pairs

    split = split_pairs(h, cfg.max_distance, mode=cfg.mode, holdout=cfg.holdout, seed=cfg.seed,
                        queries=getattr(cfg, "queries", None) or "all")
    mask = split.eval_mask()
    from .training.device import evaluate_on_device, resolve_device

    qs = split.query_nodes  # None: every node is a query
    if resolve_device(getattr(cfg, "device", "cpu")) == "cuda":  # chunked Q @ D.T + topk on the GPU
        ev = evaluate_on_device(q, d, split.train.closure, device="cuda", k=k, queries=qs, pair_mask=mask)
    else:
        ev = evaluate(q, d, split.train.closure, k=k, queries=qs, pair_mask=mask)
    return ev, ("heldout" if mask is not None else "all"), split.train.closure


def _log_retrievals(store: Store, run_id: int, h: Hierarchy, closure, q, d, seed: int, n: int = 50) -> None:
    from .evaluate import query_report

    rng = np.random.default_rng(seed)
    frames = []
    for query in np.sort(rng.choice(h.n, size=min(n, h.n), replace=False)):
        top, _ = query_report(q, d, closure, int(query), k=10)
        top.insert(0, "query", int(query))
        frames.append(top)
    store.log_retrievals(run_id, "final", pd.concat(frames, ignore_index=True))


def run_training(source: str, cfg: TrainConfig, store: Store, *, hierarchy: Hierarchy | None = None,
                 stop: threading.Event | None = None, run_id: int | None = None, name: str | None = None,
                 progress: Callable[[dict], None] | None = None, tags: dict | None = None) -> int:
    """Train, evaluate, save; returns the run id. Errors mark the run failed and are re-raised.

    ``tags`` (e.g. ``{"sweep": {"name": ..., "cell": ...}}``) are stored in the run's params
    beside the resolved configuration.
    """
    from .sources import load_source

    h = hierarchy or load_source(source)
    resolved = cfg.resolved(h)
    if run_id is None:
        run_id = store.create_run(source=source, hierarchy_hash=h.hash, recipe=resolved.recipe,
                                  dim=resolved.dim, seed=resolved.seed, params={**asdict(resolved), **(tags or {})},
                                  name=name)
    t0 = time.perf_counter()
    with failures_recorded(store, run_id, t0):
        with store.buffered() as log:  # one connect per ~0.5 s of logging; flushed also on error
            result = fit(h, resolved, callback=event_logger(log, run_id, progress), stop=stop)
        q, d = result.model.query_vectors(), result.model.doc_vectors()
        ev, split, closure = _final_eval(h, resolved, q, d)
        last = max([e["step"] for e in result.history] + [0])
        store.log_recall(run_id, "final", last, split, "auto", ev.hits, ev.pairs)
        path = models_dir(store) / f"run-{run_id}.safetensors"
        result.model.save(path, hierarchy_hash=h.hash, source=source, params={**asdict(resolved), "run_id": run_id})
        store.set_model_path(run_id, str(path))
        _log_retrievals(store, run_id, h, closure, q, d, resolved.seed)
        summary = {**ev.summary(), "train_seconds": result.seconds, "best_step": result.best_step}
        store.finish_run(run_id, status="stopped" if result.stopped else "finished", summary=summary,
                         seconds=time.perf_counter() - t0)
    return run_id


def event_logger(log, run_id: int, progress: Callable[[dict], None] | None = None) -> Callable[[dict], None]:
    """A ``fit`` callback that writes its events to the store through ``log`` (a Store, or its
    :meth:`~hrviz.store.Store.buffered` log): ``loss`` (with ``progress`` and ``eta_seconds``),
    validation ``recall``, a ``stage``'s lr and temperature, a ``checkpoint``'s step; then
    hands each event to ``progress``. Shared by table and text-tower runs."""
    def on_event(e: dict) -> None:
        kind = e["kind"]
        if kind == "loss":
            log.log_metrics(run_id, e["stage"], e["step"], {
                "loss": e["loss"], "progress": e["progress"], "eta_seconds": e["eta_seconds"]})
        elif kind == "recall":
            log.log_recall(run_id, e["stage"], e["step"], e["split"], e["k"], e["hits"], e["pairs"])
        elif kind == "stage":
            log.log_metrics(run_id, e["stage"], e["step"], {"lr": e["lr"], "temperature": e["temperature"]})
        elif kind == "checkpoint":
            log.log_metrics(run_id, e["stage"], e["step"], {"best_step": e["step"]})
        if progress:
            progress(e)
    return on_event


@contextmanager
def failures_recorded(store: Store, run_id: int, t0: float):
    """Any exception inside marks run ``run_id`` failed (:func:`record_failure`) and goes on."""
    try:
        yield
    except BaseException as e:  # noqa: BLE001 - every failure must leave a marked run
        record_failure(store, run_id, e, t0)
        raise


def in_background(run_id: int, kind: str, work: Callable[[], object]) -> threading.Thread:
    """Start ``work`` in a daemon thread ``hrviz-KIND-run-ID``; its errors are not raised there:
    the run functions record them in the store."""
    def guarded():
        try:
            work()
        except BaseException:  # noqa: BLE001 - already recorded as failed in the store
            pass

    t = threading.Thread(target=guarded, name=f"hrviz-{kind}-run-{run_id}", daemon=True)
    t.start()
    return t


def record_failure(store: Store, run_id: int, err: BaseException, t0: float) -> None:
    """Mark run ``run_id`` failed: a user error's message, else the exception and a short trace."""
    msg = str(err) if isinstance(err, InputError) else f"{type(err).__name__}: {err}\n{traceback.format_exc(limit=3)}"
    store.finish_run(run_id, status="failed", error=msg, seconds=time.perf_counter() - t0)


def launch(source: str, cfg: TrainConfig, store: Store, *, hierarchy: Hierarchy | None = None,
           stop: threading.Event | None = None, name: str | None = None) -> tuple[int, threading.Thread]:
    """Create the run row now, train in a daemon thread; returns (run_id, thread).

    A :class:`~hrviz.encoders.poincare.PoincareConfig` trains a Poincaré model instead
    (:func:`~hrviz.encoders.poincare_run.launch_poincare`), a
    :class:`~hrviz.encoders.text_run.TextRunConfig` a text tower or a zero-shot evaluation
    (:func:`~hrviz.encoders.text_run.launch_text`)."""
    from .encoders.poincare import PoincareConfig
    from .sources import load_source

    h = hierarchy or load_source(source)
    if isinstance(cfg, PoincareConfig):
        from .encoders.poincare_run import launch_poincare

        return launch_poincare(source, cfg, store, h, stop=stop, name=name)
    from .encoders.text_run import TextRunConfig, launch_text

    if isinstance(cfg, TextRunConfig):
        return launch_text(source, cfg, store, h, stop=stop, name=name)
    resolved = cfg.resolved(h)
    run_id = store.create_run(source=source, hierarchy_hash=h.hash, recipe=resolved.recipe, dim=resolved.dim,
                              seed=resolved.seed, params=asdict(resolved), name=name)
    return run_id, in_background(run_id, "table", lambda: run_training(
        source, resolved, store, hierarchy=h, stop=stop, run_id=run_id))


def load_run_model(store: Store, run_id: int):
    """The model of a stored run (refuses a missing file with a clear message)."""
    from .encoders.poincare import PoincareModel, is_poincare_file
    from .model import DualEncoder

    run = store.run(run_id)
    path = run.get("model_path")
    if not path or not Path(path).exists():
        raise InputError(f"run {run_id} has no model file", hint="it may have failed before saving; train it again")
    return (PoincareModel.load(path) if is_poincare_file(path) else DualEncoder.load(path)), run


def evaluate_run(store: Store, run_id: int, *, k: str | int = "auto", hierarchy: Hierarchy | None = None,
                 device: str | None = None):
    """Re-evaluate a stored run exactly, counting the pairs its final evaluation counted (the
    held-out pairs in generalisation mode, the held-out leaves' queries of a text tower trained
    with ``holdout_nodes``); returns (Evaluation, run dict)."""
    from dataclasses import fields

    from .sources import load_source

    model, run = load_run_model(store, run_id)
    h = hierarchy or load_source(run["source"])
    model.check_hierarchy(h.hash, where=f"run {run_id}")
    params = run.get("params") or {}
    if params.get("model") == "text" and params.get("holdout_nodes"):  # a tower's held-out leaves
        from .encoders.text_train import holdout_leaves
        from .evaluate import evaluate

        held = holdout_leaves(h, float(params["holdout_nodes"]), int(params.get("seed", 0)))
        ev = evaluate(model.query_vectors(), model.doc_vectors(), h.closure(params.get("max_distance")),
                      k=k, queries=held)
        return ev, run
    known = {f.name for f in fields(TrainConfig)}
    cfg = TrainConfig(**{k2: v for k2, v in (run.get("params") or {}).items() if k2 in known})
    cfg.device = device or "cpu"  # where this evaluation runs, not where the run trained
    ev, _, _ = _final_eval(h, cfg, model.query_vectors(), model.doc_vectors(), k=k)
    return ev, run


def export_projector(store: Store, run_id: int, out_dir: str | Path, *, hierarchy: Hierarchy | None = None) -> list[Path]:
    """TensorBoard projector files: vectors.tsv (query then document vectors) and metadata.tsv."""
    from .sources import load_source

    model, run = load_run_model(store, run_id)
    h = hierarchy or load_source(run["source"])
    model.check_hierarchy(h.hash, where=f"run {run_id}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    vec = np.vstack([model.query_vectors(), model.doc_vectors()])
    vpath, mpath = out / f"run{run_id}_vectors.tsv", out / f"run{run_id}_metadata.tsv"
    np.savetxt(vpath, vec, delimiter="\t", fmt="%.6g")
    clean = lambda s: str(s).replace("\t", " ").replace("\n", " ")  # noqa: E731
    with open(mpath, "w", encoding="utf-8") as f:
        f.write("name\tlabel\tside\tdepth\n")
        for side in ("query", "doc"):
            for i in range(h.n):
                f.write(f"{clean(h.names[i])}\t{clean(h.label(i))}\t{side}\t{int(h.depth[i])}\n")
    return [vpath, mpath]
